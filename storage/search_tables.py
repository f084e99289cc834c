"""The search index's tables: one entry per object (its current version) and the terms it
is filtered and faceted by, beside the object index and written in the same transaction
(storage/search_writes.py), so that what a write returns 201 for is found by the next
request. Like the object index, derived data: `fdo rebuild-index` rebuilds it from S3.

Free text is engine-specific, set up here once when the entries table is created:
- SQLite: an FTS5 table over `search_entries.text` (external content, rowid = entry id),
  kept in step by triggers, with the Porter stemmer and prefix indexes for 2 and 3
  characters;
- PostgreSQL: a stored `tsvector` column generated from `text` (English stemming) with a
  GIN index, and `pg_trgm` on term keys for prefix and fuzzy suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    DDL,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    event,
    inspect,
)
from sqlalchemy import Index as SqlIndex
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# Longest value kept per term and for names: a facet or a filter on 10 kB of text helps
# nobody, and an index key must stay well under PostgreSQL's 2.7 kB btree limit.
TERM_LENGTH = 200
# Term keys compare byte-wise (prefix ranges for suggestions): PostgreSQL's default
# collation would order them by locale rules, which a `key >= 'ab'` range cannot use.
_KEY = String(TERM_LENGTH * 4).with_variant(String(TERM_LENGTH * 4, collation="C"),
                                             "postgresql")


class SearchEntryRow(Base):
    """One row per object: what a hit shows and what it is sorted by."""

    __tablename__ = "search_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(ForeignKey("fdo_objects.pid"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    modified: Mapped[str] = mapped_column(String(24))  # when the version was made
    name: Mapped[str] = mapped_column(String(TERM_LENGTH * 4))
    # The catalogue number as the record gives it, and folded for sorting ('' if none).
    catalogue: Mapped[str] = mapped_column(String(TERM_LENGTH * 4))
    catalogue_key: Mapped[str] = mapped_column(_KEY)
    # The collecting date, ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD; '' if none).
    event_date: Mapped[str] = mapped_column(String(10))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    thumbnail: Mapped[str | None] = mapped_column(String(2048))  # a media object's file
    text: Mapped[str] = mapped_column(Text)  # what free text searches
    # The search position (storage/models.py SEARCH_POSITION) of the last write to this
    # entry's terms: its own version's, or a media object's that set its hasMedia.
    # Processes' bitmaps of the terms (storage/search_postings.py) read what changed past
    # the position they hold.
    changed: Mapped[int | None] = mapped_column(BigInteger)


class SearchTermRow(Base):
    """A value an entry is filtered and faceted by: (field, key) with the entry's kind and
    status copied in. `key` is the value case-folded (what filters match); `value` as
    written (what facets show). On SQLite a table without rowid, clustered on its key:
    a filter on a field with many values reads one range of it. The entry index serves
    the other direction: the terms of given entries (replacing an entry's terms, the
    bitmaps' catch-up). Facets are counted on bitmaps (storage/search_postings.py), so
    neither index carries the value: each term is a smaller write."""

    __tablename__ = "search_terms"
    __table_args__ = (PrimaryKeyConstraint("field", "kind", "status", "key", "entry_id"),
                      {"sqlite_with_rowid": False})
    field: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(_KEY)
    entry_id: Mapped[int] = mapped_column(ForeignKey("search_entries.id"))
    value: Mapped[str] = mapped_column(String(TERM_LENGTH * 4))


SqlIndex("ix_search_terms_entry", SearchTermRow.entry_id, SearchTermRow.field)
SqlIndex("ix_search_entries_changed", SearchEntryRow.changed)
for _column in ("modified", "catalogue_key", "event_date"):
    SqlIndex(f"ix_search_entries_{_column}", SearchEntryRow.kind, SearchEntryRow.status,
             getattr(SearchEntryRow, _column), SearchEntryRow.id)
    SqlIndex(f"ix_search_entries_all_{_column}", SearchEntryRow.status,
             getattr(SearchEntryRow, _column), SearchEntryRow.id)

_SQLITE_TEXT = (
    "CREATE VIRTUAL TABLE search_text USING fts5(text, content='search_entries', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER search_text_insert AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_text(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_text_delete AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER search_text_update AFTER UPDATE OF text ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO search_text(rowid, text) VALUES (new.id, new.text); END",
)
_POSTGRESQL_TEXT = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE search_entries ADD COLUMN text_vector tsvector "
    # Words split at every character that is not a letter or digit, as FTS5's unicode61
    # splits them: the parser would keep "RMNH.INS.123" whole, and "RMNH" would not find it.
    "GENERATED ALWAYS AS (to_tsvector('english', "
    "regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))) STORED",
    "CREATE INDEX ix_search_entries_text ON search_entries USING gin (text_vector)",
    # The fields suggestions read (repository/search.py SUGGESTED_FIELDS), all of them:
    # a query on a field the predicate leaves out cannot use the index, and scans every
    # term of the fields (1.3 s at 60,000 names, against 0.1 ms).
    "CREATE INDEX ix_search_terms_trigram ON search_terms USING gin (key gin_trgm_ops) "
    "WHERE field IN ('specimenName', 'physicalSpecimenID', 'title')",
)
for _statement in _SQLITE_TEXT:
    event.listen(SearchEntryRow.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="sqlite"))
for _statement in _POSTGRESQL_TEXT[:3]:
    event.listen(SearchEntryRow.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="postgresql"))
event.listen(SearchTermRow.__table__, "after_create",
             DDL(_POSTGRESQL_TEXT[3]).execute_if(dialect="postgresql"))
event.listen(SearchEntryRow.__table__, "before_drop",
             DDL("DROP TABLE IF EXISTS search_text").execute_if(dialect="sqlite"))


def add_search_columns(engine: Engine) -> None:
    """Give a search index made before `changed` existed its column: its entries, NULL
    there, are read when a process first reads the bitmaps, and changes after set it."""
    present = {column["name"] for column in inspect(engine).get_columns("search_entries")}
    if "changed" in present:
        return
    with engine.begin() as connection:
        connection.execute(sql("ALTER TABLE search_entries ADD COLUMN changed BIGINT"))
        connection.execute(sql(
            "CREATE INDEX ix_search_entries_changed ON search_entries (changed)"))


@dataclass(frozen=True)
class SearchDocument:
    """What the search index keeps about one version, derived from its content alone
    (repository/search_document.py builds it). Values arrive already cut to their
    column lengths, so what `fdo verify` reads back compares equal."""

    name: str = ""
    catalogue: str = ""
    event_date: str = ""
    latitude: float | None = None
    longitude: float | None = None
    thumbnail: str | None = None
    text: str = ""
    terms: tuple[tuple[str, str], ...] = ()  # (field, value), sorted, unique by key
