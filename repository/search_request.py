"""A search request's parameters, checked and turned into a `SearchQuery`. No Flask: the
API and the HTML search page hand in their query string as (name, values).

Every parameter name, filter and facet is in a table here; anything else is answered
400 with the valid names, and so is a value that cannot be what its parameter needs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from repository import errors, records
from resolver.pids import find_pid
from schemas import ACTIVE, TOMBSTONE
from storage.search_query import SORT_COLUMNS, Box, SearchQuery
from storage.search_reads import words_of
from storage.search_tables import HAS_MEDIA, fold

# Filter parameter -> the term field it matches (repeat a parameter: any of its values).
FILTERS = {name: name for name in (
    "country", "countryCode", "locality", "physicalSpecimenID", "typeStatus", "license",
    "organisationID", "sourceSystemID", "specimenName", "basisOfRecord", "topicDiscipline",
    "collectionCode", "recordedBy", "identifiedBy", "kingdom", "phylum", "class", "order",
    "family", "genus", "species", "year", "title", "target", "motivation", "creator",
    "mergingDecisionStatus", HAS_MEDIA)}
# Facet name -> term field; each facet's values filter by the parameter of the same field.
FACETS = {"country": "country", "countryCode": "countryCode", "typeStatus": "typeStatus",
          "license": "license", "organisation": "organisationID",
          "sourceSystem": "sourceSystemID", "kingdom": "kingdom", "phylum": "phylum",
          "class": "class", "order": "order", "family": "family", "genus": "genus",
          "basisOfRecord": "basisOfRecord", "topicDiscipline": "topicDiscipline",
          "collectionCode": "collectionCode", HAS_MEDIA: HAS_MEDIA, "year": "year",
          "motivation": "motivation", "mergingDecisionStatus": "mergingDecisionStatus"}
OTHER_PARAMETERS = ("q", "status", "eventDate", "bbox", "sort", "pageSize", "cursor",
                    "facet", "facetSize")
STATUSES = {"active": (ACTIVE,), "tombstone": (TOMBSTONE,), "any": (ACTIVE, TOMBSTONE)}
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1000, 20
MAX_FACET_SIZE, DEFAULT_FACET_SIZE = 1000, 100
MAX_VALUES = 100  # per parameter
MAX_WORDS = 32
_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")


def search_query(kinds: tuple[str, ...], arguments: Sequence[tuple[str, list[str]]],
                 cursor_key: bytes) -> SearchQuery:
    """The query these arguments ask for, or BadRequest naming what is wrong."""
    given = _checked_names(arguments)
    words = words_of(" ".join(given.get("q", [])))[:MAX_WORDS]
    sort, descending = _sort(_one(given, "sort", "relevance" if words else "-modified"))
    if sort == "relevance" and not words:
        sort, descending = "modified", True  # nothing to rank by: the latest first
    cursor = _one(given, "cursor", "")
    return SearchQuery(
        kinds=kinds, words=words, terms=_terms(given), statuses=_statuses(given),
        date_ranges=tuple(_date_range(value) for value in given.get("eventDate", [])),
        boxes=tuple(box for value in given.get("bbox", []) for box in _boxes(value)),
        sort=sort, descending=descending,
        after=read_cursor(cursor, sort, descending, cursor_key) if cursor else None,
        page_size=_count(given, "pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        facets=tuple(dict.fromkeys(_facet(name) for name in given.get("facet", []))),
        facet_size=_count(given, "facetSize", DEFAULT_FACET_SIZE, MAX_FACET_SIZE))


def _checked_names(arguments: Sequence[tuple[str, list[str]]]) -> dict[str, list[str]]:
    given = {name: [value.strip() for value in values if value.strip()]
             for name, values in arguments}
    unknown = sorted(name for name in given if name not in FILTERS
                     and name not in OTHER_PARAMETERS)
    if unknown:
        valid = ", ".join(sorted(FILTERS) + list(OTHER_PARAMETERS))
        raise errors.BadRequest(f"unknown search parameter {unknown[0]!r}; valid: {valid}",
                                [_problem(name, "is not a search parameter")
                                 for name in unknown])
    for name, values in given.items():
        if len(values) > MAX_VALUES:
            raise _bad(name, f"takes at most {MAX_VALUES} values")
    return {name: values for name, values in given.items() if values}


def _terms(given: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    terms = []
    for name, field in FILTERS.items():
        if name in given:
            keys = tuple(dict.fromkeys(_term_key(name, value) for value in given[name]))
            terms.append((field, keys))
    return tuple(terms)


def _term_key(name: str, value: str) -> str:
    """A filter value as the index keys it (storage/search_writes.py `fold`)."""
    if name == HAS_MEDIA:
        if value.casefold() not in ("true", "false"):
            raise _bad(name, "is true or false")
        return value.casefold()
    if name == "organisationID":
        value = records.organisation_id({"ods:organisationID": value}) or value
    if name == "target":
        value = find_pid(value) or value
    return fold(" ".join(value.split()))


def _statuses(given: Mapping[str, list[str]]) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in given.get("status", ["active"]):
        if value.casefold() not in STATUSES:
            raise _bad("status", f"is one of {', '.join(STATUSES)}")
        chosen.extend(STATUSES[value.casefold()])
    return tuple(dict.fromkeys(chosen))


def _date_range(value: str) -> tuple[str, str]:
    """`1900..1950`, `1900-05..`, `..1950-12-31` or one date: ISO 8601 prefixes."""
    start, separator, end = value.partition("..")
    if not separator:
        end = start
    for date in (start, end):
        if date and not _DATE.fullmatch(date):
            raise _bad("eventDate", f"{value!r} is not a date range (YYYY[-MM[-DD]]..YYYY"
                                    "[-MM[-DD]], either end may be left open)")
    if start and end and start > end:
        raise _bad("eventDate", f"{value!r} ends before it starts")
    return start, end


def _boxes(value: str) -> tuple[Box, ...]:
    """`west,south,east,north` in degrees (GeoJSON's order); a box crossing the
    antimeridian (west > east) is two."""
    try:
        west, south, east, north = (float(part) for part in value.split(","))
    except ValueError:
        raise _bad("bbox", f"{value!r} is not west,south,east,north in degrees") from None
    numbers = (west, south, east, north)
    if not all(math.isfinite(n) for n in numbers) or not (-180 <= west <= 180) or not (
            -180 <= east <= 180) or not (-90 <= south <= north <= 90):
        raise _bad("bbox", f"{value!r}: longitudes -180..180, latitudes -90..90, "
                           "south <= north")
    if west <= east:
        return (Box(south, west, north, east),)
    return Box(south, west, north, 180.0), Box(south, -180.0, north, east)


def _sort(value: str) -> tuple[str, bool]:
    name = value.removeprefix("-")
    if name not in SORT_COLUMNS:
        raise _bad("sort", f"is one of {', '.join(SORT_COLUMNS)} (prefix - for descending)")
    return name, value.startswith("-")


def _facet(name: str) -> str:
    if name not in FACETS:
        raise errors.BadRequest(f"unknown facet {name!r}; valid: {', '.join(FACETS)}",
                                [_problem("facet", f"{name!r} is not a facet")])
    return FACETS[name]


def _count(given: Mapping[str, list[str]], name: str, default: int, most: int) -> int:
    value = _one(given, name, str(default))
    if not value.isascii() or not value.isdigit() or not 1 <= int(value[:6]) <= most:
        raise _bad(name, f"is a whole number from 1 to {most}")
    return int(value)


def _one(given: Mapping[str, list[str]], name: str, default: str) -> str:
    values = given.get(name, [default])
    if len(values) > 1:
        raise _bad(name, "is given once")
    return values[0]


# -- cursors ----------------------------------------------------------------------------

def make_cursor(position: tuple[Any, int], sort: str, descending: bool, key: bytes) -> str:
    """Where the next page starts, signed: a cursor is only ever one we handed out."""
    payload = base64.urlsafe_b64encode(
        json.dumps([sort, descending, *position], separators=(",", ":")).encode()).decode()
    return f"{payload.rstrip('=')}.{_signature(key, payload.rstrip('='))}"


def read_cursor(cursor: str, sort: str, descending: bool, key: bytes) -> tuple[Any, int]:
    payload, _, signature = cursor.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
        raise _bad("cursor", "is not a cursor this repository handed out")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as error:
        raise _bad("cursor", f"cannot be read ({error})") from None
    if decoded[:2] != [sort, descending]:
        raise _bad("cursor", "belongs to another sort order: send the same sort with it")
    return decoded[2], decoded[3]


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _problem(name: str, message: str) -> dict[str, str]:
    return {"path": name, "message": message}


def _bad(name: str, message: str) -> errors.BadRequest:
    return errors.BadRequest(f"{name} {message}", [_problem(name, message)])
