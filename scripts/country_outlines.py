"""Builds resolver/data/countries-110m.json, the country outlines the maps are drawn from.

Run by hand when the source data changes (never at request time, never in tests):

    mkdir /tmp/outlines && cd /tmp/outlines && npm init -y
    npm install world-atlas@2.0.2 i18n-iso-countries@7.14.0
    .venv/bin/python scripts/country_outlines.py /tmp/outlines/node_modules \
        > resolver/data/countries-110m.json

Input: world-atlas's `countries-110m.json` (Natural Earth 1:110m Admin 0 countries, public
domain, as TopoJSON keyed by ISO 3166-1 numeric code) and i18n-iso-countries's `codes.json`
and `langs/en.json` (numeric -> alpha-2, English names). Output, one country a line:
{"code": alpha-2, "name": English name, "polygons": [[exterior, hole, ...], ...]} with each
ring a list of [lon, lat] rounded to two decimals, its closing point left out.
resolver/data/README.md records the versions and licences.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from resolver.geo import clip_ring

# Natural Earth units without an ISO numeric code, by their Natural Earth name: the
# de facto states go with the ISO country they belong to de jure; Kosovo has the
# user-assigned code that GBIF and the EU use.
CODES_BY_NAME = {"N. Cyprus": "CY", "Somaliland": "SO", "Kosovo": "XK"}
# Where neither Natural Earth's abbreviated name nor i18n-iso-countries's first name
# reads well in a tooltip.
NAMES = {"MD": "Moldova", "LA": "Laos", "SY": "Syria", "BN": "Brunei",
         "MK": "North Macedonia", "XK": "Kosovo", "FK": "Falkland Islands"}

Ring = list[list[float]]


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """TopoJSON's quantized, delta-encoded arcs as absolute [lon, lat] positions."""
    (scale_x, scale_y), (move_x, move_y) = (topology["transform"]["scale"],
                                            topology["transform"]["translate"])
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        positions = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            positions.append((x * scale_x + move_x, y * scale_y + move_y))
        arcs.append(positions)
    return arcs


def ring_of(arc_indices: list[int], arcs: list[list[tuple[float, float]]]) -> Ring:
    """One ring from its arcs (~i is arc i reversed), rounded."""
    points: list[tuple[float, float]] = []
    for index in arc_indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return rounded(points)


def rounded(points: Any) -> Ring:
    """Points rounded to two decimals (about 1 km), repeats and the closing point dropped."""
    ring: Ring = []
    for lon, lat in points:
        point = [round(float(lon), 2) + 0.0, round(float(lat), 2) + 0.0]  # + 0.0: no -0.0
        if not ring or ring[-1] != point:
            ring.append(point)
    while len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return ring


def unwrapped(ring: Ring) -> Ring:
    """The ring with longitudes made continuous (179, -179 -> 179, 181), and closed along
    the pole when it goes once around the globe (Antarctica)."""
    points = [list(ring[0])]
    for lon, lat in ring[1:]:
        previous = points[-1][0]
        points.append([lon + 360 * round((previous - lon) / 360), lat])
    if abs(points[-1][0] - points[0][0]) > 180:
        pole = 90.0 if sum(lat for _, lat in points) > 0 else -90.0
        points += [[points[-1][0], pole], [points[0][0], pole]]
    return points


def planar_pieces(ring: Ring) -> list[Ring]:
    """The ring cut at the antimeridian into pieces within -180..180, for planar tests."""
    continuous = unwrapped(ring)
    pieces = []
    for shift in (-360, 0, 360):
        shifted = [(lon + shift, lat) for lon, lat in continuous]
        piece = clip_ring(shifted, (-180, -90, 180, 90))
        if piece and len(rounded(piece)) >= 3:
            pieces.append(rounded(piece))
    return pieces


def planar_polygons(rings: list[Ring]) -> list[list[Ring]]:
    """A polygon whose exterior crosses the antimeridian becomes one polygon per side;
    each hole goes with the piece whose box holds it (110m holes never cross)."""
    exteriors = planar_pieces(rings[0])
    holes = [piece for hole in rings[1:] for piece in planar_pieces(hole)]
    polygons: list[list[Ring]] = [[exterior] for exterior in exteriors]
    for hole in holes:
        lon, lat = hole[0]
        owner = next(polygon for polygon in polygons
                     if min(x for x, _ in polygon[0]) <= lon <= max(x for x, _ in polygon[0]))
        owner.append(hole)
    return polygons


def polygons_of(geometry: dict[str, Any], arcs: list[list[tuple[float, float]]]
                ) -> list[list[Ring]]:
    shapes = ([geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"])
    polygons = []
    for shape in shapes:
        # A ring rounded down to fewer than three points encloses nothing.
        rings = [ring for ring in (ring_of(arc_indices, arcs) for arc_indices in shape)
                 if len(ring) >= 3]
        if rings:
            polygons.extend(planar_polygons(rings))
    return polygons


def english_name(code: str, natural_earth_name: str, names: dict[str, Any]) -> str:
    if code in NAMES:
        return NAMES[code]
    given = names.get(code, natural_earth_name)
    aliases = [given] if isinstance(given, str) else given
    return natural_earth_name if natural_earth_name in aliases else aliases[0]


def countries(package_dir: Path) -> list[dict[str, Any]]:
    topology = json.loads((package_dir / "world-atlas/countries-110m.json").read_text())
    iso = package_dir / "i18n-iso-countries"
    alpha2 = {numeric: code for code, _, numeric, _ in
              json.loads((iso / "codes.json").read_text())}
    names = json.loads((iso / "langs/en.json").read_text())["countries"]
    arcs = decode_arcs(topology)
    merged: dict[str, dict[str, Any]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        code = alpha2.get(geometry.get("id")) or CODES_BY_NAME[name]
        entry = merged.setdefault(code, {"code": code, "name": english_name(code, name, names),
                                         "polygons": []})
        entry["polygons"].extend(polygons_of(geometry, arcs))
    return sorted(merged.values(), key=lambda entry: entry["code"])


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} NODE_MODULES_DIR > resolver/data/countries-110m.json")
    entries = countries(Path(argv[1]))
    # One country a line: small, and a diff shows which countries changed.
    lines = [json.dumps(entry, ensure_ascii=False, separators=(",", ":")) for entry in entries]
    sys.stdout.write('{"countries":[\n' + ",\n".join(lines) + "\n]}\n")


if __name__ == "__main__":
    main(sys.argv)
