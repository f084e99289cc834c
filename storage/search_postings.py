"""Posting bitmaps held in memory, for filters and facets on the fields with few values.

For each value of the POSTED_FIELDS (country, kingdom, family, year, licence, ... the
fields a facet counts), the ids of the search entries holding it, and the ids of each
kind and status, as Roaring bitmaps (pyroaring). A filter on these fields is a union and
an intersection of bitmaps, and a facet over 70,000 hits is one intersection count per
value, microseconds each, where counting the hits' terms in SQL costs in proportion to
the hits (bench/README.md). The search index's tables stay the truth: the bitmaps are
read from them, and free text, dates, places and the fields with many values (names,
catalogue numbers, localities, people) stay SQL.

Kept current from the index, not from this process's writes (other processes write too):
- every search reads the last search position handed out (a counter row): when it has
  moved, the entries whose `changed` is past the last one seen (the search position of
  the last write to their terms, storage/search_writes.py), in one statement on an
  index. Positions are handed out one transaction at a time and commit in order, so
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
from typing import Any

from pyroaring import BitMap
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

from storage.models import GENERATION, SEARCH_POSITION, CounterRow
from storage.search_query import FacetValue
from storage.search_tables import SearchEntryRow, SearchTermRow

# The term fields kept as bitmaps: every field a facet counts (repository/search_request.py
# FACETS, checked by tests/test_search_postings.py). Few values each, so few bitmaps.
POSTED_FIELDS = ("country", "countryCode", "typeStatus", "license", "organisationID",
                 "sourceSystemID", "kingdom", "phylum", "class", "order", "family", "genus",
                 "basisOfRecord", "topicDiscipline", "collectionCode", "hasMedia", "year",
                 "motivation", "mergingDecisionStatus")

ENTRY = SearchEntryRow.__table__
TERM = SearchTermRow.__table__
_COUNTERS = select(CounterRow.name, CounterRow.value).where(
    CounterRow.name.in_((SEARCH_POSITION, GENERATION)))
# What changed past a position: each changed entry with its posted terms (none: NULLs).
_CHANGED_SINCE = (select(ENTRY.c.id, ENTRY.c.kind, ENTRY.c.status, ENTRY.c.changed,
                         TERM.c.field, TERM.c.key, TERM.c.value)
                  .select_from(ENTRY.outerjoin(TERM, (TERM.c.entry_id == ENTRY.c.id)
                                               & TERM.c.field.in_(POSTED_FIELDS)))
                  .where(ENTRY.c.changed > bindparam("position")))


class Postings:
    """One process's bitmaps of the search index, shared by its threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._searched: int | None = None  # the last search position when last read
        self._position = 0  # the highest `changed` read
        # field -> key -> value as written -> ids. An entry holds one value per key, so
        # the values of one key hold disjoint ids.
        self._terms: dict[str, dict[str, dict[str, BitMap]]] = {}
        self._scopes: dict[tuple[str, str], BitMap] = {}  # (kind, status) -> ids

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
        """Every bitmap, read whole: ids gathered per value by the database, one row per
        value (not one per posting)."""
        gathered = gatherer(self.postgresql)
        self._position = int(connection.scalar(select(func.max(ENTRY.c.changed))) or 0)
        self._scopes = {
            (kind, status): bitmap_of(ids) for kind, status, ids in connection.execute(
                select(ENTRY.c.kind, ENTRY.c.status, gathered(ENTRY.c.id))
                .group_by(ENTRY.c.kind, ENTRY.c.status))}
        self._terms = {field: {} for field in POSTED_FIELDS}
        # Grouped in the terms' key order (field, kind, status, key): one pass, no sort.
        # Grouping by value too needed a sort of every posting (3.9 s at 100,000
        # specimens on SQLite, a fresh worker's first search). A key written in two ways
        # (case) is read again by value.
        rows = connection.execute(
            select(TERM.c.field, TERM.c.key, func.min(TERM.c.value), func.max(TERM.c.value),
                   gathered(TERM.c.entry_id))
            .where(TERM.c.field.in_(POSTED_FIELDS))
            .group_by(TERM.c.field, TERM.c.kind, TERM.c.status, TERM.c.key))
        spelt_apart: set[tuple[str, str]] = set()
        for field, key, least, most, ids in rows:
            if least != most:
                spelt_apart.add((field, key))
                continue
            values = self._terms[field].setdefault(key, {})
            values[least] = values[least] | bitmap_of(ids) if least in values else bitmap_of(ids)
        for field, key in spelt_apart:
            self._terms[field][key] = {value: bitmap_of(ids) for value, ids in connection.execute(
                select(TERM.c.value, gathered(TERM.c.entry_id))
                .where(TERM.c.field == field, TERM.c.key == key).group_by(TERM.c.value))}

    def _catch_up(self, connection: Connection) -> None:
        rows = list(connection.execute(_CHANGED_SINCE, {"position": self._position}))
        if not rows:
            return
        changed = BitMap(row[0] for row in rows)
        for scope in self._scopes.values():
            scope.difference_update(changed)
        for keys in self._terms.values():
            for key in list(keys):
                values = keys[key]
                for value in list(values):
                    values[value].difference_update(changed)
                    if not values[value]:
                        del values[value]
                if not values:
                    del keys[key]
        for entry_id, kind, status, position, field, key, value in rows:
            self._scopes.setdefault((kind, status), BitMap()).add(entry_id)
            if field is not None:
                self._terms[field].setdefault(key, {}).setdefault(value, BitMap()).add(entry_id)
            self._position = max(self._position, position)


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


def gatherer(postgresql: bool) -> Any:
    """The aggregate that gathers ids into one value `bitmap_of` reads: a PostgreSQL array,
    SQLite's JSON array."""
    return func.array_agg if postgresql else func.json_group_array


def bitmap_of(ids: Any) -> BitMap:
    """A bitmap of the ids a database gathered: a PostgreSQL array (a list) or SQLite's
    JSON text."""
    return BitMap(json.loads(ids) if isinstance(ids, str) else ids)
