"""Posting bitmaps held in memory, for filters and facets on the fields with few values.

For each value of the POSTED_FIELDS (country, kingdom, family, year, licence, ... the
fields a facet counts), the ids of the search entries holding it, and the ids of each
kind and status, as Roaring bitmaps (pyroaring). A filter on these fields is a union and
an intersection of bitmaps, and a facet over 70,000 hits is one intersection count per
value, microseconds each, where counting the hits' terms in SQL costs in proportion to
the hits (bench/README.md). The search index's tables stay the truth: the bitmaps are
read from the entries' `posted` and `has_media` columns, and free text, dates, places and
the fields with many values (names, catalogue numbers, localities, people) stay SQL.

Kept current from the index, not from this process's writes (other processes write too):
- every search reads the last search position handed out (a counter row): when it has
  moved, the entries whose `changed` is past the last one seen (the search position of
  the last write to their posted terms, storage/search_writes.py), in one statement on
  an index. Positions are handed out one transaction at a time and commit in order, so
  what one statement sees past the last seen is everything committed up to what it saw.
  Their ids leave every bitmap and go back into the bitmaps of what they hold now;
- the index's generation (a random number `fdo rebuild-index` draws anew) tells when the
  tables were made again: then every bitmap is read again.

Memory: about two bytes per (entry, posted term) and a few hundred bytes per value; a
repository of 100,000 specimens holds a few megabytes (docs/search.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pyroaring import BitMap
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

from storage.models import GENERATION, SEARCH_POSITION, CounterRow
from storage.search_query import FacetValue
from storage.search_tables import HAS_MEDIA, POSTED_FIELDS, SearchEntryRow, fold

ENTRY = SearchEntryRow.__table__
_COUNTERS = select(CounterRow.name, CounterRow.value).where(
    CounterRow.name.in_((SEARCH_POSITION, GENERATION)))
_POSTED = (ENTRY.c.id, ENTRY.c.kind, ENTRY.c.status, ENTRY.c.posted, ENTRY.c.has_media)
_EVERY_ENTRY = select(*_POSTED)
_CHANGED_SINCE = select(*_POSTED, ENTRY.c.changed).where(ENTRY.c.changed > bindparam("position"))


class Postings:
    """One process's bitmaps of the search index, shared by its threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._searched: int | None = None  # the last search position when last read
        self._position = 0  # the highest `changed` read
        # field -> key -> value as written -> ids. An entry holds one value per key, so
        # the values of one key hold disjoint ids.
        self._terms: dict[str, dict[str, dict[str, BitMap]]] = {}
        self._scopes: dict[tuple[str, str], BitMap] = {}  # (kind, status) -> ids

    @property
    def read(self) -> bool:
        """Whether the bitmaps have been read from the index (by a search, or ahead of one)."""
        return self._generation is not None

    @contextmanager
    def current(self, connection: Connection) -> Iterator[PostingView]:
        """The bitmaps as the index holds them now, for the length of the `with`: other
        threads wait (reads take microseconds)."""
        with self._lock:
            # One primary-key read when nothing was written: the catch-up's own range
            # read costs a plan and a join (1.2 ms on PostgreSQL).
            counters = {name: value for name, value in connection.execute(_COUNTERS)}
            if counters.get(GENERATION) != self._generation:
                self._load(connection)
                self._generation = counters.get(GENERATION)
            elif counters.get(SEARCH_POSITION) != self._searched:
                self._catch_up(connection)
            self._searched = counters.get(SEARCH_POSITION)
            yield PostingView(self._terms, self._scopes)

    # -- reading the index ------------------------------------------------------------

    def _load(self, connection: Connection) -> None:
        """Every bitmap, read whole: one pass over the entries, each id added to its
        bitmaps as it comes (no list of every posting held meanwhile)."""
        self._position = int(connection.scalar(select(func.max(ENTRY.c.changed))) or 0)
        self._scopes, self._terms = {}, {field: {} for field in POSTED_FIELDS}
        for row in connection.execute(_EVERY_ENTRY):
            self._add(*row)

    def _catch_up(self, connection: Connection) -> None:
        rows = list(connection.execute(_CHANGED_SINCE, {"position": self._position}))
        if not rows:
            return
        changed = BitMap(row[0] for row in rows)
        for scope in self._scopes.values():
            scope.difference_update(changed)
        for field_keys in self._terms.values():
            for key in list(field_keys):
                values = field_keys[key]
                for value in list(values):
                    values[value].difference_update(changed)
                    if not values[value]:
                        del values[value]
                if not values:
                    del field_keys[key]
        for *entry, position in rows:
            self._add(*entry)
            self._position = max(self._position, position)

    def _add(self, entry_id: int, kind: str, status: str, posted: str | None,
             has_media: bool | None) -> None:
        """An entry into the bitmaps of its kind and status and of each posted term."""
        scope = self._scopes.get((kind, status))
        if scope is None:
            scope = self._scopes[(kind, status)] = BitMap()
        scope.add(entry_id)
        for field, value in _posted_terms(posted, has_media):
            values = self._terms[field].setdefault(fold(value), {})
            ids = values.get(value)
            if ids is None:
                ids = values[value] = BitMap()
            ids.add(entry_id)


def _posted_terms(posted: str | None, has_media: bool | None) -> list[tuple[str, str]]:
    """An entry's posted terms, as (field, value), from its two columns."""
    terms = [(field, value) for field, value in json.loads(posted or "[]")]
    if has_media is not None:
        terms.append((HAS_MEDIA, "true" if has_media else "false"))
    return terms


class PostingView:
    """Bitmaps read while `Postings.current` holds them: hits and facets."""

    def __init__(self, terms: dict[str, dict[str, dict[str, BitMap]]],
                 scopes: dict[tuple[str, str], BitMap]) -> None:
        self._terms = terms
        self._scopes = scopes

    def scope(self, kinds: Iterable[str] | None, statuses: Iterable[str]) -> BitMap:
        """The entries of these kinds (None: of every kind) and statuses."""
        return BitMap.union(BitMap(), *(ids for (kind, status), ids in self._scopes.items()
                                        if (kinds is None or kind in kinds)
                                        and status in statuses))

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self._scopes}

    def holding(self, field: str, keys: Iterable[str]) -> BitMap:
        """The entries holding any of these keys of `field`."""
        values = self._terms.get(field, {})
        return BitMap.union(BitMap(), *(ids for key in keys
                                        for ids in values.get(key, {}).values()))

    def facets(self, hits: BitMap, fields: Iterable[str], size: int
               ) -> dict[str, list[FacetValue]]:
        """Each field's values among the hits, most frequent first (then by key), at most
        `size`; a key's value as the hits write it (the least, if they differ in case)."""
        found: dict[str, list[FacetValue]] = {}
        for field in fields:
            counted = []
            for key, values in self._terms.get(field, {}).items():
                counts = {value: hits.intersection_cardinality(ids)
                          for value, ids in values.items()}
                total = sum(counts.values())
                if total:
                    shown = min(value for value, count in counts.items() if count)
                    counted.append(FacetValue(value=shown, count=total, key=key))
            counted.sort(key=lambda facet: (-facet.count, facet.key))
            found[field] = counted[:size]
        return found
