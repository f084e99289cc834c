"""Country outlines on a plane of (longitude, latitude) degrees, and the geometry the maps
and coordinate checks need: which country holds a point, clipping a ring to a window,
reading a coordinate from a record.

The outlines are Natural Earth's 1:110m countries, shipped as package data
(resolver/data/countries-110m.json, built by scripts/country_outlines.py). Every ring lies
within lon -180..180, lat -90..90: rings that crossed the antimeridian were split there
and the ring around the South Pole closed along it, so plain planar tests hold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

EDGE = 1e-9  # degrees
Point = tuple[float, float]  # (lon, lat): x before y, as GeoJSON and SVG have it
Ring = tuple[Point, ...]  # closed implicitly: the last point joins the first


@dataclass(frozen=True)
class Polygon:
    exterior: Ring
    holes: tuple[Ring, ...]
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2 (XK for Kosovo)
    name: str  # English
    polygons: tuple[Polygon, ...]
    bbox: tuple[float, float, float, float]


def bbox_of(rings: list[Ring] | tuple[Ring, ...]) -> tuple[float, float, float, float]:
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _polygon(rings: list[list[list[float]]]) -> Polygon:
    exterior, *holes = (tuple((x, y) for x, y in ring) for ring in rings)
    return Polygon(exterior, tuple(holes), bbox_of([exterior]))


@cache
def countries() -> tuple[Country, ...]:
    """Every country, sorted by code; read once per process."""
    text = resources.files("resolver").joinpath("data/countries-110m.json").read_text("utf-8")
    result = []
    for entry in json.loads(text)["countries"]:
        polygons = tuple(_polygon(rings) for rings in entry["polygons"])
        result.append(Country(entry["code"], entry["name"], polygons,
                              bbox_of([polygon.exterior for polygon in polygons])))
    return tuple(result)


@cache
def country_names() -> dict[str, str]:
    """Alpha-2 code -> English name, for the countries that have an outline."""
    return {country.code: country.name for country in countries()}


@cache
def _codes_by_key() -> dict[str, str]:
    keys = {country.code.casefold(): country.code for country in countries()}
    keys.update({country.name.casefold(): country.code for country in countries()})
    return keys


def country_code(name_or_code: str) -> str | None:
    """The alpha-2 code of a country given by its code or English name as the outlines
    spell it ("Belgium", "be", "the Netherlands"); None when it has no outline."""
    key = " ".join(name_or_code.split()).casefold()
    return _codes_by_key().get(key) or _codes_by_key().get(key.removeprefix("the "))


def _inside_bbox(lon: float, lat: float, bbox: tuple[float, float, float, float]) -> bool:
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Even-odd ray casting: does a ray from the point eastwards cross the ring an odd
    number of times? Points exactly on an edge may fall either way."""
    inside = False
    previous_x, previous_y = ring[-1]
    for x, y in ring:
        if (y > lat) != (previous_y > lat):
            crossing_x = x + (lat - y) * (previous_x - x) / (previous_y - y)
            if lon < crossing_x:
                inside = not inside
        previous_x, previous_y = x, y
    return inside


def in_polygon(lon: float, lat: float, polygon: Polygon) -> bool:
    return (_inside_bbox(lon, lat, polygon.bbox) and in_ring(lon, lat, polygon.exterior)
            and not any(in_ring(lon, lat, hole) for hole in polygon.holes))


def country_at(lat: float, lon: float) -> str | None:
    """The alpha-2 code of the country whose 1:110m outline holds the point, or None (sea,
    or a coast or small island the coarse outlines miss: about 10 km of detail)."""
    # The poles and the antimeridian are edges of the split rings, where even-odd tests
    # are undecided: a hair inside them, the South Pole is in Antarctica and 180° in Russia.
    lat, lon = min(max(lat, -90 + EDGE), 90 - EDGE), min(max(lon, -180 + EDGE), 180 - EDGE)
    for country in countries():
        if _inside_bbox(lon, lat, country.bbox) and any(
                in_polygon(lon, lat, polygon) for polygon in country.polygons):
            return country.code
    return None


def _clip_half(ring: list[Point], inside: Callable[[Point], bool],
               cut: Callable[[Point, Point], Point]) -> list[Point]:
    """One Sutherland-Hodgman pass: keep the part of the ring where `inside(point)`."""
    kept: list[Point] = []
    for index, point in enumerate(ring):
        previous = ring[index - 1]
        if inside(point):
            if not inside(previous):
                kept.append(cut(previous, point))
            kept.append(point)
        elif inside(previous):
            kept.append(cut(previous, point))
    return kept


def _cut_at_x(x: float) -> Callable[[Point, Point], Point]:
    def cut(a: Point, b: Point) -> Point:
        return x, a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])
    return cut


def _cut_at_y(y: float) -> Callable[[Point, Point], Point]:
    def cut(a: Point, b: Point) -> Point:
        return a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]), y
    return cut


def clip_ring(ring: Ring | list[Point], window: tuple[float, float, float, float]) -> Ring:
    """The ring clipped to the window (min x, min y, max x, max y); empty when outside it.
    A ring that leaves and re-enters keeps edges along the window's border, which is why
    callers clip to a window a little larger than the one they show."""
    x0, y0, x1, y1 = window
    sides: list[tuple[Callable[[Point], bool], Callable[[Point, Point], Point]]] = [
        (lambda p: p[0] >= x0, _cut_at_x(x0)), (lambda p: p[0] <= x1, _cut_at_x(x1)),
        (lambda p: p[1] >= y0, _cut_at_y(y0)), (lambda p: p[1] <= y1, _cut_at_y(y1))]
    points = list(ring)
    for inside, cut in sides:
        points = _clip_half(points, inside, cut) if points else points
    return tuple(points) if len(points) >= 3 else ()


def _number(value: Any) -> float | None:
    """A finite float from a number or a numeric string; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def valid_point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """(lat, lon) as floats when both are finite numbers (or numeric strings) within
    -90..90 and -180..180; None otherwise."""
    lat_number, lon_number = _number(lat), _number(lon)
    if lat_number is None or lon_number is None:
        return None
    if not (-90 <= lat_number <= 90 and -180 <= lon_number <= 180):
        return None
    return lat_number, lon_number


def record_coordinates(content: dict[str, Any]) -> tuple[float, float] | None:
    """The first valid (lat, lon) of an openDS record's events:
    ods:hasEvents[*].ods:hasLocation.ods:hasGeoreference.dwc:decimalLatitude/Longitude."""
    events = content.get("ods:hasEvents")
    for event in events if isinstance(events, list) else []:
        location = event.get("ods:hasLocation") if isinstance(event, dict) else None
        georeference = location.get("ods:hasGeoreference") if isinstance(location, dict) else None
        if isinstance(georeference, dict):
            point = valid_point(georeference.get("dwc:decimalLatitude"),
                                georeference.get("dwc:decimalLongitude"))
            if point is not None:
                return point
    return None
