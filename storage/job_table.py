"""Ingest jobs in the index (`IngestJobRow`, storage/models.py): their reads and writes.

Unlike the rest of the index this is not derived from S3: a job is the bookkeeping of a
request, so rebuild-index leaves the table alone. When a job counts as interrupted is the
caller's rule (repository/jobs.py); these are only the statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, inspect, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from storage.models import IngestJobRow, timestamp

QUEUED, RUNNING, SUCCEEDED, FAILED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "interrupted")
UNFINISHED = (QUEUED, RUNNING)
ADDED_COLUMNS = {"request": "JSON", "attempts": "INTEGER NOT NULL DEFAULT 0"}


class JobTable:
    """The `ingest_jobs` table on the index's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def add_columns(self) -> None:
        """Give an index made before jobs left the web workers their new columns."""
        present = {column["name"] for column in inspect(self.engine).get_columns("ingest_jobs")}
        with self.engine.begin() as connection:
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    connection.execute(text(f"ALTER TABLE ingest_jobs ADD COLUMN {name} {kind}"))

    def add(self, row: IngestJobRow) -> None:
        with self.sessions() as session:
            session.add(row)
            session.commit()

    def remove(self, job_id: str) -> None:
        """A job that was never queued (its queue did not answer)."""
        with self.engine.begin() as connection:
            connection.execute(delete(IngestJobRow).where(IngestJobRow.id == job_id))

    def get(self, job_id: str) -> IngestJobRow | None:
        with self.sessions() as session:
            return session.get(IngestJobRow, job_id)

    def statuses(self, job_ids: list[str]) -> dict[str, str]:
        query = select(IngestJobRow.id, IngestJobRow.status).where(IngestJobRow.id.in_(job_ids))
        with self.engine.connect() as connection:
            return {job_id: status for job_id, status in connection.execute(query)}

    def claim(self, job_id: str, worker: str, stale_before: str) -> bool:
        """The job is `worker`'s to run: it was queued or interrupted, or running in a
        process whose heartbeat is older than `stale_before`. False if another process
        holds it or it has ended. One statement, so two workers never both win."""
        now = timestamp()
        lost = and_(IngestJobRow.status == RUNNING, IngestJobRow.heartbeat < stale_before)
        return self._update(IngestJobRow.id == job_id,
                            or_(IngestJobRow.status.in_((QUEUED, INTERRUPTED)), lost),
                            status=RUNNING, worker=worker, started=now, heartbeat=now,
                            finished=None, error=None,
                            attempts=IngestJobRow.attempts + 1) > 0

    def progress(self, job_id: str, done: int, total: int) -> None:
        self._update(IngestJobRow.id == job_id, IngestJobRow.status == RUNNING,
                     done=done, total=total, heartbeat=timestamp())

    def finish(self, job_id: str, status: str, summary: dict[str, Any] | None = None,
               error: str | None = None) -> None:
        """The job's end, whatever was said of it meanwhile: the process that ran it knows
        best (a heartbeat lost to a database outage may have called it interrupted)."""
        now = timestamp()
        self._update(IngestJobRow.id == job_id, status=status, finished=now, heartbeat=now,
                     summary=summary, error=error)

    def beat(self, worker: str) -> None:
        """The process `worker` is alive: its unfinished jobs' heartbeat is now."""
        self._update(IngestJobRow.worker == worker, IngestJobRow.status.in_(UNFINISHED),
                     heartbeat=timestamp())

    def interrupt_stale(self, before: str, message: str, job_id: str | None = None) -> int:
        """Unfinished jobs (or the one job) whose heartbeat is older than `before`."""
        conditions = [IngestJobRow.status.in_(UNFINISHED), IngestJobRow.heartbeat < before]
        if job_id is not None:
            conditions.append(IngestJobRow.id == job_id)
        return self._update(*conditions, status=INTERRUPTED, finished=timestamp(), error=message)

    def _update(self, *conditions: Any, **values: Any) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(update(IngestJobRow).where(*conditions).values(**values))
            return int(result.rowcount)
