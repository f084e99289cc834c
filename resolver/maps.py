"""Maps drawn as inline SVG from the shipped country outlines (resolver/geo.py): the world
with collection points and countries shaded by count, and a small map of one place.

Pure functions, no Flask and nothing fetched: each returns markupsafe.Markup (an <svg>
element to put in a page as it is) with every caller's text escaped. The projection is
equirectangular: x grows with longitude, y with distance from the North Pole.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from markupsafe import Markup

from resolver import geo
from resolver.svg import count_text, linked, number, path_data, svg_element, tooltip

WORLD_SCALE = 2.0  # viewBox units per degree: the world is 720 x 360
PLACE_SCALE = 10.0
POLE_MARGIN = 1.5  # degrees a place map may show beyond a pole
CLASSES = 5  # shades of the choropleth
MAX_DOTS = 800  # more occupied cells than this, and the cells grow: the SVG stays small


@dataclass(frozen=True)
class Frame:
    """Which part of the plane a drawing shows, and at what scale."""

    west: float
    north: float
    width: float  # degrees
    height: float
    scale: float  # viewBox units per degree

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.west) * self.scale, (self.north - lat) * self.scale

    def box(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        return (self.west - margin, self.north - self.height - margin,
                self.west + self.width + margin, self.north + margin)


WORLD = Frame(-180.0, 90.0, 360.0, 180.0, WORLD_SCALE)


def _country_path(country: geo.Country, frame: Frame, digits: int) -> str:
    return path_data(([frame.project(x, y) for x, y in ring]
                      for polygon in country.polygons
                      for ring in (polygon.exterior, *polygon.holes)), digits)


@cache
def _world_paths() -> dict[str, str]:
    """Path data of each country on the world frame, computed once: to half a degree,
    which is what 720 units show."""
    return {country.code: _country_path(country, WORLD, 0) for country in geo.countries()}


def shade_lows(largest: int) -> list[int]:
    """The smallest count of each shade c1..c5: steps of equal ratio up to `largest`
    (counts span orders of magnitude), each a hair lower so 100,000 ** 0.2 stays 10."""
    return [1] + [math.ceil(largest ** (level / CLASSES) - 1e-9) for level in range(1, CLASSES)]


def shade_class(count: int, largest: int) -> str:
    """The shade of a count: the highest whose smallest count it reaches; none for 0."""
    if count <= 0:
        return ""
    level = max(level for level, low in enumerate(shade_lows(largest), 1) if count >= low)
    return f"c{level}"


def _countries_layer(counts: Mapping[str, int],
                     country_link: Callable[[str], str | None] | None) -> str:
    largest = max(counts.values(), default=0)
    shapes = []
    for code, path in _world_paths().items():
        count = counts.get(code, 0)
        name = geo.country_names()[code]
        label = f"{name}: {count_text(count)}" if counts else name
        shape = (f'<path class="land {shade_class(count, largest)}" d="{path}">'
                 f"{tooltip(label)}</path>")
        shapes.append(linked(country_link(code) if count and country_link else None, shape))
    return "".join(shapes)


def _valid_points(points: Iterable[Any]) -> list[tuple[float, float]]:
    valid = (geo.valid_point(*point[:2]) if isinstance(point, (tuple, list)) else None
             for point in points)
    return [point for point in valid if point is not None]


def _bins(points: list[tuple[float, float]], cell: float
          ) -> tuple[Counter[tuple[int, int]], float]:
    """Points counted per grid cell (row from the south, column from the west), and the
    cell size used: doubled until at most MAX_DOTS cells are occupied."""
    while True:
        cells: Counter[tuple[int, int]] = Counter(
            (min(int((lat + 90) // cell), math.ceil(180 / cell) - 1),
             min(int((lon + 180) // cell), math.ceil(360 / cell) - 1)) for lat, lon in points)
        if len(cells) <= MAX_DOTS:
            return cells, cell
        cell *= 2


def _points_layer(cells: Counter[tuple[int, int]], cell: float, noun: str,
                  cell_link: Callable[[float, float, float, float], str | None] | None) -> str:
    largest = max(cells.values(), default=1)
    dots = []
    for (row, column), count in sorted(cells.items()):
        south, west = row * cell - 90, column * cell - 180
        x, y = WORLD.project(west + cell / 2, south + cell / 2)
        radius = 1.5 + 4.5 * math.sqrt(count / largest)
        label = f"{count_text(count)} {noun if count == 1 else noun + 's'}"
        dot = (f'<circle cx="{number(x)}" cy="{number(y)}" r="{number(radius)}">'
               f"{tooltip(label)}</circle>")
        href = cell_link(south, west, min(90.0, south + cell), min(180.0, west + cell)) \
            if cell_link else None
        dots.append(linked(href, dot))
    return f'<g class="dots">{"".join(dots)}</g>' if dots else ""


def _legend(largest: int) -> str:
    """The shades with the smallest count each stands for, over Antarctica. Few distinct
    counts share a smallest count between shades: each is shown once, with the shade
    `shade_class` gives it."""
    lows = {low: level for level, low in enumerate(shade_lows(largest), 1)}
    step = 26 + 7 * len(f"{count_text(largest)}+")
    keys = [f'<rect class="key" x="4" y="318" width="{12 + step * len(lows)}" height="36" '
            f'rx="3"/>']
    for index, (low, level) in enumerate(sorted(lows.items())):
        x = 12 + index * step
        keys.append(f'<rect class="land c{level}" x="{x}" y="326" width="12" height="12"/>'
                    f'<text x="{x + 16}" y="336">{count_text(low)}+</text>')
    return "".join(keys)


def _summary(counts: Mapping[str, int], total_points: int, noun: str) -> str:
    names = geo.country_names()
    top = sorted(((count, code) for code, count in counts.items() if count > 0),
                 key=lambda item: (-item[0], item[1]))[:10]
    parts = [f"{names.get(code, code)}: {count_text(count)}" for count, code in top]
    text = f"Most {noun}s by country: {'; '.join(parts)}." if parts else ""
    if total_points:
        text += f" {count_text(total_points)} {noun}s with coordinates shown as dots."
    return text.strip() or "World map."


def world_map(points: Iterable[Any] = (), counts_by_country: Mapping[str, int] | None = None,
              *, country_link: Callable[[str], str | None] | None = None,
              cell_link: Callable[[float, float, float, float], str | None] | None = None,
              title: str = "World map", noun: str = "record",
              cell_degrees: float = 2.0) -> Markup:
    """The world's countries as an inline <svg> (Markup; viewBox 720 x 360, scales with
    its container).

    - points: (lat, lon) pairs (numbers or numeric strings; invalid ones are skipped),
      binned to a grid of `cell_degrees` (coarser when more than MAX_DOTS cells would
      be occupied) and drawn as one dot per occupied cell, its area
      growing with the count, its tooltip "12 records" (`noun` pluralised with "s").
    - counts_by_country: ISO alpha-2 code -> count; countries are shaded on a log scale
      with a legend, each with the tooltip "Belgium: 1,234". Codes without an outline at
      this scale (small islands) are not drawn; `geo.country_code(name)` turns names
      into codes.
    - country_link(code) -> href or None: links each counted country (e.g. to a search
      filtered by countryCode); cell_link(south, west, north, east) -> href or None links
      each dot (e.g. to a search by bounding box).
    - title: the accessible name; a text alternative listing the top countries follows.
    """
    counts = {code: count for code, count in (counts_by_country or {}).items() if count > 0}
    cells, cell = _bins(_valid_points(points), cell_degrees)
    body = ['<rect class="sea" width="720" height="360"/>', _countries_layer(counts, country_link),
            _points_layer(cells, cell, noun, cell_link)]
    if counts:
        body.append(_legend(max(counts.values())))
    has_links = bool((country_link and counts) or (cell_link and cells))
    return svg_element(720, 360, title, _summary(counts, sum(cells.values()), noun),
                       "".join(body), kind="fdo-map", linked=has_links)


def place_frame(lat: float, lon: float, width: float, height: float) -> Frame:
    """A window centred on the point, moved (not shrunk) to end just past a pole (the
    marker stays whole); it may reach past the antimeridian, where the outlines are drawn
    shifted by 360 degrees."""
    north = min(90.0 + POLE_MARGIN, max(-90.0 - POLE_MARGIN + height, lat + height / 2))
    return Frame(lon - width / 2, north, width, height, PLACE_SCALE)


def _is_cut(a: geo.Point, b: geo.Point) -> bool:
    """An edge the dataset's splitting made, along the antimeridian or the South Pole:
    no coast or border, so it gets no stroke."""
    return (a[0] == b[0] and a[0] % 360 == 180) or a[1] == b[1] == -90.0


def _border_runs(ring: geo.Ring) -> list[list[geo.Point]]:
    """The ring's edges but its cut ones, as open lines (the ring has a cut edge)."""
    start = next(index for index in range(len(ring)) if _is_cut(ring[index - 1], ring[index]))
    rotated = [*ring[start:], *ring[:start]]
    runs = [[rotated[0]]]
    for previous, point in zip(rotated, rotated[1:], strict=False):
        if _is_cut(previous, point):
            runs.append([])
        runs[-1].append(point)
    return runs


def _place_rings(frame: Frame) -> list[geo.Ring]:
    """The outlines' rings within (a degree beyond, so the edges clipping adds stay out
    of sight) the frame, shifted by 360 degrees where the frame crosses the antimeridian."""
    window = frame.box(margin=1.0)
    rings = []
    for country in geo.countries():
        for shift in (-360.0, 0.0, 360.0):
            west, south, east, north = country.bbox
            if east + shift < window[0] or west + shift > window[2] or \
                    north < window[1] or south > window[3]:
                continue
            for polygon in country.polygons:
                for ring in (polygon.exterior, *polygon.holes):
                    clipped = geo.clip_ring([(x + shift, y) for x, y in ring], window)
                    if clipped:
                        rings.append(clipped)
    return rings


def _place_outlines(frame: Frame) -> str:
    """Land as one path; rings cut at the antimeridian or pole are filled without a
    stroke and get their coasts and borders drawn as open lines."""
    rings = _place_rings(frame)
    whole = [ring for ring in rings if not any(_is_cut(ring[i - 1], ring[i])
                                               for i in range(len(ring)))]
    cut = [ring for ring in rings if ring not in whole]
    lines = [run for ring in cut for run in _border_runs(ring)]

    def projected(rings: list[Any]) -> list[list[tuple[float, float]]]:
        return [[frame.project(x, y) for x, y in ring] for ring in rings]
    paths = [f'<path class="land" d="{path_data(projected(whole))}"/>' if whole else "",
             f'<path class="land cut" d="{path_data(projected(cut))}"/>' if cut else "",
             f'<path class="border" d="{path_data(projected(lines), closed=False)}"/>'
             if lines else ""]
    return "".join(paths)


def _graticule(frame: Frame) -> str:
    """Faint lines every 10 degrees, for a sense of where on the globe this is."""
    west, south, east, north = frame.box()
    lines = [f"M{number(frame.project(lon, north)[0])} 0v{number(frame.height * frame.scale)}"
             for lon in range(math.ceil(west / 10) * 10, math.floor(east / 10) * 10 + 1, 10)]
    lines += [f"M0 {number(frame.project(west, lat)[1])}h{number(frame.width * frame.scale)}"
              for lat in range(math.ceil(south / 10) * 10, math.floor(north / 10) * 10 + 1, 10)]
    return f'<path class="grid" d="{"".join(lines)}"/>'


def degrees_text(lat: float, lon: float) -> str:
    """52.16° N, 4.49° E"""
    return (f"{abs(lat):.2f}° {'N' if lat >= 0 else 'S'}, "
            f"{abs(lon):.2f}° {'E' if lon >= 0 else 'W'}")


def place_map(lat: Any, lon: Any, *, width: float = 36.0, height: float = 24.0) -> Markup | None:
    """A small map (inline <svg> Markup, viewBox 360 x 240 for the default window of 36 x 24
    degrees) of the outlines around one point, with a marker on it. None when the
    coordinates are not numbers (or numeric strings) within -90..90 and -180..180."""
    point = geo.valid_point(lat, lon)
    if point is None:
        return None
    lat_number, lon_number = point
    frame = place_frame(lat_number, lon_number, width, height)
    x, y = frame.project(lon_number, lat_number)
    code = geo.country_at(lat_number, lon_number)
    where = f" in {geo.country_names()[code]}" if code else ""
    label = f"Map of {degrees_text(lat_number, lon_number)}{where}"
    body = (f'<rect class="sea" width="{number(width * frame.scale)}" '
            f'height="{number(height * frame.scale)}"/>{_graticule(frame)}'
            f"{_place_outlines(frame)}"
            f'<circle class="halo" cx="{number(x)}" cy="{number(y)}" r="11"/>'
            f'<circle class="marker" cx="{number(x)}" cy="{number(y)}" r="5"/>')
    return svg_element(width * frame.scale, height * frame.scale, label,
                       f"The point marked at the centre lies at "
                       f"{degrees_text(lat_number, lon_number)}{where}.",
                       body, kind="fdo-map fdo-place")
