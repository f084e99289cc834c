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
    text,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select
from sqlalchemy.types import ARRAY, Double

from schemas import ACTIVE, MEDIA
from storage.models import LinkRow, ObjectRow
from storage.search_query import SORT_COLUMNS, FacetValue, Hit, SearchPage, SearchQuery, Suggestion
from storage.search_tables import SearchDocument, SearchEntryRow, SearchTermRow
from storage.search_writes import HAS_MEDIA, fold

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
# each checked against the hits; up to it, the hits' ids are read first, once.
DENSE_HITS = 10_000
SIMILAR_FROM = 4  # characters a prefix needs before names spelt like it are suggested
Among = Callable[[Any], ColumnElement[bool]]
# Term filters, most selective first: the first one the query has is where matching
# starts. Fields not listed come between (unknown: middling).
FIELD_ORDER = ("physicalSpecimenID", "target", "species", "specimenName", "title",
               "recordedBy", "identifiedBy", "locality", "genus", "creator", "collectionCode",
               "year", "family", "order", "class", "typeStatus", "countryCode", "country",
               "organisationID", "sourceSystemID", "motivation", "phylum",
               "mergingDecisionStatus", "topicDiscipline", "license", "kingdom",
               "basisOfRecord", "hasMedia")


# The distinct keys of one field from `start` on, each with one of its values: a walk from
# key to next key down the terms' primary key (a loose index scan), so a prefix shared by
# a million terms of ten names costs ten index seeks, not a million rows.
_DISTINCT_KEYS = text("""
WITH RECURSIVE found(key, n) AS (
  SELECT min(key), 1 FROM search_terms
  WHERE field = :field AND kind = :kind AND status = :status AND key >= :start AND key < :end
  UNION ALL
  SELECT (SELECT min(key) FROM search_terms
          WHERE field = :field AND kind = :kind AND status = :status
            AND key > found.key AND key < :end), n + 1
  FROM found WHERE found.key IS NOT NULL AND n < :limit
)
SELECT (SELECT value FROM search_terms
        WHERE field = :field AND kind = :kind AND status = :status AND key = found.key
        LIMIT 1)
FROM found WHERE found.key IS NOT NULL""")


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


class SearchReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"

    def search(self, query: SearchQuery) -> SearchPage:
        """Few hits (up to DENSE_HITS) are read once, as ids, and the page and the facets
        read among them; many are matched again by each statement, which then reads in
        index order and checks each row against them."""
        matching = self._matching(query) if query.filtered else None
        with self.engine.connect() as connection:
            among: Among | None = None
            if matching is None:
                total = connection.scalar(select(func.count()).select_from(ENTRY)
                                          .where(*_scope(query)))
            else:
                first = matching.limit(DENSE_HITS + 1).subquery()
                # The ids as one value (a JSON text, an array): no row per hit to fetch.
                gathered = (func.array_agg(first.c.id) if self.postgresql
                            else func.json_group_array(first.c.id))
                total, ids = connection.execute(select(func.count(), gathered)).one()
                if total <= DENSE_HITS:
                    among = self._among(ids)
                else:
                    total = connection.scalar(select(func.count()).select_from(
                        matching.subquery()))
            hits = self._page(connection, query, matching, among)
            facets = {field: self._facet(connection, query, matching, among, field)
                      for field in query.facets}
        more = len(hits) > query.page_size
        return SearchPage(int(total or 0), hits[:query.page_size], more, facets)

    def _among(self, ids: list[int] | str | None) -> Among:
        """A condition that a column holds one of these ids, as one bound value: a
        PostgreSQL array, or a JSON array (text) SQLite reads with json_each."""
        if self.postgresql:
            listed = bindparam("ids", ids or [], type_=ARRAY(Integer))
            return lambda column: column == any_(listed)
        values = func.json_each(bindparam("ids", ids or "[]")).table_valued("value")
        return lambda column: column.in_(select(values.c.value))

    # -- what matches ------------------------------------------------------------------

    def _matching(self, query: SearchQuery, with_words: bool = True) -> Select[Any]:
        """The ids of the entries that match, read from the most selective place: the
        term filter likely to match fewest (FIELD_ORDER), else the words, else the
        entries of the kinds; every other condition is checked on what that yields."""
        terms = sorted(query.terms, key=lambda term: _selectivity(term[0]))
        words = query.words if with_words else ()
        entry_conditions = _entry_conditions(query)
        matching: Select[Any]
        ids: ColumnElement[Any]
        if terms:
            field, first_keys = terms[0]
            first = TERM.alias("first_term")
            matching = select(first.c.entry_id.label("id")).where(
                *_term_scope(first, query, field), first.c.key.in_(first_keys))
            for field, keys in terms[1:]:
                other = TERM.alias()
                matching = matching.where(exists().where(
                    *_term_scope(other, query, field), other.c.key.in_(keys),
                    other.c.entry_id == first.c.entry_id))
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

    def _page(self, connection: Connection, query: SearchQuery, matching: Select[Any] | None,
              among: Among | None) -> list[Hit]:
        """One page in sort order: read among the hits' ids, or (many hits) in the order
        of the sort column's index, each row checked against them, until the page is
        full."""
        statement: Any  # a Select, which mypy cannot follow through .where()
        if query.sort == "relevance" and query.words:
            statement, position = self._ranked(query, matching, among)
        else:
            position = ENTRY.c[SORT_COLUMNS[query.sort] or "modified"]
            statement = select(ENTRY.c.id, position.label("position")).where(
                *self._hits(query, ENTRY.c.id, matching, among))
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

    @staticmethod
    def _hits(query: SearchQuery, ids: Any, matching: Select[Any] | None,
              among: Among | None) -> list[ColumnElement[bool]]:
        """That the entry (`ids`: its id column) is a hit."""
        if among is not None:
            return [among(ids)]
        scope = _scope(query) if ids is ENTRY.c.id else []  # terms carry their own
        if matching is None:
            return scope
        return [*scope, (ids + 0).in_(matching)]  # `+ 0`: checked, never read first

    def _ranked(self, query: SearchQuery, matching: Select[Any] | None,
                among: Among | None) -> tuple[Select[Any], Any]:
        """Hit ids in relevance order: best first, by FTS5's bm25 (smaller is better) or
        minus PostgreSQL's ts_rank."""
        if self.postgresql:
            # As double precision: a real sent out and back as a cursor would not compare
            # equal to itself.
            rank = -func.ts_rank(_VECTOR, self._ts_query(query.words)).cast(Double)
            hit = among(ENTRY.c.id) if among is not None else ENTRY.c.id.in_(
                matching if matching is not None else self._matching(query))
            return select(ENTRY.c.id, rank.label("position")).where(hit), rank
        ranks = (select(_FTS_ID.label("id"), literal_column("rank").label("rank"))
                 .select_from(_FTS).where(self._fts_match(query.words)).subquery("ranks"))
        statement = (select(ENTRY.c.id, ranks.c.rank.label("position"))
                     .select_from(ENTRY.join(ranks, ranks.c.id == ENTRY.c.id))
                     .where(*_checked_scope(query), *_entry_conditions(query)))
        if among is not None:
            statement = statement.where(among(ENTRY.c.id))
        elif query.terms:
            statement = statement.where(ENTRY.c.id.in_(self._matching(query, with_words=False)))
        return statement, ranks.c.rank

    # -- facets and suggestions --------------------------------------------------------

    def _facet(self, connection: Connection, query: SearchQuery, matching: Select[Any] | None,
               among: Among | None, field: str) -> list[FacetValue]:
        """The values of one field among the hits, most frequent first: from the terms of
        the hits' ids, or (many hits, or all) from the field's terms, each checked."""
        count = func.count().label("count")
        statement = (select(TERM.c.key, func.min(TERM.c.value), count)
                     .where(TERM.c.field == field))
        if among is None:
            statement = statement.where(*_term_scope(TERM, query, field)[1:])
        statement = (statement.where(*self._hits(query, TERM.c.entry_id, matching, among))
                     .group_by(TERM.c.key).order_by(count.desc(), TERM.c.key)
                     .limit(query.facet_size))
        return [FacetValue(value=value, count=number, key=key)
                for key, value, number in connection.execute(statement)]

    def suggest(self, kind: str, fields: tuple[str, ...], prefix: str,
                limit: int) -> list[Suggestion]:
        """Values of `fields` on live objects of one kind that start with `prefix`
        (case-insensitive), in field order, then alphabetically; on PostgreSQL topped up
        with names spelt like it (pg_trgm)."""
        start = fold(prefix)
        if not start:
            return []
        found: list[Suggestion] = []
        with self.engine.connect() as connection:
            for field in fields:
                rows = connection.execute(_DISTINCT_KEYS, {
                    "field": field, "kind": kind, "status": ACTIVE, "start": start,
                    "end": start + "\U0010ffff", "limit": limit - len(found)})
                found += [Suggestion(field, value) for value in rows.scalars()]
                if len(found) == limit:
                    return found
            # From four characters on: shorter, every name shares a trigram with it, and the
            # index would hand back most of them (745 ms p99 at 100,000, bench/README.md).
            if self.postgresql and len(start) >= SIMILAR_FROM:
                found += self._similar(connection, kind, fields, start, limit, found)
        return found

    @staticmethod
    def _similar(connection: Connection, kind: str, fields: tuple[str, ...], start: str,
                 limit: int, found: list[Suggestion]) -> list[Suggestion]:
        """Values spelt like `start` (pg_trgm's `%`): a misspelt name still finds its taxon."""
        similarity = func.max(func.similarity(TERM.c.key, start))
        statement = (select(TERM.c.field, func.min(TERM.c.value))
                     .where(TERM.c.field.in_(fields), TERM.c.kind == kind,
                            TERM.c.status == ACTIVE, TERM.c.key.op("%")(start))
                     .group_by(TERM.c.field, TERM.c.key)
                     .order_by(similarity.desc(), TERM.c.key).limit(limit))
        seen = {(item.field, fold(item.value)) for item in found}
        similar = [Suggestion(*row) for row in connection.execute(statement)]
        return [item for item in similar
                if (item.field, fold(item.value)) not in seen][:limit - len(found)]

    # -- what else a page shows, and what verify compares ------------------------------

    def thumbnails(self, pids: list[str]) -> dict[str, str]:
        """A picture for each of these objects that has one: a live media object's file,
        its own or one linked with it (either direction)."""
        media = ENTRY.alias("media")
        # Kind and status checked on the page's entries, never read from the (kind,
        # status) indexes: SQLite chose them and walked every media entry (190 ms a page
        # at 44,000 media objects, 0.1 ms reading the page's PIDs and links instead).
        live = and_(media.c.kind.concat("") == MEDIA.name,
                    media.c.status.concat("") == ACTIVE, media.c.thumbnail.is_not(None))
        statements = [
            select(media.c.pid, media.c.thumbnail).where(live, media.c.pid.in_(pids)),
            select(LinkRow.target, media.c.thumbnail).join(media, media.c.pid == LinkRow.source)
            .where(live, LinkRow.target.in_(pids)),
            select(LinkRow.source, media.c.thumbnail).join(media, media.c.pid == LinkRow.target)
            .where(live, LinkRow.source.in_(pids))]
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for statement in statements:
                for pid, thumbnail in connection.execute(statement):
                    found.setdefault(pid, thumbnail)
        return found

    def stored_document(self, pid: str) -> tuple[int, SearchDocument] | None:
        """The version an object's entry shows and the document it holds, as
        `SearchDocument` (the hasMedia term, which other objects set, left out)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(*_DOCUMENT_COLUMNS).where(ENTRY.c.pid == pid)).first()
            if row is None:
                return None
            terms = connection.execute(
                select(TERM.c.field, TERM.c.value)
                .where(TERM.c.entry_id == row.id, TERM.c.field != HAS_MEDIA))
            document = SearchDocument(*row[2:], terms=tuple(sorted((f, v) for f, v in terms)))
        return row.version, document

    def organisation_names(self, ids: list[str]) -> dict[str, str]:
        """The names records give these organisations."""
        if not ids:
            return {}
        statement = (select(ObjectRow.organisation_id, func.max(ObjectRow.organisation_name))
                     .where(ObjectRow.organisation_id.in_(ids))
                     .group_by(ObjectRow.organisation_id))
        with self.engine.connect() as connection:
            return {key: name for key, name in connection.execute(statement) if key and name}

    def names(self, pids: list[str]) -> dict[str, str]:
        """The name each of these objects' entries shows (the home page's latest changes)."""
        if not pids:
            return {}
        statement = select(ENTRY.c.pid, ENTRY.c.name).where(ENTRY.c.pid.in_(pids))
        with self.engine.connect() as connection:
            return {pid: name for pid, name in connection.execute(statement) if name}

    def live_counts(self) -> dict[str, int]:
        """How many live objects of each kind the search index holds."""
        statement = (select(ENTRY.c.kind, func.count()).where(ENTRY.c.status == ACTIVE)
                     .group_by(ENTRY.c.kind))
        with self.engine.connect() as connection:
            return {kind: int(number) for kind, number in connection.execute(statement)}


def _hit(row: tuple[Any, ...]) -> Hit:
    """A hit from its row: the hit columns, then its sort value."""
    return Hit(*row[:-1], position=(row[-1], row[0]))  # type: ignore[misc]


_VECTOR: ColumnElement[Any] = literal_column("search_entries.text_vector")
_DOCUMENT_COLUMNS = (ENTRY.c.id, ENTRY.c.version, ENTRY.c.name, ENTRY.c.catalogue,
                     ENTRY.c.event_date, ENTRY.c.latitude, ENTRY.c.longitude,
                     ENTRY.c.thumbnail, ENTRY.c.text)


def _fts_query(words: tuple[str, ...]) -> str:
    """FTS5 syntax for words that must all match, each as a prefix: `"word"*`. A word
    holds letters and digits only, so quoting it leaves no syntax in it."""
    return " ".join(f'"{word}"*' for word in words)
