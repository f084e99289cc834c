"""Running a search (storage/search_query.py) on the index: SQLite FTS5 or PostgreSQL's
full-text search for words, term ranges for filters and facets, keyset pages.

Every page is a keyset page: the hits after the last one sent, in (sort value, entry id)
order, read from an index on (kind, status, sort column, id). The last page of a million
hits costs what the first does, and the order is stable however the hits change between
pages: a hit changed meanwhile moves, none is sent twice under one sort value.

The user's words never reach an engine as syntax: they are split into word characters
here and each is quoted (FTS5) or written as a lexeme prefix (PostgreSQL)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from pyroaring import BitMap
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Select
from sqlalchemy.types import ARRAY

from schemas import ACTIVE
from storage.models import ObjectRow
from storage.search_lookups import SearchLookups
from storage.search_postings import Postings
from storage.search_query import SORT_COLUMNS, Hit, SearchPage, SearchQuery
from storage.search_tables import POSTED_FIELDS, SearchEntryRow, SearchTermRow

ENTRY = SearchEntryRow.__table__
TERM = SearchTermRow.__table__
WORD = re.compile(r"[^\W_]+")
_HIT_COLUMNS = (ENTRY.c.id, ENTRY.c.pid, ENTRY.c.kind, ENTRY.c.version, ENTRY.c.status,
                ENTRY.c.name, ENTRY.c.catalogue, ENTRY.c.event_date, ENTRY.c.modified,
                ENTRY.c.latitude, ENTRY.c.longitude, ENTRY.c.thumbnail, ENTRY.c.text,
                ObjectRow.organisation_id, ObjectRow.organisation_name)


_WITH_OBJECT = ENTRY.join(ObjectRow.__table__, ObjectRow.pid == ENTRY.c.pid)
_FTS = table("search_text")
_FTS_ID: ColumnElement[int] = literal_column("search_text.rowid")
# The most rows a page reads in sort order, checking each against the hits; beyond it the
# hits' ids go to SQL, which reads each. On SQLite reading 2,000 rows costs about what
# ordering 2,000 ids does. PostgreSQL visits the table for each id (4.5 ms for 1,616) but
# reads the sort index alone: at 5,000, two filters and three facets took the same p99 at
# 10,000 and 100,000 specimens (11.3 and 11.5 ms), at 2,000 twice as long at 100,000.
# Walking costs the same at any size for the same share of hits; ordering ids grows.
WALK_ROWS = {"sqlite": 2_000, "postgresql": 5_000}
Among = Callable[[Any], ColumnElement[bool]]
# A first term filter matching at most this many entries has the others checked per row.
FEW_FIRST = 10_000
# Term filters, most selective first: the first one the query has is where matching
# starts. Fields not listed come between (unknown: middling).
FIELD_ORDER = ("physicalSpecimenID", "target", "species", "specimenName", "title",
               "recordedBy", "identifiedBy", "locality", "genus", "creator", "collectionCode",
               "year", "family", "order", "class", "typeStatus", "countryCode", "country",
               "organisationID", "sourceSystemID", "motivation", "phylum",
               "mergingDecisionStatus", "topicDiscipline", "license", "kingdom",
               "basisOfRecord", "hasMedia")


def _selectivity(field: str) -> int:
    return FIELD_ORDER.index(field) if field in FIELD_ORDER else len(FIELD_ORDER) // 2


def _scope(query: SearchQuery) -> list[ColumnElement[bool]]:
    return [ENTRY.c.kind.in_(query.kinds), ENTRY.c.status.in_(query.statuses)]


def _term_scope(terms: Any, query: SearchQuery, field: str) -> list[ColumnElement[bool]]:
    return [terms.c.field == field, terms.c.kind.in_(query.kinds),
            terms.c.status.in_(query.statuses)]


def _entry_conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The conditions read from the entry itself: collecting dates and coordinates."""
    conditions: list[ColumnElement[bool]] = []
    if query.date_ranges:
        conditions.append(or_(*(and_(
            ENTRY.c.event_date != "",
            ENTRY.c.event_date >= start if start else true(),
            # "1950" as an end includes all of 1950: every date it is a prefix of.
            ENTRY.c.event_date <= end + "~" if end else true())
            for start, end in query.date_ranges)))
    if query.boxes:
        conditions.append(or_(*(and_(ENTRY.c.latitude.between(box.south, box.north),
                                     ENTRY.c.longitude.between(box.west, box.east))
                                for box in query.boxes)))
    return conditions


def words_of(text: str) -> tuple[str, ...]:
    """The words of what someone typed: runs of letters and digits, folded."""
    return tuple(dict.fromkeys(word.casefold() for word in WORD.findall(text)))


class SearchReads(SearchLookups):
    """Searches; suggestions and the other lookups are SearchLookups'."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.postings = Postings(engine)

    def search(self, query: SearchQuery) -> SearchPage:
        """The hits as a bitmap: what SQL must answer (free text, fields with many
        values, dates, places) read as ids once, intersected with the posting bitmaps of
        the kinds, statuses and other filters; the count and the facets are then counted
        on bitmaps, and the page read in sort order (by relevance, from bitmaps too)."""
        with self.engine.connect() as connection:
            matching = self._matching(query, connection)
            ranked = query.sort == "relevance" and bool(query.words)
            found, named = (self._ids(connection, matching, query.words if ranked else ())
                            if matching is not None else (None, []))
            with self.postings.current(connection) as postings:
                scope = postings.scope(query.kinds, query.statuses)
                hits = scope if found is None else scope & found
                for field, keys in query.terms:
                    if field in POSTED_FIELDS:
                        hits = hits & postings.holding(field, keys)
                facets = postings.facets(hits, query.facets, query.facet_size)
                # What a page in sort order walks: the kind's entries, or every kind's.
                candidates = len(postings.scope(query.kinds if len(query.kinds) == 1
                                                else None, query.statuses))
            chosen = (_by_relevance(hits, named, query) if ranked
                      else self._in_sort_order(connection, query, hits, candidates))
            page = self._hits(connection, chosen)
        more = len(page) > query.page_size
        return SearchPage(len(hits), page[:query.page_size], more, facets)

    def read_bitmaps(self) -> None:
        """Bring the posting bitmaps up to the index now, as a search would first; a
        failure is logged, and the next search reads them itself."""
        try:
            with self.engine.connect() as connection, self.postings.current(connection):
                pass
        except SQLAlchemyError as error:
            logging.getLogger(__name__).warning("search bitmaps not read: %s", error)

    def live_counts(self) -> dict[str, int]:
        """How many live objects of each kind the search index holds."""
        with self.engine.connect() as connection, self.postings.current(connection) as postings:
            return {kind: len(postings.scope((kind,), (ACTIVE,))) for kind in postings.kinds()}

    def _ids(self, connection: Connection, matching: Select[Any], named: tuple[str, ...]
             ) -> tuple[BitMap, list[BitMap]]:
        """The ids a statement selects, and for each of the words `named`, those of
        entries whose name holds it; each gathered by the database into one value: a
        PostgreSQL array (a list), SQLite's JSON array (text). PostgreSQL checks the
        names in the same pass (its entries' names have no index of their own); SQLite
        asks FTS5's name column, one word at a time."""
        if self.postgresql:
            found = (matching.add_columns(_NAME_VECTOR.label("named")) if named
                     else matching).subquery()
            gathered = [func.array_agg(found.c.id)] + [
                func.array_agg(found.c.id).filter(found.c.named.op("@@")(_word_query(word)))
                for word in named]
            row = connection.execute(select(*gathered)).one()
            ids, names = row[0], list(row[1:])
        else:
            found = matching.subquery()
            ids = connection.scalar(select(func.json_group_array(found.c.id)))
            names = [connection.scalar(
                select(func.json_group_array(_FTS_ID)).select_from(_FTS)
                .where(self._fts_match((word,), column="name"))) for word in named]
        return _bitmap(ids), [_bitmap(name_ids) for name_ids in names]

    def _among(self, hits: BitMap) -> Among:
        """A condition that a column holds one of these ids, as one bound value: a
        PostgreSQL array, or a JSON array (text) SQLite reads with json_each. On
        PostgreSQL as a set (`IN (SELECT unnest(...))`, hashed once per statement):
        `= ANY(array)` is hashed only in a plan made for the value, and a prepared
        statement's generic plan would search the array once per row."""
        if self.postgresql:
            listed = bindparam("ids", list(hits), type_=ARRAY(Integer))
            return lambda column: column.in_(select(func.unnest(listed)))
        values = func.json_each(bindparam("ids", orjson.dumps(list(hits)).decode())
                                ).table_valued("value")
        return lambda column: column.in_(select(values.c.value))

    # -- what SQL matches --------------------------------------------------------------

    def _matching(self, query: SearchQuery, connection: Connection) -> Select[Any] | None:
        """The ids of the entries matching what the bitmaps cannot answer, read from the
        most selective place: the term filter (on a field with many values) likely to
        match fewest (FIELD_ORDER), else the words, else the entries of the kinds; every
        other condition is checked on what that yields. None: the bitmaps answer all."""
        terms = sorted((term for term in query.terms if term[0] not in POSTED_FIELDS),
                       key=lambda term: _selectivity(term[0]))
        words = query.words
        entry_conditions = _entry_conditions(query)
        matching: Select[Any]
        ids: ColumnElement[Any]
        if terms:
            field, first_keys = terms[0]
            first = TERM.alias("first_term")
            matching = select(first.c.entry_id.label("id")).where(
                *_term_scope(first, query, field), first.c.key.in_(first_keys))
            probe = len(terms) > 1 and self._few(connection, matching)
            for field, keys in terms[1:]:
                other = TERM.alias()
                held = [*_term_scope(other, query, field), other.c.key.in_(keys)]
                matching = matching.where(
                    exists().where(*held, other.c.entry_id == first.c.entry_id) if probe
                    else first.c.entry_id.in_(select(other.c.entry_id).where(*held)))
            if len(first_keys) > 1:
                matching = matching.distinct()  # an entry may hold two of the keys
            ids = first.c.entry_id
        elif words and not self.postgresql:
            # The words' row ids alone: kinds and statuses are the bitmaps' to check.
            matching, ids = select(_FTS_ID.label("id")).select_from(_FTS), _FTS_ID
            matching = matching.where(self._fts_match(words))
            words = ()
        elif words or entry_conditions:
            matching, ids = select(ENTRY.c.id), ENTRY.c.id
            # Words alone (PostgreSQL) leave kinds and statuses to the bitmaps: the GIN
            # index then decides the plan whatever the statistics say (with none yet, it
            # walked a sort index and tested every row: 30 ms at 15,000 entries, not 5).
            if entry_conditions:
                matching = matching.where(*_scope(query))
        else:
            return None
        if words:
            entry_conditions.append(self._text_match(words))
        if entry_conditions and ids is not ENTRY.c.id:
            matching = matching.join(ENTRY, ENTRY.c.id == ids)
        return matching.where(*entry_conditions)

    def _few(self, connection: Connection, first: Select[Any]) -> bool:
        """Whether the first term filter matches few entries: then SQLite checks the
        others row by row (a probe each); else it reads each other field's ids once
        into a temporary index. Either alone is slow on some queries at 100,000
        specimens: probes 116 ms where both fields are broad (24,729 hits), the
        temporary index 80 ms where the first matched 233. PostgreSQL plans the two
        alike (a semi-join), so it is not asked."""
        if self.postgresql:
            return False
        limited = first.limit(FEW_FIRST + 1).subquery()
        return (connection.scalar(select(func.count()).select_from(limited)) or 0) <= FEW_FIRST

    def _text_match(self, words: tuple[str, ...]) -> ColumnElement[bool]:
        if self.postgresql:
            return _VECTOR.op("@@")(self._ts_query(words))
        fts: Select[Any] = select(_FTS_ID).select_from(_FTS).where(self._fts_match(words))
        return ENTRY.c.id.in_(fts)

    @staticmethod
    def _fts_match(words: tuple[str, ...], column: str = "") -> ColumnElement[bool]:
        query = _fts_query(words)
        return literal_column("search_text").op("MATCH")(
            bindparam("fts", f"{{{column}}} : ({query})" if column else query))

    @staticmethod
    def _ts_query(words: tuple[str, ...]) -> Any:
        return func.to_tsquery("english", " & ".join(f"{word}:*" for word in words))

    # -- a page ------------------------------------------------------------------------

    def _in_sort_order(self, connection: Connection, query: SearchQuery, hits: BitMap,
                       candidates: int) -> list[tuple[int, Any]]:
        """One page's (entry id, sort value) in sort order. Where hits are dense among
        the candidates (the entries of the kinds), the candidates are read in order and
        each checked against the hits' bitmap until the page is full: a page of 20 among
        50,000 hits of 100,000 reads about 40 rows. Where they are sparse, or that walk
        read WALK_ROWS (per engine) without filling the page (hits bunched at the far
        end), the hits' ids go to SQL and it orders them (cost: the hits)."""
        if not hits:
            return []
        wanted = query.page_size + 1
        limit = max(2 * wanted * candidates // len(hits), wanted)
        if limit <= WALK_ROWS[self.engine.dialect.name]:
            read = list(connection.execute(self._ordered(query, None).limit(limit)))
            walked = [(entry, value) for entry, value in read if entry in hits][:wanted]
            if len(walked) == wanted or len(read) < limit:  # full, or nothing further
                return walked
        return list(connection.execute(self._ordered(query, self._among(hits)).limit(wanted)))

    def _ordered(self, query: SearchQuery, among: Among | None) -> Select[Any]:
        """(id, sort value) in page order after the cursor: the candidates (`among`
        None), or the hits' ids among them. The sort column's index is read: (kind,
        status, column, id) for one kind, (status, column, id) for several; with `among`
        every entry's, for the condition on the ids to narrow (with kind and status as
        conditions, SQLite would walk that index and check each row against a handful
        of ids: 15 ms at 100,000)."""
        position = ENTRY.c[SORT_COLUMNS[query.sort] or "modified"]
        ordered = select(ENTRY.c.id, position.label("position"))
        if among is None:
            ordered = ordered.where(*([ENTRY.c.kind == query.kinds[0]] if len(query.kinds) == 1
                                      else []), ENTRY.c.status.in_(query.statuses))
        else:
            ordered = ordered.where(among(ENTRY.c.id))
        if query.after is not None:
            key, after = tuple_(position, ENTRY.c.id), tuple_(*query.after)
            ordered = ordered.where(key < after if query.descending else key > after)
        return ordered.order_by(*((position.desc(), ENTRY.c.id.desc()) if query.descending
                                  else (position, ENTRY.c.id)))

    def _hits(self, connection: Connection, chosen: list[tuple[int, Any]]) -> list[Hit]:
        """The page's hits, in the order chosen, each with its sort value."""
        if not chosen:
            return []
        positions = dict(chosen)
        rows = {row[0]: row for row in connection.execute(
            select(*_HIT_COLUMNS).select_from(_WITH_OBJECT)
            .where(ENTRY.c.id.in_(list(positions))))}
        return [Hit(*rows[entry], position=(value, entry))  # type: ignore[call-arg]
                for entry, value in chosen if entry in rows]


_VECTOR: ColumnElement[Any] = literal_column("search_entries.text_vector")
_NAME_VECTOR: ColumnElement[Any] = literal_column("search_entries.name_vector")


def _word_query(word: str) -> Any:
    return func.to_tsquery("english", f"{word}:*")


def _bitmap(ids: str | list[int] | None) -> BitMap:
    return BitMap(orjson.loads(ids) if isinstance(ids, str) else ids or [])


def _by_relevance(hits: BitMap, named: list[BitMap], query: SearchQuery
                  ) -> list[tuple[int, int]]:
    """One page's (entry id, score) by relevance: the hits whose name holds more of the
    words first (the score: how many), and among equals the latest added first (the
    highest entry id). Every hit holds every word somewhere (the words must all match),
    so what tells hits apart is where: a Carabus specimen before a note that mentions
    Carabus. Counted on bitmaps, it costs the same at any size (docs/search.md)."""
    levels = [hits]  # levels[score]: the hits whose name holds `score` of the words
    for word_named in named:
        levels = [(levels[score] - word_named if score < len(levels) else BitMap())
                  | (levels[score - 1] & word_named if score else BitMap())
                  for score in range(len(levels) + 1)]
    wanted = query.page_size + 1
    chosen: list[tuple[int, int]] = []
    after_score, after_id = query.after if query.after is not None else (len(levels), 0)
    for score in range(min(int(after_score), len(levels) - 1), -1, -1):
        level = levels[score]
        end = level.rank(after_id - 1) if score == after_score else len(level)
        for index in range(end - 1, max(end - (wanted - len(chosen)), 0) - 1, -1):
            chosen.append((level[index], score))
        if len(chosen) == wanted:
            break
    return chosen


def _fts_query(words: tuple[str, ...]) -> str:
    """FTS5 syntax for words that must all match, each as a prefix: `"word"*`. A word
    holds letters and digits only, so quoting it leaves no syntax in it."""
    return " ".join(f'"{word}"*' for word in words)
