"""The search index's reads beside search itself: suggestions, the pictures and names a
page shows, counts for the home page, and the stored document `fdo verify` compares.
`SearchReads` (storage/search_reads.py) has them all."""

from __future__ import annotations

import json

from sqlalchemy import and_, bindparam, func, select, text
from sqlalchemy.engine import Connection, Engine

from schemas import ACTIVE, MEDIA
from storage.models import LinkRow, ObjectRow
from storage.search_query import Suggestion
from storage.search_tables import SearchDocument, SearchEntryRow, SearchTermRow, fold

ENTRY = SearchEntryRow.__table__
TERM = SearchTermRow.__table__
SIMILAR_FROM = 4  # characters a prefix needs before names spelt like it are suggested

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
# The newest of an organisation's last RECENT objects that names it: a name looked for
# further back would read every object of an organisation whose records give none (all
# 145,000 at 100,000 specimens, 20 ms on PostgreSQL).
RECENT = 50
_RECENT = (select(ObjectRow.organisation_name, ObjectRow.sequence)
           .where(ObjectRow.organisation_id == bindparam("organisation"))
           .order_by(ObjectRow.sequence.desc()).limit(RECENT).subquery("recent"))
_LATEST_NAME = (select(_RECENT.c.organisation_name)
                .where(_RECENT.c.organisation_name.is_not(None))
                .order_by(_RECENT.c.sequence.desc()).limit(1))
_DOCUMENT_COLUMNS = (ENTRY.c.id, ENTRY.c.version, ENTRY.c.name, ENTRY.c.catalogue,
                     ENTRY.c.event_date, ENTRY.c.latitude, ENTRY.c.longitude,
                     ENTRY.c.thumbnail, ENTRY.c.text, ENTRY.c.posted)


class SearchLookups:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"

    def suggest(self, kind: str, fields: tuple[str, ...], prefix: str,
                limit: int) -> list[Suggestion]:
        """Values of `fields` on live objects of one kind that start with `prefix`
        (case-insensitive), in field order, then alphabetically; on PostgreSQL, when none
        does, names spelt like it (pg_trgm)."""
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
            # Only when no name starts with it (a misspelling), and from four characters
            # on: a trigram search reads every name sharing a trigram with the prefix,
            # most names for a short one (745 ms p99 at 100,000), and "Ursus " with a
            # few prefix matches still took 419 ms to be topped up (bench/README.md).
            if self.postgresql and not found and len(start) >= SIMILAR_FROM:
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
            terms = [(field, value) for field, value in connection.execute(
                select(TERM.c.field, TERM.c.value).where(TERM.c.entry_id == row.id))]
            terms += [(field, value) for field, value in json.loads(row.posted)]
            document = SearchDocument(
                name=row.name, catalogue=row.catalogue, event_date=row.event_date,
                latitude=row.latitude, longitude=row.longitude, thumbnail=row.thumbnail,
                text=row.text, terms=tuple(sorted(terms)))
        return row.version, document

    def organisation_names(self, ids: list[str]) -> dict[str, str]:
        """The name the newest of each organisation's last RECENT records gives it, if
        any: a short range of (organisation, feed position) each, where a maximum over
        every object of an organisation read them all (34 ms for 145,000 objects)."""
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for organisation in ids:
                name = connection.scalar(_LATEST_NAME, {"organisation": organisation})
                if name:
                    found[organisation] = name
        return found

    def names(self, pids: list[str]) -> dict[str, str]:
        """The name each of these objects' entries shows (the home page's latest changes)."""
        if not pids:
            return {}
        statement = select(ENTRY.c.pid, ENTRY.c.name).where(ENTRY.c.pid.in_(pids))
        with self.engine.connect() as connection:
            return {pid: name for pid, name in connection.execute(statement) if name}
