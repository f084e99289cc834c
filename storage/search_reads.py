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
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select
from sqlalchemy.types import Double

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


def words_of(text: str) -> tuple[str, ...]:
    """The words of what someone typed: runs of letters and digits, folded."""
    return tuple(dict.fromkeys(word.casefold() for word in WORD.findall(text)))


class SearchReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"

    def search(self, query: SearchQuery) -> SearchPage:
        conditions = self._conditions(query)
        with self.engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(ENTRY).where(*conditions))
            hits = self._page(connection, query, conditions)
            facets = {field: self._facet(connection, query, conditions, field)
                      for field in query.facets}
        more = len(hits) > query.page_size
        return SearchPage(int(total or 0), hits[:query.page_size], more, facets)

    # -- what matches ------------------------------------------------------------------

    def _conditions(self, query: SearchQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [ENTRY.c.kind.in_(query.kinds),
                                                 ENTRY.c.status.in_(query.statuses)]
        for field, keys in query.terms:
            conditions.append(ENTRY.c.id.in_(
                select(TERM.c.entry_id).where(*self._term_scope(query, field),
                                              TERM.c.key.in_(keys))))
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
        if query.words:
            conditions.append(self._text_match(query.words))
        return conditions

    @staticmethod
    def _term_scope(query: SearchQuery, field: str) -> list[ColumnElement[bool]]:
        return [TERM.c.field == field, TERM.c.kind.in_(query.kinds),
                TERM.c.status.in_(query.statuses)]

    def _text_match(self, words: tuple[str, ...]) -> ColumnElement[bool]:
        if self.postgresql:
            return _VECTOR.op("@@")(self._ts_query(words))
        matching: Select[Any] = (select(literal_column("rowid")).select_from(table("search_text"))
                    .where(literal_column("search_text").op("MATCH")(
                        bindparam("fts", _fts_query(words)))))
        return ENTRY.c.id.in_(matching)

    @staticmethod
    def _ts_query(words: tuple[str, ...]) -> Any:
        return func.to_tsquery("english", " & ".join(f"{word}:*" for word in words))

    # -- a page ------------------------------------------------------------------------

    def _page(self, connection: Connection, query: SearchQuery,
              conditions: list[ColumnElement[bool]]) -> list[Hit]:
        statement: Select[Any]
        if query.sort == "relevance" and query.words:
            statement, position, descending = self._ranked(query, conditions)
        else:
            position = ENTRY.c[SORT_COLUMNS[query.sort] or "modified"]
            descending = query.descending
            statement = select(*_HIT_COLUMNS, position).select_from(_WITH_OBJECT).where(
                *conditions)
        if query.after is not None:
            key = tuple_(position, ENTRY.c.id)
            after = tuple_(*query.after)
            statement = statement.where(key < after if descending else key > after)  # type: ignore[assignment]
        order = (position.desc(), ENTRY.c.id.desc()) if descending else (position, ENTRY.c.id)
        rows = connection.execute(statement.order_by(*order).limit(query.page_size + 1))
        return [_hit(tuple(row)) for row in rows]

    def _ranked(self, query: SearchQuery, conditions: list[ColumnElement[bool]]
                ) -> tuple[Select[Any], Any, bool]:
        """Hits in relevance order: best first, by FTS5's bm25 (smaller is better) or
        minus PostgreSQL's ts_rank."""
        if self.postgresql:
            # As double precision: a real sent out and back as a cursor would not compare
            # equal to itself.
            rank = -func.ts_rank(_VECTOR, self._ts_query(query.words)).cast(Double)
            statement = select(*_HIT_COLUMNS, rank).select_from(_WITH_OBJECT).where(*conditions)
            return statement, rank, False
        ranks = (select(literal_column("rowid").label("id"), literal_column("rank").label("rank"))
                 .select_from(table("search_text"))
                 .where(literal_column("search_text").op("MATCH")(
                     bindparam("ranked", _fts_query(query.words))))
                 .subquery("ranks"))
        statement = (select(*_HIT_COLUMNS, ranks.c.rank)
                     .select_from(_WITH_OBJECT.join(ranks, ranks.c.id == ENTRY.c.id))
                     .where(*conditions[:-1]))  # the words: matched by the join
        return statement, ranks.c.rank, False

    # -- facets and suggestions --------------------------------------------------------

    def _facet(self, connection: Connection, query: SearchQuery,
               conditions: list[ColumnElement[bool]], field: str) -> list[FacetValue]:
        """The values of one field among the hits, most frequent first. Keys are counted
        from the terms' index alone (key and entry id are in it; the value is not, and
        reading it for every hit cost a table lookup per hit: 10x at 100,000); the value
        shown is then read for the keys sent only, as the first entry's spells it."""
        count = func.count().label("count")
        counted = (select(TERM.c.key, count).where(*self._term_scope(query, field)))
        if query.filtered:
            counted = counted.where(TERM.c.entry_id.in_(select(ENTRY.c.id).where(*conditions)))
        top = (counted.group_by(TERM.c.key).order_by(count.desc(), TERM.c.key)
               .limit(query.facet_size).subquery("top"))
        value = (select(TERM.c.value).where(TERM.c.field == field, TERM.c.key == top.c.key)
                 .limit(1).scalar_subquery())
        statement = select(top.c.key, value, top.c.count).order_by(top.c.count.desc(),
                                                                    top.c.key)
        return [FacetValue(value=value, count=number, key=key)
                for key, value, number in connection.execute(statement)]

    def suggest(self, kinds: tuple[str, ...], fields: tuple[str, ...], prefix: str,
                limit: int) -> list[Suggestion]:
        """Values of `fields` on live objects that start with `prefix` (case-insensitive),
        most frequent first; on PostgreSQL topped up with names like it (trigrams)."""
        start = fold(prefix)
        if not start:
            return []
        end = start[:-1] + chr(min(ord(start[-1]) + 1, 0x10FFFF))
        count = func.count().label("count")
        scope = [TERM.c.field.in_(fields), TERM.c.kind.in_(kinds), TERM.c.status == ACTIVE]
        statement = (select(TERM.c.field, func.min(TERM.c.value), count)
                     .where(*scope, TERM.c.key >= start, TERM.c.key < end)
                     .group_by(TERM.c.field, TERM.c.key)
                     .order_by(count.desc(), TERM.c.key).limit(limit))
        with self.engine.connect() as connection:
            found = [Suggestion(*row) for row in connection.execute(statement)]
            if self.postgresql and len(found) < limit:
                found += self._similar(connection, scope, start, limit - len(found), found)
        return found

    @staticmethod
    def _similar(connection: Connection, scope: list[ColumnElement[bool]], start: str,
                 limit: int, found: list[Suggestion]) -> list[Suggestion]:
        """Values spelt like `start` (pg_trgm's `%`): a misspelt name still finds its taxon."""
        similarity = func.max(func.similarity(TERM.c.key, start))
        statement = (select(TERM.c.field, func.min(TERM.c.value), func.count())
                     .where(*scope, TERM.c.key.op("%")(start))
                     .group_by(TERM.c.field, TERM.c.key)
                     .order_by(similarity.desc(), TERM.c.key).limit(limit + len(found)))
        seen = {(item.field, fold(item.value)) for item in found}
        similar = [Suggestion(*row) for row in connection.execute(statement)]
        return [item for item in similar if (item.field, fold(item.value)) not in seen][:limit]


    # -- what else a page shows, and what verify compares ------------------------------

    def thumbnails(self, pids: list[str]) -> dict[str, str]:
        """A picture for each of these objects that has one: a live media object's file,
        its own or one linked with it (either direction)."""
        media = ENTRY.alias("media")
        live = and_(media.c.kind == MEDIA.name, media.c.status == ACTIVE,
                    media.c.thumbnail.is_not(None))
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
