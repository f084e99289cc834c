"""The index's write statements: recording one version moves the object row from n-1 to n,
adds the version row, takes the next change-feed position and replaces the links, all in
the caller's transaction (storage/index.py's `Index.record_version(s)`, which then has the
search entry written: storage/search_writes.py)."""

from __future__ import annotations

from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.engine import Connection

from schemas import TOMBSTONE
from storage.annotation_table import record_annotation
from storage.models import FEED, CounterRow, LinkRow, ObjectRow, VersionEntry, VersionRow, timestamp

_LINK_TARGETS = select(LinkRow.target).where(LinkRow.source == bindparam("source"))
_LINK_SOURCES = select(LinkRow.source).where(LinkRow.target == bindparam("target"))


class OutOfStep(Exception):
    """The index does not hold version n-1 as current, so it cannot record version n."""



# The write path's statements, built once with bind parameters: building and keying a
# statement per call cost more CPU than the SQL it runs (a third of a create's index
# write). The values come in as parameter dicts.
_NEXT_SEQUENCE = (
    update(CounterRow).where(CounterRow.name == FEED)
    .values(value=CounterRow.value + 1,
            stamp=case((CounterRow.stamp > bindparam("now"), CounterRow.stamp),
                       else_=bindparam("now")))
    .returning(CounterRow.value, CounterRow.stamp))
_MOVED_COLUMNS = ("version", "digest", "status", "modified", "physical_id", "sequence",
                  "organisation_id", "organisation_name", "source_system",
                  "client_digest")
_INSERT_OBJECT = insert(ObjectRow)
# Moves only from n-1 to n: a concurrent writer that got there first leaves no row to
# update, on SQLite and PostgreSQL alike.
_MOVE_OBJECT = (update(ObjectRow)
                .where(ObjectRow.pid == bindparam("key_pid"),
                       ObjectRow.version == bindparam("key_version"))
                .values({name: bindparam(name) for name in _MOVED_COLUMNS}))
_INSERT_VERSION = insert(VersionRow)
_INSERT_LINKS = insert(LinkRow)
_DELETE_LINKS = delete(LinkRow).where(LinkRow.source == bindparam("source"))
_TOUCH_LINKED = (update(ObjectRow)
                 .where(ObjectRow.pid.in_(bindparam("pids", expanding=True)))
                 .values(linked_modified=bindparam("time")))


def _next_sequence(connection: Connection) -> tuple[int, str]:
    """The next change-feed position and the version's `recorded` time. The counter row
    stays locked from this update to the commit, so writers take positions one at a time
    and commit in that order: a reader that sees position n sees every position before it
    (none appears later behind it), and a write that rolls back gives its position back
    (no gaps). Taken first in every write transaction, it also orders writers before they
    lock any object row. The time is taken under the same lock and never goes back (a
    clock stepped back repeats the last stamp), so it never decreases along the feed."""
    position, stamp = connection.execute(_NEXT_SEQUENCE, {"now": timestamp()}).one()
    return int(position), str(stamp)


def insert_version(connection: Connection, entry: VersionEntry) -> list[str]:
    """Record the version; returns the objects linked with it, before or now (whose
    search entries may change with it: storage/search_writes.py)."""
    sequence, recorded = _next_sequence(connection)
    current = {"version": entry.version, "digest": entry.digest, "status": entry.status,
               "modified": entry.created, "physical_id": entry.physical_id,
               "sequence": sequence, "organisation_id": entry.organisation_id,
               "organisation_name": entry.organisation_name,
               "source_system": entry.source_system,
               "client_digest": entry.client_digest}
    if entry.version == 1:
        connection.execute(_INSERT_OBJECT, {
            **current, "pid": entry.pid, "kind": entry.kind, "created": entry.object_created})
    else:
        moved = connection.execute(_MOVE_OBJECT, {
            **current, "key_pid": entry.pid, "key_version": entry.version - 1})
        if moved.rowcount != 1:
            raise OutOfStep(f"{entry.pid} is not at version {entry.version - 1}")
    connection.execute(_INSERT_VERSION, {
        "pid": entry.pid, "version": entry.version, "digest": entry.digest,
        "previous_digest": entry.previous_digest, "content_digest": entry.content_digest,
        "created": entry.created, "activity": entry.activity, "agent_id": entry.agent_id,
        "agent_name": entry.agent_name, "status": entry.status,
        "summary": entry.summary[:512], "agent_type": entry.agent_type[:64],
        "sequence": sequence, "recorded": recorded})
    touched = _replace_links(connection, entry)
    if entry.annotation is not None or entry.status == TOMBSTONE:
        record_annotation(connection, entry.pid, entry.version, entry.annotation)
    return touched


def _replace_links(connection: Connection, entry: VersionEntry) -> list[str]:
    """Replace the links of this object, and stamp every object linked with it, before or
    now, in either direction: their responses show this object, so their cached
    responses must change (the resolver caches by `linked_modified`)."""
    before: set[str] = set()
    if entry.version > 1:
        before = set(connection.scalars(_LINK_TARGETS, {"source": entry.pid}))
        connection.execute(_DELETE_LINKS, {"source": entry.pid})
    links = {(relation, target) for relation, target in entry.links if target != entry.pid}
    if links:
        connection.execute(_INSERT_LINKS, [
            {"source": entry.pid, "relation": relation, "target": target}
            for relation, target in sorted(links)])
    sources = set(connection.scalars(_LINK_SOURCES, {"target": entry.pid}))
    touched = sorted(before | {target for _, target in links} | sources)
    if touched:  # sorted, so concurrent writers lock rows in one order
        connection.execute(_TOUCH_LINKED, {"pids": touched, "time": entry.created})
    return touched
