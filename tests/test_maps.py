"""The country outlines, the point-in-country test and the SVG drawings (world map, place
map, bar chart), read back as XML: what they hold, that users' text stays text, and that
bad coordinates give no map rather than an error."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import charts, geo, maps
from resolver.svg import count_text
from scripts import country_outlines

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '</text><script>alert("x")</script>&amp; <b>"\'bold\''


# Numbers near and past the limits, numeric and other text, and things that are neither.
coordinates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-200, 200),
    st.sampled_from([-180, 180, -90, 90, 0.0, -0.0]),
    st.floats(-200, 200).map(str), st.text(max_size=8), st.none(), st.booleans())


def parse(drawing: Any) -> ET.Element:
    """The drawing as XML (fails on anything unescaped), checked to be a scalable <svg>."""
    root = ET.fromstring(str(drawing))
    assert root.tag == f"{SVG}svg"
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    assert width > 0 and height > 0
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.find(f".//{SVG}script") is None
    return root


def elements(root: ET.Element, tag: str) -> list[ET.Element]:
    return list(root.iter(f"{SVG}{tag}"))


def tooltips(root: ET.Element) -> list[str]:
    return [title.text or "" for title in elements(root, "title")]


@pytest.mark.parametrize(("place", "lat", "lon", "code"), [
    ("Leiden", 52.16, 4.49, "NL"),
    ("Nairobi", -1.29, 36.82, "KE"),
    ("Maseru, in Lesotho: a hole in South Africa's outline", -29.31, 27.48, "LS"),
    ("Johannesburg", -26.2, 28.04, "ZA"),
    ("Chukotka, east of the antimeridian", 66.0, -175.0, "RU"),
    ("Kamchatka, west of it", 56.0, 160.0, "RU"),
    ("near the South Pole", -89.9, 0.0, "AQ"),
    ("Pristina (Kosovo has no ISO numeric code)", 42.66, 21.16, "XK"),
    ("Hargeisa (Somaliland goes with Somalia)", 9.56, 44.06, "SO"),
    ("the middle of the Atlantic", 45.0, -30.0, None),
    ("the North Pole, on sea ice", 90.0, 0.0, None),
], ids=lambda value: value if isinstance(value, str) and len(value) > 3 else None)
def test_country_at_finds_the_country_that_holds_a_point(
        place: str, lat: float, lon: float, code: str | None) -> None:
    assert geo.country_at(lat, lon) == code


def test_lesotho_is_a_hole_in_south_africa() -> None:
    south_africa = next(c for c in geo.countries() if c.code == "ZA")
    holes = [hole for polygon in south_africa.polygons for hole in polygon.holes]
    assert len(holes) == 1 and geo.in_ring(27.48, -29.31, holes[0])


def test_every_ring_lies_on_the_plane_within_the_globe() -> None:
    rings = [ring for country in geo.countries() for polygon in country.polygons
             for ring in (polygon.exterior, *polygon.holes)]
    assert len(geo.countries()) > 170 and all(len(ring) >= 3 for ring in rings)
    assert all(-180 <= x <= 180 and -90 <= y <= 90 for ring in rings for x, y in ring)
    codes = [country.code for country in geo.countries()]
    assert len(codes) == len(set(codes)) and all(len(code) == 2 for code in codes)


def test_country_code_reads_names_and_codes() -> None:
    assert [geo.country_code(v) for v in ("Belgium", "be", "the  Netherlands", "Atlantis")] \
        == ["BE", "BE", "NL", None]


def test_clip_ring_keeps_the_part_inside_the_window() -> None:
    square = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
    assert sorted(geo.clip_ring(square, (5, -5, 15, 5))) == [(5, 0), (5, 5), (10, 0), (10, 5)]
    assert geo.clip_ring(square, (20, 20, 30, 30)) == ()


@pytest.mark.parametrize(("lat", "lon", "expected"), [
    (52.16, 4.49, (52.16, 4.49)), ("52.16", " 4.49 ", (52.16, 4.49)), (-90, 180, (-90, 180)),
    (90.01, 0, None), (0, -180.5, None), (math.nan, 0, None), (0, math.inf, None),
    ("1e999", 0, None), ("52°N", 4, None), (True, 4, None), (None, 4, None), ([52], 4, None),
])
def test_valid_point_takes_finite_numbers_in_range(lat: Any, lon: Any, expected: Any) -> None:
    assert geo.valid_point(lat, lon) == expected


def event(lat: Any, lon: Any) -> dict[str, Any]:
    return {"ods:hasLocation": {"ods:hasGeoreference": {
        "dwc:decimalLatitude": lat, "dwc:decimalLongitude": lon}}}


def test_record_coordinates_takes_the_first_event_with_valid_ones() -> None:
    content = {"ods:hasEvents": [{"ods:hasLocation": "Leiden"}, event("x", 1),
                                 event("-1.29", "36.82"), event(52.16, 4.49)]}
    assert geo.record_coordinates(content) == (-1.29, 36.82)
    assert geo.record_coordinates({"ods:hasEvents": "none"}) is None
    assert geo.record_coordinates({}) is None


def test_world_map_shades_and_links_counted_countries() -> None:
    root = parse(maps.world_map(counts_by_country={"BE": 1234, "NL": 50_000, "ZZ": 3},
                                country_link=lambda code: f"/search?countryCode={code}&x=1"))
    assert root.attrib["role"] == "group"  # links inside stay reachable
    shapes = [path for path in elements(root, "path") if "land" in path.attrib["class"]]
    assert len(shapes) == len(geo.countries())
    assert {"Belgium: 1,234", "Netherlands: 50,000", "France: 0"} <= set(tooltips(root))
    links = {a.attrib["href"] for a in elements(root, "a")}
    assert links == {"/search?countryCode=BE&x=1", "/search?countryCode=NL&x=1"}
    netherlands = next(a for a in elements(root, "a") if a.attrib["href"].endswith("NL&x=1"))
    assert "c5" in netherlands[0].attrib["class"].split()
    assert "Netherlands: 50,000" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


@pytest.mark.parametrize(("counts", "legend"), [
    ({"BE": 1, "NL": 1}, ["1+"]),
    ({"BE": 1, "NL": 2, "FR": 3}, ["1+", "2+", "3+"]),
    ({"BE": 1, "NL": 100_000}, ["1+", "10+", "100+", "1,000+", "10,000+"]),
])
def test_world_map_legend_names_each_shade_in_use_once(
        counts: dict[str, int], legend: list[str]) -> None:
    root = parse(maps.world_map(counts_by_country=counts))
    assert [text.text for text in elements(root, "text")] == legend
    keys = [rect.attrib["class"] for rect in elements(root, "rect")
            if "land" in rect.attrib["class"]]
    shapes = {path[0].text: path.attrib["class"] for path in elements(root, "path")}
    for code, count in counts.items():  # each country's shade is in the legend
        assert shapes[f"{geo.country_names()[code]}: {count_text(count)}"] in keys


def test_world_map_bins_thousands_of_points_into_a_small_svg() -> None:
    generator = random.Random(15)
    points = [(generator.uniform(-90, 90), generator.uniform(-180, 180)) for _ in range(20_000)]
    drawing = maps.world_map(points=[*points, ("x", 1), (math.nan, 2), "junk"], noun="specimen")
    root = parse(drawing)
    dots = elements(root, "circle")
    assert 0 < len(dots) <= maps.MAX_DOTS
    counts = [int((dot[0].text or "").split()[0].replace(",", "")) for dot in dots]
    assert sum(counts) == 20_000
    assert len(str(drawing)) < 150_000
    assert root.attrib["role"] == "img"


def test_world_map_escapes_the_callers_text() -> None:
    root = parse(maps.world_map(points=[(1, 1)], title=HOSTILE, noun=HOSTILE,
                                cell_link=lambda *box: f'/search?bbox="{box}"<'))
    assert root.find(f"{SVG}title").text == HOSTILE  # type: ignore[union-attr]
    assert root.attrib["aria-label"] == HOSTILE
    assert elements(root, "circle")[0][0].text == f"1 {HOSTILE}"
    assert elements(root, "a")[0].attrib["href"] == '/search?bbox="(0.0, 0.0, 2.0, 2.0)"<'


def marker(root: ET.Element) -> tuple[float, float]:
    circle = next(c for c in elements(root, "circle") if c.attrib.get("class") == "marker")
    return float(circle.attrib["cx"]), float(circle.attrib["cy"])


@pytest.mark.parametrize(("lat", "lon", "code"), [
    (52.16, 4.49, "NL"), ("52.16", "4.49", "NL"), (67.5, -179.5, "RU"), (67.5, 179.5, "RU"),
    (-16.8, 179.9, None), (90, 0, None), (-90, 180, "AQ"), (0, 0, None),
    (67.5, 180, "RU"), (67.5, -180, "RU"),
])
def test_place_map_marks_the_point_among_the_outlines(lat: Any, lon: Any, code: Any) -> None:
    root = parse(maps.place_map(lat, lon))
    assert root.attrib["role"] == "img"
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    x, y = marker(root)
    assert 0 <= x <= width and 0 <= y <= height
    if code:
        name = geo.country_names()[code]
        assert root.attrib["aria-label"].endswith(f"in {name}")
        assert any(path.attrib.get("class") == "land" for path in elements(root, "path"))


def test_place_map_across_the_antimeridian_draws_both_sides_without_a_seam() -> None:
    """Chukotka lies on both sides of 180°: its pieces are filled on both halves, and
    their coasts drawn as lines that leave out the cut along the antimeridian."""
    root = parse(maps.place_map(66.0, 179.0))
    paths = {path.attrib["class"]: path.attrib["d"] for path in elements(root, "path")}
    xs = [x for line in polylines(paths["land cut"]) for x, _ in line]
    assert min(xs) < 190 < max(xs)  # x = 190 is the antimeridian in this frame
    lines = polylines(paths["border"])
    assert lines and "z" not in paths["border"]
    steps = [(a, b) for line in lines for a, b in zip(line, line[1:], strict=False)]
    assert not [step for step in steps if step[0][0] == step[1][0] == 190]
    assert len(str(maps.place_map(66.0, 179.0))) < 20_000


def polylines(data: str) -> list[list[tuple[float, float]]]:
    """Absolute points of path data made of "Mx y" and relative "ldx dy" steps."""
    lines = []
    for part in data.replace("z", "").split("M")[1:]:
        first, *steps = part.split("l")
        x, y = (float(v) for v in first.split())
        line = [(x, y)]
        for step in steps:
            dx, dy = (float(v) for v in step.split())
            x, y = round(x + dx, 1), round(y + dy, 1)
            line.append((x, y))
        lines.append(line)
    return lines


@pytest.mark.parametrize(("lat", "lon"), [
    (91, 0), (0, 181), (math.nan, 0), (0, -math.inf), ("north", "east"), (None, None),
    (False, 0), ({}, []), ("", ""),
])
def test_place_map_of_invalid_coordinates_is_none(lat: Any, lon: Any) -> None:
    assert maps.place_map(lat, lon) is None


def test_bar_chart_labels_counts_and_links_each_bar() -> None:
    root = parse(charts.bar_chart([("Botany", 12_345, "/search?topicDiscipline=Botany"),
                                   ("Zoology", 400, None)], title="By discipline"))
    texts = [text.text for text in elements(root, "text")]
    assert texts == ["Botany", "12,345", "Zoology", "400"]
    assert [a.attrib["href"] for a in elements(root, "a")] == ["/search?topicDiscipline=Botany"]
    assert root.attrib["role"] == "group"
    assert "Botany: 12,345; Zoology: 400" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_bar_chart_escapes_hostile_labels_and_cuts_long_ones() -> None:
    long_label = "Palaeontology " * 5
    chart = charts.bar_chart([(HOSTILE, 1, f'"><script>{HOSTILE}'), (long_label, 0, None)],
                             title=HOSTILE)
    root = parse(chart)
    assert elements(root, "a")[0].attrib["href"] == f'"><script>{HOSTILE}'
    assert HOSTILE in tooltips(root)[0] and f"{HOSTILE}: 1" in tooltips(root)
    labels = [text.text or "" for text in elements(root, "text")]
    assert labels[0] == charts.short_label(HOSTILE) and labels[2].endswith("…")
    assert f"{long_label}: 0" in tooltips(root)


def test_vertical_bar_chart_of_many_years_labels_some_and_titles_all() -> None:
    years = [(str(year), year % 7, None) for year in range(1850, 2025)]
    root = parse(charts.bar_chart(years, title="By year", vertical=True))
    assert root.attrib["role"] == "img"
    bars = [rect for rect in elements(root, "rect") if rect.attrib.get("class") == "bar"]
    assert len(bars) == len(years)
    assert "1850: 2" in tooltips(root) and "2024: 1" in tooltips(root)
    axis = [text.text for text in elements(root, "text")][1:]
    assert 3 <= len(axis) < 40 and axis[0] == "1850"


def test_bar_chart_of_nothing_is_none() -> None:
    assert charts.bar_chart([], title="Empty") is None


@settings(max_examples=300, deadline=None)
@given(lat=coordinates, lon=coordinates)
def test_place_map_of_any_input_is_a_map_with_its_marker_inside_or_none(lat: Any, lon: Any
                                                                       ) -> None:
    drawing = maps.place_map(lat, lon)
    if geo.valid_point(lat, lon) is None:
        assert drawing is None
        return
    root = parse(drawing)
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    x, y = marker(root)
    assert 0 <= x <= width and 0 <= y <= height


def test_the_conversion_script_decodes_topojson_and_splits_at_the_antimeridian() -> None:
    """A made-up topology: one square across 180° (arc 0) with a hole (arc 1) east of it,
    quantized with a scale of 1 and delta-encoded as TopoJSON is."""
    topology = {"transform": {"scale": [1, 1], "translate": [0, 0]}, "arcs": [
        [[178, 10], [4, 0], [0, 10], [-4, 0], [0, -10]],  # 178..182 at lat 10..20
        [[178, 12], [1, 0], [0, 2], [-1, 0], [0, -2]]]}
    arcs = country_outlines.decode_arcs(topology)
    assert arcs[0][:3] == [(178, 10), (182, 10), (182, 20)]
    # 182 is written -178 in the data, as Natural Earth writes it
    arcs[0] = [(lon - 360 if lon > 180 else lon, lat) for lon, lat in arcs[0]]
    polygons = country_outlines.polygons_of({"type": "Polygon", "arcs": [[0], [1]]}, arcs)
    boxes = sorted(geo.bbox_of([tuple(map(tuple, polygon[0]))]) for polygon in polygons)
    assert boxes == [(-180, 10, -178, 20), (178, 10, 180, 20)]
    assert [len(polygon) for polygon in sorted(polygons)] == [1, 2]  # the hole: 178..179


def test_the_conversion_script_closes_a_ring_around_the_pole() -> None:
    ring = [[-180.0, -80.0], [0.0, -70.0], [180.0, -80.0]]
    [piece] = country_outlines.planar_pieces(ring)
    assert piece[-2:] == [[180.0, -90.0], [-180.0, -90.0]]
