"""The index's tables and the plain values read from them (see storage/index.py).

Timestamps are stored as fixed-width ISO 8601 UTC strings (`2026-11-22T10:00:00.123Z`)
so they sort, compare and round-trip identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import Index as SqlIndex
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from storage.annotation_table import AnnotationFacts
    from storage.search_tables import SearchDocument


def timestamp(seconds_ago: float = 0) -> str:
    """A time in the index's fixed-width form (above): now, or `seconds_ago` before now."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Base(DeclarativeBase):
    pass


class ObjectRow(Base):
    """One row per PID: its current version."""

    __tablename__ = "fdo_objects"
    pid: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[str] = mapped_column(String(24))
    modified: Mapped[str] = mapped_column(String(24))
    # The identity only one live object may hold (NULL once tombstoned): a specimen's
    # normalised physical specimen ID, which keeps one digital specimen per physical
    # specimen; an annotation's `annotation:<sha256>` of its target, selector, motivation,
    # creator and value, which keeps an annotation sent twice one annotation.
    physical_id: Mapped[str | None] = mapped_column(String(512), unique=True)
    # When an object linked with this one last changed (its media, an annotation on it,
    # the specimen a media object shows): with `version`, it names everything a response
    # about this object shows, so the resolver caches by it, not querying linked objects.
    linked_modified: Mapped[str | None] = mapped_column(String(24))
    # The change-feed position of the current version: OAI-PMH lists pages of objects in
    # this order, by keyset (an update moves an object to the end, where a harvester still
    # meets it).
    sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # `ods:organisationID` (ROR or Wikidata, https) and name: the institution OAI set.
    organisation_id: Mapped[str | None] = mapped_column(String(128))
    organisation_name: Mapped[str | None] = mapped_column(String(512))
    # `ods:sourceSystemID`: which objects a dataset re-check expects to see again.
    source_system: Mapped[str | None] = mapped_column(String(512))
    # SHA-256 of the current version's client part (canonical JSON): a dataset re-check
    # knows an unchanged record from the index alone, without reading the version from S3.
    client_digest: Mapped[str | None] = mapped_column(String(64))


@dataclass(frozen=True, slots=True)
class ObjectState:
    """An object's row as read on the hot path: a plain value, since building an ORM
    instance costs more than the primary-key query that fills it."""

    pid: str
    kind: str
    version: int
    digest: str
    status: str
    created: str
    modified: str
    physical_id: str | None
    linked_modified: str | None
    sequence: int | None
    organisation_id: str | None
    organisation_name: str | None
    source_system: str | None
    client_digest: str | None


class VersionRow(Base):
    __tablename__ = "fdo_versions"
    pid: Mapped[str] = mapped_column(ForeignKey("fdo_objects.pid"), primary_key=True)
    # The primary key (pid, version) is what allocates version numbers atomically.
    version: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    previous_digest: Mapped[str | None] = mapped_column(String(64))
    content_digest: Mapped[str] = mapped_column(String(64))
    created: Mapped[str] = mapped_column(String(24))
    activity: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str] = mapped_column(String(512))
    agent_name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    # A readable line on what the version changed, for history listings (landing pages).
    summary: Mapped[str] = mapped_column(String(512), default="")
    # The requesting agent's openDS @type (schema:Person, schema:SoftwareApplication, ...).
    agent_type: Mapped[str] = mapped_column(String(64), default="")
    # The version's place in the change feed: 1, 2, 3, ... with no gaps, in commit order
    # (see `_next_sequence`, storage/index_writes.py). rebuild-index renumbers the feed in
    # time order.
    sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # When the index recorded the version, stamped under the feed counter's lock and never
    # earlier than the stamp before it: non-decreasing in feed order, so a time range is a
    # feed-position range (the OAI-PMH datestamp; see `_next_sequence`).
    recorded: Mapped[str | None] = mapped_column(String(24))


class CounterRow(Base):
    """Named counters; `feed` is the last change-feed position handed out, and its `stamp`
    the last `recorded` time handed out with it."""

    __tablename__ = "fdo_counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    stamp: Mapped[str | None] = mapped_column(String(24))


class LinkRow(Base):
    """Which object points at which: media at their specimen, annotations at their
    target. Holds the links of each object's current version only (none once tombstoned),
    so a landing page finds an object's media and annotations with one indexed query."""

    __tablename__ = "fdo_links"
    source: Mapped[str] = mapped_column(ForeignKey("fdo_objects.pid"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(128), primary_key=True)


class TokenRow(Base):
    """API tokens: only the SHA-256 of the token is stored. Not rebuilt from S3 (secrets
    do not belong in the object store); rebuild-index leaves this table alone. What a
    token may do is in `grants` (agent `token:<name>`); `role` only records the role it
    was created with, for `fdo tokens list`. A revoked token keeps its row (who held it,
    until when) and loses its grants."""

    __tablename__ = "api_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    orcid: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created: Mapped[str] = mapped_column(String(24))
    expires: Mapped[str | None] = mapped_column(String(24))
    last_used: Mapped[str | None] = mapped_column(String(24))
    revoked: Mapped[str | None] = mapped_column(String(24))


# Columns added to api_tokens after it was first created: an older index gains them.
TOKEN_COLUMNS_ADDED = ("expires", "last_used", "revoked")


class GrantRow(Base):
    """A role held by an agent (`https://orcid.org/...` or `token:<name>`), scoped to an
    organisation (curator) or a source system (machine). Not rebuilt from S3. Unscoped
    columns hold '' rather than NULL, so that the unique constraint holds for them too."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("agent", "role", "organisation_id", "source_system"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[str] = mapped_column(String(128), default="")
    source_system: Mapped[str] = mapped_column(String(512), default="")
    created: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(512))


class IngestJobRow(Base):
    """A background job: a dataset enrolment (`POST /api/v1/ingest-jobs`) or an annotation
    batch, run by `fdo worker` (repository/jobs.py).
    Not rebuilt from S3, like tokens: a job is a request's bookkeeping, not an object, so
    rebuild-index leaves this table alone (its full report is in S3, under
    `ingest-jobs/<id>/report.json`)."""

    __tablename__ = "ingest_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    status: Mapped[str] = mapped_column(String(16))  # queued, running, succeeded, ...
    format: Mapped[str] = mapped_column(String(8))  # dwca | abcd
    source_system: Mapped[str] = mapped_column(String(512))  # its name, as submitted
    organisation_id: Mapped[str | None] = mapped_column(String(128))
    licence: Mapped[str | None] = mapped_column(String(512))
    dry_run: Mapped[bool]
    tombstone_missing: Mapped[bool]
    submitted_by: Mapped[str] = mapped_column(String(512))  # the token's agent ID
    created: Mapped[str] = mapped_column(String(24))
    started: Mapped[str | None] = mapped_column(String(24))
    finished: Mapped[str | None] = mapped_column(String(24))
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)  # known once read through
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the report's counts
    error: Mapped[str | None] = mapped_column(Text)  # why it failed or was interrupted
    # What a worker needs to run it beyond the columns above (repository/jobs.py):
    # the uploads' S3 keys, the batch request, who asked with which grants.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs begun (claims)
    # The process that runs it (host:pid:random) and when that process last said it was
    # alive: a queued or running job whose heartbeat is old has lost its process.
    worker: Mapped[str] = mapped_column(String(128))
    heartbeat: Mapped[str] = mapped_column(String(24))


class WebSessionRow(Base):
    """A browser sign-in (repository/web_sessions.py). The cookie holds a random value and
    only its SHA-256 is stored, like tokens. Every request reads the row, so an ended
    session is refused by every worker at once. Not rebuilt from S3."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(512))  # https://orcid.org/...
    name: Mapped[str] = mapped_column(String(512))
    idp_roles: Mapped[list[str]] = mapped_column(JSON)  # as the identity provider sent them
    created: Mapped[str] = mapped_column(String(24))
    expires: Mapped[str] = mapped_column(String(24))
    ended: Mapped[str | None] = mapped_column(String(24))  # signed out


OBJECT_COLUMNS = tuple(ObjectRow.__table__.columns)
if [column.name for column in OBJECT_COLUMNS] != [f.name for f in fields(ObjectState)]:
    raise TypeError("ObjectState must list ObjectRow's columns in table order")
SqlIndex("ix_fdo_objects_kind_sequence", ObjectRow.kind, ObjectRow.sequence)
SqlIndex("ix_fdo_objects_organisation_sequence", ObjectRow.organisation_id, ObjectRow.sequence)
SqlIndex("ix_fdo_versions_recorded", VersionRow.recorded, VersionRow.sequence)
SqlIndex("ix_fdo_objects_source_system", ObjectRow.source_system, ObjectRow.kind, ObjectRow.pid)
SqlIndex("ix_fdo_links_target", LinkRow.target, LinkRow.relation)
SqlIndex("ix_ingest_jobs_status_heartbeat", IngestJobRow.status, IngestJobRow.heartbeat)
SqlIndex("ix_web_sessions_expires", WebSessionRow.expires)
# Rebuilt from S3; dropped in this order (links and versions reference objects). Not
# api_tokens, grants, ingest_jobs or web_sessions: S3 does not hold them.
OBJECT_TABLES = ("fdo_annotations", "fdo_links", "fdo_versions", "fdo_objects", "fdo_counters")
# Rebuilt from S3 too, dropped before the object tables (they reference fdo_objects); kept
# apart because their row ids depend on the order a rebuild meets the versions in.
SEARCH_TABLES = ("search_terms", "search_entries")
FEED = "feed"
# The last search position handed out: the search index's writes take one per
# transaction, in commit order; an entry's `changed` is the position that last wrote it.
SEARCH_POSITION = "search"
# A random number drawn when the counters are made and again when rebuild-index ends:
# what a process keeps from the index in memory (storage/search_postings.py) is read anew
# when it differs.
GENERATION = "generation"


def new_generation() -> int:
    return secrets.randbits(62)  # fits PostgreSQL's bigint


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One version as the change feed shows it."""

    sequence: int
    pid: str
    version: int
    kind: str
    created: str
    activity: str
    status: str
    agent_id: str
    agent_name: str
    agent_type: str


@dataclass(frozen=True)
class VersionEntry:
    """What the index learns from one version record."""

    pid: str
    kind: str
    version: int
    digest: str
    previous_digest: str | None
    content_digest: str
    created: str  # when this version was made
    object_created: str  # when version 1 was made
    activity: str
    agent_id: str
    agent_name: str
    status: str
    physical_id: str | None
    summary: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (relation, target PID) of this version
    agent_type: str = ""
    organisation_id: str | None = None  # https://ror.org/... or https://www.wikidata.org/...
    organisation_name: str | None = None
    source_system: str | None = None
    client_digest: str | None = None  # of the client part (records.client_digest)
    # What the search index keeps (storage/search_tables.py); None: no search entry.
    search: SearchDocument | None = None
    # A live annotation's row in fdo_annotations (storage/annotation_table.py).
    annotation: AnnotationFacts | None = None

