"""Running a search (storage/search_query.py) on the index: SQLite FTS5 or PostgreSQL's
full-text search for words, term ranges for filters and facets, keyset pages.

Every page is a keyset page: the hits after the last one sent, in (sort value, entry id)
order, read from an index on (kind, status, sort column, id). The last page of a million
hits costs what the first does, and the order is stable however the hits change between
pages: a hit changed meanwhile moves, none is sent twice under one sort value.

The user's words never reach an engine as syntax: they are split into word characters
here and each is quoted (FTS5) or written as a lexeme prefix (PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    any_,
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
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.types import ARRAY, Double

from storage.models import ObjectRow
from storage.search_lookups import SearchLookups
from storage.search_query import SORT_COLUMNS, FacetValue, Hit, SearchPage, SearchQuery
from storage.search_tables import SearchEntryRow, SearchTermRow

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
# Above this many hits a page is read in sort order and a facet from the field's terms,
# each row checked against the hits; up to it, from the hits' ids.
DENSE_HITS = 10_000
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


def _checked_scope(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The kinds and statuses as conditions SQLite checks on each row but never reads the
    entries by (`kind || ''` is not the indexed column): the words must be read first,
    and entries read first would run the full-text match once per entry."""
    return [ENTRY.c.kind.concat("").in_(query.kinds),
            ENTRY.c.status.concat("").in_(query.statuses)]


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

    def search(self, query: SearchQuery) -> SearchPage:
        """The hits' ids are read once, as one value, and the count, the page and the
        facets read among them. Few hits (up to DENSE_HITS) are read from their ids;
        many, in index order (the page in sort order, a facet from the field's terms),
        each row checked against them."""
        with self.engine.connect() as connection:
            matching = self._matching(query, connection) if query.filtered else None
            hits: Hits | None = None
            if matching is None:
                total = connection.scalar(select(func.count()).select_from(ENTRY)
                                          .where(*_scope(query)))
            else:
                found = matching.subquery()
                # The ids as one value (a JSON text, an array): no row per hit to fetch.
                gathered = (func.array_agg(found.c.id) if self.postgresql
                            else func.json_group_array(found.c.id))
                total, ids = connection.execute(select(func.count(), gathered)).one()
                dense = total > DENSE_HITS
                hits = Hits(self._among(ids, dense), dense)
            page = self._page(connection, query, hits)
            facets = self._facets(connection, query, hits)
        more = len(page) > query.page_size
        return SearchPage(int(total or 0), page[:query.page_size], more, facets)

    def _among(self, ids: list[int] | str | None, dense: bool) -> Among:
        """A condition that a column holds one of these ids, as one bound value: a
        PostgreSQL array, or a JSON array (text) SQLite reads with json_each. Many ids
        on PostgreSQL as a set (`IN (SELECT unnest(...))`, hashed once per statement):
        `= ANY(array)` is hashed only in a plan made for the value, and a prepared
        statement's generic plan would search the array once per row."""
        if self.postgresql:
            listed = bindparam("ids", ids or [], type_=ARRAY(Integer))
            if dense:
                return lambda column: column.in_(select(func.unnest(listed)))
            return lambda column: column == any_(listed)
        values = func.json_each(bindparam("ids", ids or "[]")).table_valued("value")
        return lambda column: column.in_(select(values.c.value))

    # -- what matches ------------------------------------------------------------------

    def _matching(self, query: SearchQuery, connection: Connection) -> Select[Any]:
        """The ids of the entries that match, read from the most selective place: the
        term filter likely to match fewest (FIELD_ORDER), else the words, else the
        entries of the kinds; every other condition is checked on what that yields."""
        terms = sorted(query.terms, key=lambda term: _selectivity(term[0]))
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
            matching, ids = select(_FTS_ID.label("id")).select_from(_FTS), _FTS_ID
            matching = matching.where(self._fts_match(words))
            entry_conditions += _checked_scope(query)
            words = ()
        else:
            matching, ids = select(ENTRY.c.id), ENTRY.c.id
            matching = matching.where(*_scope(query))
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
    def _fts_match(words: tuple[str, ...]) -> ColumnElement[bool]:
        return literal_column("search_text").op("MATCH")(bindparam("fts", _fts_query(words)))

    @staticmethod
    def _ts_query(words: tuple[str, ...]) -> Any:
        return func.to_tsquery("english", " & ".join(f"{word}:*" for word in words))

    # -- a page ------------------------------------------------------------------------

    def _page(self, connection: Connection, query: SearchQuery, hits: Hits | None
              ) -> list[Hit]:
        """One page in sort order: read among the hits' ids, or (many hits) in the order
        of the sort column's index, each row checked against them, until the page is
        full."""
        statement: Any  # a Select, which mypy cannot follow through .where()
        if query.sort == "relevance" and query.words:
            statement, position = self._ranked(query, hits)
        else:
            position = ENTRY.c[SORT_COLUMNS[query.sort] or "modified"]
            statement = select(ENTRY.c.id, position.label("position")).where(
                *_hit_conditions(query, ENTRY.c.id, hits))
        descending = query.descending and query.sort != "relevance"
        if query.after is not None:
            key, after = tuple_(position, ENTRY.c.id), tuple_(*query.after)
            statement = statement.where(key < after if descending else key > after)
        order = (position.desc(), ENTRY.c.id.desc()) if descending else (position, ENTRY.c.id)
        # The page's ids first; the rest of each hit, and its organisation, for them only.
        page = statement.order_by(*order).limit(query.page_size + 1).subquery("page")
        shown = page.c.position.desc() if descending else page.c.position
        rows = connection.execute(
            select(*_HIT_COLUMNS, page.c.position)
            .select_from(_WITH_OBJECT.join(page, page.c.id == ENTRY.c.id))
            .order_by(shown, ENTRY.c.id.desc() if descending else ENTRY.c.id))
        return [_hit(tuple(row)) for row in rows]

    def _ranked(self, query: SearchQuery, hits: Hits | None) -> tuple[Select[Any], Any]:
        """Hit ids in relevance order: best first, by FTS5's bm25 (smaller is better) or
        minus PostgreSQL's ts_rank."""
        if self.postgresql:
            # As double precision: a real sent out and back as a cursor would not compare
            # equal to itself.
            rank = -func.ts_rank(_VECTOR, self._ts_query(query.words)).cast(Double)
            assert hits is not None  # relevance needs words: a filtered search
            hit = hits.among(ENTRY.c.id)
            return select(ENTRY.c.id, rank.label("position")).where(hit), rank
        ranks = (select(_FTS_ID.label("id"), literal_column("rank").label("rank"))
                 .select_from(_FTS).where(self._fts_match(query.words)).subquery("ranks"))
        statement = (select(ENTRY.c.id, ranks.c.rank.label("position"))
                     .select_from(ENTRY.join(ranks, ranks.c.id == ENTRY.c.id))
                     .where(*_checked_scope(query), *_entry_conditions(query)))
        if query.terms and hits is not None:  # else the words are the hits
            statement = statement.where(hits.among(ENTRY.c.id + 0 if hits.dense
                                                   else ENTRY.c.id))
        return statement, ranks.c.rank

    # -- facets ----------------------------------------------------------------------

    def _facets(self, connection: Connection, query: SearchQuery, hits: Hits | None
                ) -> dict[str, list[FacetValue]]:
        """The values of each facet's field among the hits, most frequent first, in one
        statement (the hits' ids are read into a temporary index or a hash once, not
        once per facet): from the terms of the hits' ids, or (many hits, or all) from
        the fields' terms, each checked."""
        if not query.facets:
            return {}
        count = func.count()
        grouped = select(TERM.c.field, TERM.c.key, func.min(TERM.c.value).label("value"),
                         count.label("count"),
                         func.row_number().over(partition_by=TERM.c.field,
                                                order_by=(count.desc(), TERM.c.key))
                         .label("place"))
        if hits is None or hits.dense:
            grouped = grouped.where(TERM.c.field.in_(query.facets),
                                    TERM.c.kind.in_(query.kinds),
                                    TERM.c.status.in_(query.statuses))
        else:  # read from the ids: the field checked per term, not a range to scan
            grouped = grouped.where(TERM.c.field.concat("").in_(query.facets))
        ranked = (grouped.where(*_hit_conditions(query, TERM.c.entry_id, hits))
                  .group_by(TERM.c.field, TERM.c.key).subquery())
        rows = connection.execute(
            select(ranked.c.field, ranked.c.key, ranked.c.value, ranked.c["count"])
            .where(ranked.c.place <= query.facet_size).order_by(ranked.c.place))
        facets: dict[str, list[FacetValue]] = {field: [] for field in query.facets}
        for field, key, value, number in rows:
            facets[field].append(FacetValue(value=value, count=number, key=key))
        return facets


@dataclass(frozen=True)
class Hits:
    """The ids of a search's hits, as a condition on an id column; `dense`: many, so
    statements read in index order and check each row against them."""

    among: Among
    dense: bool


def _hit_conditions(query: SearchQuery, ids: Any, hits: Hits | None
                    ) -> list[ColumnElement[bool]]:
    """That the entry (`ids`: its id column, an entry's or a term's) is a hit."""
    scope = _scope(query) if ids is ENTRY.c.id else []  # terms carry their own
    if hits is None:
        return scope
    if hits.dense:
        return [*scope, hits.among(ids + 0)]  # `+ 0`: checked, never read first
    return [hits.among(ids)]


def _hit(row: tuple[Any, ...]) -> Hit:
    """A hit from its row: the hit columns, then its sort value."""
    return Hit(*row[:-1], position=(row[-1], row[0]))  # type: ignore[misc]


_VECTOR: ColumnElement[Any] = literal_column("search_entries.text_vector")
def _fts_query(words: tuple[str, ...]) -> str:
    """FTS5 syntax for words that must all match, each as a prefix: `"word"*`. A word
    holds letters and digits only, so quoting it leaves no syntax in it."""
    return " ".join(f'"{word}"*' for word in words)
