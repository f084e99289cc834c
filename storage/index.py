"""The SQL index: which version of each object is current, and how to find things fast.

It is derived data, and so is the search index beside it (storage/search_*.py):
everything here except API tokens, grants, ingest jobs and browser sessions can be
rebuilt from S3 (`fdo rebuild-index`). The tables are in storage/models.py;
the harvesters' reads (change feed, sitemaps, dumps, OAI-PMH) in storage/harvest.py; the
write statements in storage/index_writes.py; the driver-level statement behind `current` in
storage/driver_statement.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import bindparam, create_engine, event, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import sessionmaker

from schemas import TOMBSTONE
from storage.access_table import AccessTable
from storage.annotation_table import AnnotationReads
from storage.driver_statement import DriverStatement
from storage.group_commit import GroupCommit
from storage.harvest import FEED_LENGTH, HarvestReads
from storage.index_writes import OutOfStep, insert_version
from storage.job_table import JobTable
from storage.models import (
    FEED,
    GENERATION,
    OBJECT_COLUMNS,
    OBJECT_TABLES,
    SEARCH_POSITION,
    SEARCH_TABLES,
    Base,
    CounterRow,
    LinkRow,
    ObjectRow,
    ObjectState,
    VersionEntry,
    VersionRow,
    new_generation,
)
from storage.search_reads import SearchReads
from storage.search_tables import add_search_columns
from storage.search_writes import (
    Recording,
    lagging_entries,
    record_searches,
    repair_has_media,
    wrong_has_media,
)

# The resolver's hot statements, built once: building a statement costs more than
# running it on an indexed key.
_CURRENT = select(*OBJECT_COLUMNS).where(ObjectRow.pid == bindparam("pid"))
_INCOMING = (select(LinkRow.relation, *OBJECT_COLUMNS)
             .join(ObjectRow, ObjectRow.pid == LinkRow.source)
             .where(LinkRow.target == bindparam("pid"))
             .order_by(ObjectRow.created).limit(bindparam("limit")))
_OUTGOING = (select(LinkRow.relation, *OBJECT_COLUMNS)
             .join(ObjectRow, ObjectRow.pid == LinkRow.target)
             .where(LinkRow.source == bindparam("pid"))
             .order_by(ObjectRow.created).limit(bindparam("limit")))


# Values per `IN (...)` list: well under every driver's limit on bound parameters.
_IN_LIST = 500


class VersionClash(Exception):
    """The index already holds a different version under this number."""


class PhysicalIdTaken(Exception):
    """Another live specimen already has this normalised physical specimen ID."""


MAPPED_BYTES = 268435456  # of a SQLite index, read through a memory map (see below)


def _enable_sqlite_foreign_keys(engine: Engine, mapped_bytes: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets readers proceed while a writer commits; busy_timeout makes
        # concurrent writers (threads, several gunicorn workers) wait instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # NORMAL in WAL mode cannot corrupt the database; a power cut may lose the last
        # commits, which S3 still has and `fdo reconcile` re-adopts.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reads through a memory map instead of a read() per page: a lookup in 100,000
        # objects went from 8.2 to 6.6 us (1,000 objects: 5.8). Address space, not memory,
        # but the mapped pages a process touched count in its RSS (see `Index`).
        cursor.execute(f"PRAGMA mmap_size={int(mapped_bytes)}")
        cursor.close()


class Index(HarvestReads):
    """`mapped_bytes`: how much of a SQLite index file is read through a memory map. The
    resolver wants it; a bulk ingest, which reads each page about once, does not (0):
    every page it touched would count in its RSS, which would then grow with the index."""

    def __init__(self, url: str, mapped_bytes: int = MAPPED_BYTES) -> None:
        # A server's connections can go stale (a PostgreSQL restart): ping them on checkout.
        # A SQLite file cannot, and its ping would double the cost of every lookup.
        self.engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        _enable_sqlite_foreign_keys(self.engine, mapped_bytes)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._current = DriverStatement(self.engine, _CURRENT)
        self.access = AccessTable(self.engine)  # tokens and grants
        self.search = SearchReads(self.engine)
        self.annotations = AnnotationReads(self.engine)  # curation's lists
        self._group: GroupCommit[Recording] = GroupCommit(self._record_group)

    def close(self) -> None:
        """Close every pooled connection (tests and CLI runs end cleanly)."""
        self._current.close()
        self.access.close()
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables and the feed counter. Several app processes may start at
        once on an empty PostgreSQL: the loser of a CREATE race retries and then finds the
        tables."""
        for attempt in range(3):
            try:
                Base.metadata.create_all(self.engine)
                self.access.add_columns()
                JobTable(self.engine).add_columns()
                self.annotations.add_columns()
                add_search_columns(self.engine)
                with self.engine.begin() as connection:
                    if connection.scalar(FEED_LENGTH) is None:
                        connection.execute(insert(CounterRow).values(name=FEED, value=0))
                    if connection.scalar(select(CounterRow.value).where(
                            CounterRow.name == SEARCH_POSITION)) is None:
                        connection.execute(insert(CounterRow).values(name=SEARCH_POSITION,
                                                                     value=0))
                    if connection.scalar(select(CounterRow.value).where(
                            CounterRow.name == GENERATION)) is None:
                        connection.execute(insert(CounterRow).values(
                            name=GENERATION, value=new_generation()))
                return
            except (IntegrityError, ProgrammingError):
                if attempt == 2:
                    raise

    def drop_object_tables(self) -> None:
        tables = [Base.metadata.tables[name] for name in SEARCH_TABLES + OBJECT_TABLES]
        Base.metadata.drop_all(self.engine, tables=tables)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- reads -------------------------------------------------------------------------

    def current(self, pid: str) -> ObjectState | None:
        """Every resolution asks this, so it runs on the driver's own connection with SQL
        compiled once: SQLAlchemy's statement and result machinery costs more than the
        primary-key lookup itself."""
        row = self._current.first({"pid": pid})
        return ObjectState(*row) if row else None

    def version(self, pid: str, number: int) -> VersionRow | None:
        with self.sessions() as session:
            return session.get(VersionRow, (pid, number))

    def versions(self, pid: str) -> list[VersionRow]:
        query = select(VersionRow).where(VersionRow.pid == pid).order_by(VersionRow.version)
        with self.sessions() as session:
            return list(session.scalars(query))

    def version_times(self, pid: str, numbers: list[int]) -> dict[int, str]:
        query = (select(VersionRow.version, VersionRow.created)
                 .where(VersionRow.pid == pid, VersionRow.version.in_(numbers)))
        with self.engine.connect() as connection:
            return {version: created for version, created in connection.execute(query)}

    def linked(self, pid: str, incoming_only: bool = False,
               limit: int = 500) -> list[tuple[str, ObjectState]]:
        """Objects linked with `pid`, as (relation, object): those pointing at it (the
        media and annotations of a specimen) and, unless `incoming_only`, those it points
        at (the specimen of a media object)."""
        statements = (_INCOMING,) if incoming_only else (_INCOMING, _OUTGOING)
        with self.engine.connect() as connection:
            rows = [row for statement in statements
                    for row in connection.execute(statement, {"pid": pid, "limit": limit})]
        return [(row[0], ObjectState(*row[1:])) for row in rows]

    def pid_for_physical_id(self, physical_id: str) -> str | None:
        query = select(ObjectRow.pid).where(ObjectRow.physical_id == physical_id)
        with self.engine.connect() as connection:  # every specimen write asks: no ORM
            return connection.scalar(query)

    def states(self, pids: list[str]) -> dict[str, ObjectState]:
        """The rows of these PIDs that exist, by PID: a bulk ingest asks for a batch at a
        time instead of once per object."""
        return self._states_where(ObjectRow.pid, pids)

    def states_by_physical_id(self, physical_ids: list[str]) -> dict[str, ObjectState]:
        """The live specimens holding these normalised physical specimen IDs, by ID."""
        return {state.physical_id: state for state in
                self._states_where(ObjectRow.physical_id, physical_ids).values()
                if state.physical_id is not None}

    def _states_where(self, column: Any, values: list[str]) -> dict[str, ObjectState]:
        found: dict[str, ObjectState] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(values), _IN_LIST):
                query = select(*OBJECT_COLUMNS).where(
                    column.in_(values[start:start + _IN_LIST]))
                found.update((row[0], ObjectState(*row)) for row in connection.execute(query))
        return found

    def live_objects_of_source(self, source_system: str, kind: str, after: str = "",
                               limit: int = 1000) -> list[str]:
        """PIDs of the live objects of one kind from one source system, in PID order
        after `after` (keyset pages), for re-checks that look for what disappeared."""
        query = (select(ObjectRow.pid)
                 .where(ObjectRow.source_system == source_system, ObjectRow.kind == kind,
                        ObjectRow.pid > after, ObjectRow.status != TOMBSTONE)
                 .order_by(ObjectRow.pid).limit(limit))
        with self.engine.connect() as connection:
            return list(connection.scalars(query))

    def object_count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(ObjectRow)) or 0)

    def all_objects(self) -> Iterator[ObjectRow]:
        with self.sessions() as session:
            yield from session.scalars(select(ObjectRow).order_by(ObjectRow.pid))

    def all_versions(self) -> Iterator[VersionRow]:
        query = select(VersionRow).order_by(VersionRow.pid, VersionRow.version)
        with self.sessions() as session:
            yield from session.scalars(query)

    def all_links(self) -> list[tuple[str, str, str]]:
        query = select(LinkRow.source, LinkRow.relation, LinkRow.target).order_by(
            LinkRow.source, LinkRow.relation, LinkRow.target)
        with self.engine.connect() as connection:
            return [(source, relation, target) for source, relation, target
                    in connection.execute(query)]

    # -- writes ------------------------------------------------------------------------

    def record_version(self, entry: VersionEntry) -> None:
        """Record a version that S3 already holds, and make it current, with its search
        entry: the next request finds it.

        Idempotent: recording the same version twice is a no-op, so a retry, a reconcile
        and a concurrent writer that adopted it can all call this safely. Written with
        SQLAlchemy Core (two statements, one transaction): this is the hot path of every
        write, and the ORM's unit of work costs more CPU than the S3 put it follows.
        Concurrent writers of this process share transactions (storage/group_commit.py);
        a version whose group could not be recorded is tried again alone.
        """
        recording = Recording(entry)
        if not self._group.record(recording):
            self._record_alone(recording)

    def _record_alone(self, recording: Recording) -> None:
        entry = recording.entry
        try:
            with self.engine.begin() as connection:
                self._record_in(connection, [recording])
            return
        except (IntegrityError, OutOfStep):
            pass
        existing = self.version(entry.pid, entry.version)
        if existing is not None and existing.digest == entry.digest:
            return  # recorded already: a retry
        if existing is not None:
            raise VersionClash(f"{entry.pid} version {entry.version}")
        holder = entry.physical_id and self.pid_for_physical_id(entry.physical_id)
        if holder and holder != entry.pid:
            raise PhysicalIdTaken(holder)
        raise OutOfStep(f"{entry.pid} version {entry.version}")

    def record_versions(self, entries: list[VersionEntry]) -> bool:
        """Record versions that S3 already holds, all in one transaction: a bulk ingest
        commits a batch at a time. False when any of them cannot be recorded (a clash, a
        physical ID taken): then none is, and the caller records them one by one
        (`record_version`) to learn which and why."""
        return self._record_group([Recording(entry) for entry in entries])

    def _record_group(self, recordings: list[Recording]) -> bool:
        try:
            with self.engine.begin() as connection:
                self._record_in(connection, recordings)
        except (IntegrityError, OutOfStep):
            return False
        return True

    def _record_in(self, connection: Connection, recordings: list[Recording]) -> None:
        """The versions, then their search entries, in the caller's transaction. (Search
        entries in a transaction of their own after it, out of the feed counter's lock,
        made PostgreSQL creates slower, not faster: 149 creates/s against 167 at 8
        threads. Creates here are bound by CPU, not by the lock, and the second
        transaction only added work.)"""
        for recording in recordings:
            recording.touched = insert_version(connection, recording.entry)
        record_searches(connection, recordings)

    # -- search repair (`fdo verify`, `fdo reconcile`) --------------------------------

    def lagging_search_entries(self) -> list[str]:
        """Objects whose search entry is missing or shows an earlier version."""
        with self.engine.connect() as connection:
            return lagging_entries(connection)

    def wrong_has_media(self) -> list[str]:
        """Specimens whose hasMedia term disagrees with their links."""
        with self.engine.connect() as connection:
            return wrong_has_media(connection)

    def rewrite_search_entries(self, entries: list[VersionEntry]) -> None:
        """Write these current versions' search entries again (and the hasMedia of the
        specimens among them and linked with them now)."""
        recordings = [Recording(entry, [state.pid for _, state in self.linked(entry.pid)])
                      for entry in entries]
        with self.engine.begin() as connection:
            record_searches(connection, recordings)

    def repair_has_media(self) -> list[str]:
        """Set hasMedia anew where it disagrees with the links: the specimens it did."""
        with self.engine.begin() as connection:
            return repair_has_media(connection)

