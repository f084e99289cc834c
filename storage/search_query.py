"""A search as the index runs it, and what it answers: plain values, built by
repository/search_request.py from a request and read by storage/search_reads.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import ACTIVE

# Sort orders: name -> the entry column it reads ("relevance" is the free-text rank).
SORT_COLUMNS = {"relevance": None, "modified": "modified", "catalogueNumber": "catalogue_key",
                "eventDate": "event_date"}


@dataclass(frozen=True)
class Box:
    """A rectangle of coordinates, west <= east (one crossing the antimeridian is sent as
    two)."""

    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class SearchQuery:
    kinds: tuple[str, ...]  # which kinds of object; never empty
    words: tuple[str, ...] = ()  # free text, as words: every one must match (a prefix)
    # Term filters: (field, keys). Within a field any key matches; every field must.
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    statuses: tuple[str, ...] = (ACTIVE,)
    # Collecting dates, inclusive, ISO 8601 prefixes ('' = open): any range matches.
    date_ranges: tuple[tuple[str, str], ...] = ()
    boxes: tuple[Box, ...] = ()  # any box matches
    sort: str = "modified"  # a key of SORT_COLUMNS
    descending: bool = True
    after: tuple[Any, int] | None = None  # the last hit's (sort value, entry id)
    page_size: int = 20
    facets: tuple[str, ...] = ()  # term fields to count values of
    facet_size: int = 100

    @property
    def filtered(self) -> bool:
        """Whether anything beyond kind and status narrows the search."""
        return bool(self.words or self.terms or self.date_ranges or self.boxes)


@dataclass(frozen=True)
class Hit:
    entry_id: int
    pid: str
    kind: str
    version: int
    status: str
    name: str
    catalogue: str
    event_date: str
    modified: str
    latitude: float | None
    longitude: float | None
    thumbnail: str | None
    text: str
    organisation_id: str | None
    organisation_name: str | None
    position: tuple[Any, int]  # where the next page starts after this hit


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int
    key: str  # the value folded: what a filter on it matches


@dataclass
class SearchPage:
    total: int
    hits: list[Hit]
    more: bool  # a page follows
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)


@dataclass(frozen=True)
class Suggestion:
    field: str
    value: str
