"""What curation looks up about annotations: one row per live annotation, with its target,
motivation, decision and creator, written in the transaction that records its version
(storage/index_writes.py) and rebuilt from S3 like the rest of the index. The lists of
annotations (a target's, an organisation's pending queue, an annotator's own) and a
re-ingest's question "which approved changes does this specimen carry" read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ForeignKey,
    String,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy import Index as SqlIndex
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, ObjectRow


class AnnotationRow(Base):
    __tablename__ = "fdo_annotations"
    pid: Mapped[str] = mapped_column(ForeignKey("fdo_objects.pid"), primary_key=True)
    target: Mapped[str] = mapped_column(String(128))  # its PID, unversioned
    motivation: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str | None] = mapped_column(String(16))  # Pending, Approved, Rejected
    creator: Mapped[str] = mapped_column(String(512))  # the creator's @id
    batch: Mapped[str | None] = mapped_column(String(64))  # its ods:batchID
    job: Mapped[str | None] = mapped_column(String(512))  # its ods:jobID (a MAS run)


SqlIndex("ix_fdo_annotations_target", AnnotationRow.target, AnnotationRow.pid)
SqlIndex("ix_fdo_annotations_decision", AnnotationRow.decision, AnnotationRow.pid)
SqlIndex("ix_fdo_annotations_creator", AnnotationRow.creator, AnnotationRow.pid)
SqlIndex("ix_fdo_annotations_batch", AnnotationRow.batch, AnnotationRow.pid)
SqlIndex("ix_fdo_annotations_job", AnnotationRow.job, AnnotationRow.pid)
ANNOTATION_TABLE = "fdo_annotations"
APPROVED = "Approved"


@dataclass(frozen=True)
class AnnotationFacts:
    """What the table keeps of an annotation's current version."""

    target: str
    motivation: str
    decision: str | None
    creator: str
    batch: str | None = None
    job: str | None = None


@dataclass(frozen=True)
class AnnotationQuery:
    """Which annotations to list: every field given must match. `organisation` is the
    target's; pages follow PID order after `after`."""

    target: str | None = None
    motivations: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    creator: str | None = None
    organisation: str | None = None
    batch: str | None = None
    job: str | None = None
    after: str = ""
    limit: int = 20


_COLUMNS = ("target", "motivation", "decision", "creator", "batch", "job")
_INSERT = insert(AnnotationRow)
_UPDATE = (update(AnnotationRow).where(AnnotationRow.pid == bindparam("key_pid"))
           .values({name: bindparam(name) for name in _COLUMNS}))
_DELETE = delete(AnnotationRow).where(AnnotationRow.pid == bindparam("key_pid"))


def record_annotation(connection: Connection, pid: str, version: int,
                      facts: AnnotationFacts | None) -> None:
    """Keep the row of an annotation's current version; none once it is tombstoned."""
    if facts is None:
        if version > 1:
            connection.execute(_DELETE, {"key_pid": pid})
        return
    values = {name: getattr(facts, name) for name in _COLUMNS}
    if version > 1 and connection.execute(_UPDATE, {**values, "key_pid": pid}).rowcount:
        return
    connection.execute(_INSERT, {**values, "pid": pid})


class AnnotationReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, query: AnnotationQuery) -> tuple[list[str], int]:
        """PIDs of one page of annotations, and how many match in all."""
        conditions = []
        if query.target:
            conditions.append(AnnotationRow.target == query.target)
        if query.motivations:
            conditions.append(AnnotationRow.motivation.in_(query.motivations))
        if query.decisions:
            conditions.append(AnnotationRow.decision.in_(query.decisions))
        if query.creator:
            conditions.append(AnnotationRow.creator == query.creator)
        if query.batch:
            conditions.append(AnnotationRow.batch == query.batch)
        if query.job:
            conditions.append(AnnotationRow.job == query.job)
        matching = select(AnnotationRow.pid).where(*conditions)
        if query.organisation:
            matching = matching.join(ObjectRow, ObjectRow.pid == AnnotationRow.target).where(
                ObjectRow.organisation_id == query.organisation)
        page = (matching.where(AnnotationRow.pid > query.after)
                .order_by(AnnotationRow.pid).limit(query.limit))
        with self.engine.connect() as connection:
            pids = list(connection.scalars(page))
            total = int(connection.scalar(
                select(func.count()).select_from(matching.subquery())) or 0)
        return pids, total

    def approved_on(self, targets: list[str]) -> dict[str, list[str]]:
        """The live approved annotations on these objects, by target, in PID order."""
        found: dict[str, list[str]] = {}
        if not targets:
            return found
        query = (select(AnnotationRow.target, AnnotationRow.pid)
                 .where(AnnotationRow.target.in_(targets), AnnotationRow.decision == APPROVED)
                 .order_by(AnnotationRow.pid))
        with self.engine.connect() as connection:
            for target, pid in connection.execute(query):
                found.setdefault(target, []).append(pid)
        return found

    def batch_creator(self, batch: str) -> str | None:
        """Who made the batch (its first annotation's creator); None for a new batch."""
        query = (select(AnnotationRow.creator).where(AnnotationRow.batch == batch)
                 .order_by(AnnotationRow.pid).limit(1))
        with self.engine.connect() as connection:
            return connection.scalar(query)

    def batch_counts(self, batch: str) -> dict[str, int]:
        """A batch's live annotations by decision ("" for none)."""
        query = (select(AnnotationRow.decision, func.count()).where(AnnotationRow.batch == batch)
                 .group_by(AnnotationRow.decision))
        with self.engine.connect() as connection:
            return {decision or "": int(count) for decision, count in connection.execute(query)}

    def all_rows(self) -> list[tuple[str | None, ...]]:
        """Every row: the PID, then `_COLUMNS`, in PID order (a rebuild is compared with
        what it replaced)."""
        query = select(AnnotationRow.pid, *(getattr(AnnotationRow, name) for name in _COLUMNS))
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query.order_by(AnnotationRow.pid))]

    def add_columns(self) -> None:
        """Give an index made before machine annotation jobs its `job` column. Annotations
        stored before carry no ods:jobID a job set, so the column starts empty."""
        present = {column["name"] for column in inspect(self.engine).get_columns(
            ANNOTATION_TABLE)}
        if "job" not in present:
            with self.engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {ANNOTATION_TABLE} ADD COLUMN job "
                                        f"VARCHAR(512)"))
                connection.execute(text(f"CREATE INDEX ix_fdo_annotations_job ON "
                                        f"{ANNOTATION_TABLE} (job, pid)"))
