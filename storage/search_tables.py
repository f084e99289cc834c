"""The search index's tables: one entry per object (its current version) and the terms it
is filtered and faceted by, beside the object index and written in the same transaction
(storage/search_writes.py), so that what a write returns 201 for is found by the next
request. Like the object index, derived data: `fdo rebuild-index` rebuilds it from S3.

Free text is engine-specific, set up here once when the entries table is created:
- SQLite: an FTS5 table over `search_entries.name` and `.text` (external content, rowid
  = entry id), kept in step by triggers, with the Porter stemmer and prefix indexes for
  2 and 3 characters;
- PostgreSQL: stored `tsvector` columns generated from `text` (English stemming), with a
  GIN index, and from `name`, and `pg_trgm` on term keys for prefix and fuzzy
  suggestions.
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
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# Longest value kept per term and for names: a facet or a filter on 10 kB of text helps
# nobody, and an index key must stay well under PostgreSQL's 2.7 kB btree limit.
TERM_LENGTH = 200
# The term fields with few values each, which every facet counts and the posting bitmaps
# hold (storage/search_postings.py): an entry keeps them in its own `posted` column, not
# as rows of search_terms (bench/README.md: the create cost of the search index).
POSTED_FIELDS = ("country", "countryCode", "typeStatus", "license", "organisationID",
                 "sourceSystemID", "kingdom", "phylum", "class", "order", "family", "genus",
                 "basisOfRecord", "topicDiscipline", "collectionCode", "hasMedia", "year",
                 "motivation", "mergingDecisionStatus")
HAS_MEDIA = "hasMedia"
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
    # The posted fields' terms other than hasMedia, a JSON array of [field, value]: read
    # only into the bitmaps, which filter and count them, so one column is written where
    # rows would cost two B-tree inserts each (15 per specimen).
    posted: Mapped[str] = mapped_column(Text, default="[]")
    # A specimen's hasMedia (NULL for other kinds): set by the media objects linked with
    # it as well as by its own versions (storage/search_writes.py).
    has_media: Mapped[bool | None]


class SearchTermRow(Base):
    """A value of a field with many values (names, catalogue numbers, localities, people)
    an entry is filtered by and suggestions complete: (field, key) with the entry's kind
    and status copied in. `key` is the value case-folded (what filters match); `value`
    as written (what suggestions show). On SQLite a table without rowid, clustered on its
    key: a filter reads one range of it. The entry index serves the other direction: the
    terms of given entries (replacing an entry's terms). The posted fields are not here
    but in the entry's `posted` column."""

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
# The sort orders, per kind and over every kind. Over every kind only, a kind's page
# would walk the others' entries too: media and annotations have no catalogue number or
# collecting date, so they all sort at one end (tried: a page of specimens by catalogue
# number took 300 ms at 100,000, against 19).
for _column in ("modified", "catalogue_key", "event_date"):
    SqlIndex(f"ix_search_entries_{_column}", SearchEntryRow.kind, SearchEntryRow.status,
             getattr(SearchEntryRow, _column), SearchEntryRow.id)
    SqlIndex(f"ix_search_entries_all_{_column}", SearchEntryRow.status,
             getattr(SearchEntryRow, _column), SearchEntryRow.id)

# Free text over the name and the whole text (which holds the name too): the name column
# is what relevance asks about (storage/search_reads.py _by_relevance).
_SQLITE_TEXT = (
    "CREATE VIRTUAL TABLE search_text USING fts5(name, text, content='search_entries', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER search_text_insert AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_text(rowid, name, text) VALUES (new.id, new.name, new.text); END",
    "CREATE TRIGGER search_text_delete AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, name, text) "
    "VALUES ('delete', old.id, old.name, old.text); END",
    "CREATE TRIGGER search_text_update AFTER UPDATE OF name, text ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, name, text) "
    "VALUES ('delete', old.id, old.name, old.text); "
    "INSERT INTO search_text(rowid, name, text) VALUES (new.id, new.name, new.text); END",
)
# Words split at every character that is not a letter or digit, as FTS5's unicode61
# splits them: the parser would keep "RMNH.INS.123" whole, and "RMNH" would not find it.
_POSTGRESQL_WORDS = "to_tsvector('english', regexp_replace({}, '[^[:alnum:]]+', ' ', 'g'))"
_POSTGRESQL_TEXT = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE search_entries ADD COLUMN text_vector tsvector "
    f"GENERATED ALWAYS AS ({_POSTGRESQL_WORDS.format('text')}) STORED",
    "CREATE INDEX ix_search_entries_text ON search_entries USING gin (text_vector)",
    # The name's words, read only beside text_vector's matches (relevance): no index.
    "ALTER TABLE search_entries ADD COLUMN name_vector tsvector "
    f"GENERATED ALWAYS AS ({_POSTGRESQL_WORDS.format('name')}) STORED",
    # The fields suggestions read (repository/search.py SUGGESTED_FIELDS), all of them:
    # a query on a field the predicate leaves out cannot use the index, and scans every
    # term of the fields (1.3 s at 60,000 names, against 0.1 ms).
    "CREATE INDEX ix_search_terms_trigram ON search_terms USING gin (key gin_trgm_ops) "
    "WHERE field IN ('specimenName', 'physicalSpecimenID', 'title')",
)
for _statement in _SQLITE_TEXT:
    event.listen(SearchEntryRow.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="sqlite"))
for _statement in _POSTGRESQL_TEXT[:4]:
    event.listen(SearchEntryRow.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="postgresql"))
event.listen(SearchTermRow.__table__, "after_create",
             DDL(_POSTGRESQL_TEXT[4]).execute_if(dialect="postgresql"))
event.listen(SearchEntryRow.__table__, "before_drop",
             DDL("DROP TABLE IF EXISTS search_text").execute_if(dialect="sqlite"))


def add_search_columns(engine: Engine) -> None:
    """Give a search index made before `changed`, `posted` or the name's free text
    existed what it lacks. Entries NULL in `changed` are read when a process first reads
    the bitmaps, and changes after set it. The posted fields' terms move from
    search_terms into `posted` and `has_media`; SQLite's free text is made again with its
    name column, PostgreSQL's entries gain `name_vector`. Each in one transaction."""
    present = {column["name"] for column in inspect(engine).get_columns("search_entries")}
    with engine.begin() as connection:
        if "changed" not in present:
            connection.execute(sql("ALTER TABLE search_entries ADD COLUMN changed BIGINT"))
            connection.execute(sql(
                "CREATE INDEX ix_search_entries_changed ON search_entries (changed)"))
        if "posted" not in present:
            _move_posted_terms(connection)
        if engine.dialect.name == "postgresql" and "name_vector" not in present:
            connection.execute(sql(_POSTGRESQL_TEXT[3]))
        if engine.dialect.name == "sqlite" and not _named_text(connection):
            for statement in ("DROP TABLE search_text",
                              *(f"DROP TRIGGER IF EXISTS search_text_{change}"
                                for change in ("insert", "delete", "update")), *_SQLITE_TEXT,
                              "INSERT INTO search_text(search_text) VALUES ('rebuild')"):
                connection.execute(sql(statement))


def _named_text(connection: Connection) -> bool:
    """Whether SQLite's free-text table has its name column."""
    columns = connection.execute(sql("PRAGMA table_info(search_text)")).all()
    return any(column[1] == "name" for column in columns)


def _move_posted_terms(connection: Connection) -> None:
    postgresql = connection.dialect.name == "postgresql"
    pairs = ("coalesce(json_agg(json_build_array(field, value) ORDER BY field, value)::text, "
             "'[]')" if postgresql else
             "coalesce(json_group_array(json_array(field, value)), '[]')")
    fields = ", ".join(f"'{field}'" for field in POSTED_FIELDS if field != HAS_MEDIA)
    for statement in (
            "ALTER TABLE search_entries ADD COLUMN posted TEXT NOT NULL DEFAULT '[]'",
            "ALTER TABLE search_entries ADD COLUMN has_media BOOLEAN",
            f"UPDATE search_entries SET posted = (SELECT {pairs} FROM search_terms "
            f"WHERE entry_id = search_entries.id AND field IN ({fields})), "
            f"has_media = (SELECT key = 'true' FROM search_terms "
            f"WHERE entry_id = search_entries.id AND field = '{HAS_MEDIA}')",
            f"DELETE FROM search_terms WHERE field IN ({fields}, '{HAS_MEDIA}')"):
        connection.execute(sql(statement))


def fold(value: str) -> str:
    """A term's key: what filters match and suggestions complete, case-insensitively."""
    return value.casefold()


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
