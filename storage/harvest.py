"""The index's reads for harvesters: the change feed, sitemaps, dumps and OAI-PMH.

Every list here pages by keyset on a feed position (`sequence`), never by OFFSET, so the
last page of a large list costs what the first one does. `Index` has these methods
(storage/index.py); they live apart because they are one concern, the harvesters'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from schemas import TOMBSTONE
from storage.models import FEED, CounterRow, FeedEntry, ObjectRow, VersionRow

_FEED_COLUMNS = (VersionRow.sequence, VersionRow.pid, VersionRow.version, ObjectRow.kind,
                 VersionRow.created, VersionRow.activity, VersionRow.status,
                 VersionRow.agent_id, VersionRow.agent_name, VersionRow.agent_type)
_FEED = (select(*_FEED_COLUMNS).join(ObjectRow, ObjectRow.pid == VersionRow.pid)
         .where(VersionRow.sequence > bindparam("after"))
         .order_by(VersionRow.sequence).limit(bindparam("limit")))
FEED_LENGTH = select(CounterRow.value).where(CounterRow.name == FEED)
_CREATED_IN_FEED_RANGE = (
    select(ObjectRow.pid, ObjectRow.modified)
    .join(VersionRow, (VersionRow.pid == ObjectRow.pid) & (VersionRow.version == 1))
    .where(VersionRow.sequence > bindparam("after"), VersionRow.sequence <= bindparam("upto"),
           ObjectRow.status != TOMBSTONE)
    .order_by(VersionRow.sequence))
_ITEM_COLUMNS = (ObjectRow.sequence, ObjectRow.pid, ObjectRow.kind, ObjectRow.version,
                 ObjectRow.status, VersionRow.recorded, ObjectRow.organisation_id)
# Objects with their current version's recorded time.
_ITEMS = select(*_ITEM_COLUMNS).join(
    VersionRow, (VersionRow.pid == ObjectRow.pid) & (VersionRow.version == ObjectRow.version))


@dataclass(frozen=True, slots=True)
class HarvestItem:
    """An object as OAI-PMH lists it: its current version and when that was recorded."""

    sequence: int
    pid: str
    kind: str
    version: int
    status: str
    recorded: str
    organisation_id: str | None


@dataclass(frozen=True)
class ItemFilter:
    """Which objects a harvest asks for: of one `kind` (None: any) but not of the kinds
    `left_out`, of one organisation (`"*"`: any object with one; None: no condition).
    One kind or kinds left out, never a list of kinds: with `kind IN (...)` SQLite sorts
    every match to page them, while these keep each page one walk along an index."""

    kind: str | None = None
    left_out: tuple[str, ...] = ()
    organisation: str | None = None


def items_query(after: int, upto: int, limit: int,
                where: ItemFilter) -> Select[*tuple[Any, ...]]:
    """The page of `harvest_items`, as a statement (tests read its query plan)."""
    query = (_ITEMS.where(ObjectRow.sequence > after, ObjectRow.sequence <= upto)
             .order_by(ObjectRow.sequence).limit(limit))
    if where.kind is not None:
        query = query.where(ObjectRow.kind == where.kind)
    if where.left_out:
        query = query.where(ObjectRow.kind.not_in(where.left_out))
    if where.organisation == "*":
        query = query.where(ObjectRow.organisation_id.is_not(None))
    elif where.organisation is not None:
        query = query.where(ObjectRow.organisation_id == where.organisation)
    return query


class HarvestReads:
    engine: Engine

    def feed(self, after: int, limit: int) -> list[FeedEntry]:
        """The change feed from position `after + 1` on, at most `limit` entries."""
        with self.engine.connect() as connection:
            rows: list[Any] = list(connection.execute(_FEED, {"after": after, "limit": limit}))
        return [FeedEntry(*row) for row in rows]

    def feed_length(self) -> int:
        """How many versions the change feed holds: its last position."""
        with self.engine.connect() as connection:
            return int(connection.scalar(FEED_LENGTH) or 0)

    def live_objects_created(self, after: int, upto: int) -> list[tuple[str, str]]:
        """(PID, modified) of the live objects whose version 1 has a feed position in
        (after, upto], in feed order: one range scan of the sequence index."""
        with self.engine.connect() as connection:
            return [(pid, modified) for pid, modified in connection.execute(
                _CREATED_IN_FEED_RANGE, {"after": after, "upto": upto})]

    def versions_at(self, position: int, after: int, limit: int, latest_only: bool,
                    kind: str | None = None,
                    since: str | None = None) -> list[tuple[int, str, int]]:
        """(feed position, PID, version) of the versions with a feed position in
        (after, position], in feed order: the repository as it was at `position` (with
        `latest_only`, each object's latest version at that position), for dumps."""
        newer = aliased(VersionRow)
        query = (select(VersionRow.sequence, VersionRow.pid, VersionRow.version)
                 .where(VersionRow.sequence > after, VersionRow.sequence <= position)
                 .order_by(VersionRow.sequence).limit(limit))
        if latest_only:
            query = query.where(~exists().where(
                newer.pid == VersionRow.pid, newer.version == VersionRow.version + 1,
                newer.sequence <= position))
        if kind is not None:
            query = query.join(ObjectRow, ObjectRow.pid == VersionRow.pid).where(
                ObjectRow.kind == kind)
        if since is not None:
            query = query.where(VersionRow.created >= since)
        with self.engine.connect() as connection:
            rows: list[Any] = list(connection.execute(query))
        return [(sequence, pid, version) for sequence, pid, version in rows]

    # -- OAI-PMH -----------------------------------------------------------------------

    def position_range(self, since: str | None, until: str | None) -> tuple[int, int]:
        """The feed positions (after, upto] of the versions recorded in [since, until]:
        `recorded` never decreases along the feed, so a time range is a position range,
        found with two probes of the (recorded, sequence) index."""
        with self.engine.connect() as connection:
            length = int(connection.scalar(FEED_LENGTH) or 0)
            after, upto = 0, length
            if since is not None:
                first = connection.scalar(
                    select(VersionRow.sequence).where(VersionRow.recorded >= since)
                    .order_by(VersionRow.recorded, VersionRow.sequence).limit(1))
                after = length if first is None else int(first) - 1
            if until is not None:
                last = connection.scalar(
                    select(VersionRow.sequence).where(VersionRow.recorded <= until)
                    .order_by(VersionRow.recorded.desc(), VersionRow.sequence.desc()).limit(1))
                upto = 0 if last is None else int(last)
        return after, upto

    def harvest_items(self, after: int, upto: int, limit: int,
                      where: ItemFilter) -> list[HarvestItem]:
        """The objects whose current version has a feed position in (after, upto], in
        feed order, at most `limit`."""
        with self.engine.connect() as connection:
            rows: list[Any] = list(connection.execute(items_query(after, upto, limit, where)))
        return [HarvestItem(*row) for row in rows]

    def harvest_item(self, pid: str) -> HarvestItem | None:
        with self.engine.connect() as connection:
            row: Any = connection.execute(_ITEMS.where(ObjectRow.pid == pid)).first()
        return HarvestItem(*row) if row is not None else None

    def organisations(self) -> list[tuple[str, str]]:
        """(organisation ID, a name it is given) of every organisation an object names."""
        query = (select(ObjectRow.organisation_id, func.max(ObjectRow.organisation_name))
                 .where(ObjectRow.organisation_id.is_not(None))
                 .group_by(ObjectRow.organisation_id).order_by(ObjectRow.organisation_id))
        with self.engine.connect() as connection:
            return [(str(identifier), str(name or identifier))
                    for identifier, name in connection.execute(query)]

    def earliest_recorded(self) -> str | None:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.min(VersionRow.recorded)))

    # -- rebuild -----------------------------------------------------------------------

    def renumber_feed(self) -> None:
        """Number the whole feed in time order (rebuild-index: S3 holds the versions but
        not the order they were committed in, so time, then PID and version, decides).
        Each version's `recorded` becomes its own time, so it still never decreases
        along the feed; each object's `sequence` follows its current version."""
        ordered = select(VersionRow.pid, VersionRow.version, VersionRow.created).order_by(
            VersionRow.created, VersionRow.pid, VersionRow.version)
        with self.engine.begin() as connection:
            keys = list(connection.execute(ordered))
            connection.execute(update(VersionRow).values(sequence=None))
            connection.execute(update(ObjectRow).values(sequence=None))
            connection.execute(
                update(VersionRow)
                .where(VersionRow.pid == bindparam("key_pid"),
                       VersionRow.version == bindparam("key_version"))
                .values(sequence=bindparam("position"), recorded=bindparam("time")),
                [{"key_pid": pid, "key_version": version, "position": position,
                  "time": created}
                 for position, (pid, version, created) in enumerate(keys, start=1)])
            current = (select(VersionRow.sequence)
                       .where(VersionRow.pid == ObjectRow.pid,
                              VersionRow.version == ObjectRow.version)
                       .scalar_subquery())
            connection.execute(update(ObjectRow).values(sequence=current))
            connection.execute(update(CounterRow).where(CounterRow.name == FEED).values(
                value=len(keys), stamp=keys[-1][2] if keys else None))
