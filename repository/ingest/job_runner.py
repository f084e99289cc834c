"""Background jobs: datasets uploaded over HTTP, ingested in the background, and other
long work of the repository (annotation batches, repository/batches.py).

Each app process has one runner thread with a queue: its jobs run one at a time, in the
order they were accepted, in the process that accepted them (their files are in that
machine's spool folder). Everything else about a job is its row in the index
(storage/job_table.py), so any gunicorn worker on any machine answers for any job. The full
report goes to S3 (`ingest-jobs/<id>/report.json`, never under `fdo/`); the row keeps
its summary.

Interruption. A process says it is alive with a heartbeat on its unfinished jobs, every
`HEARTBEAT_SECONDS`, from a thread of its own (a long read-through calls no progress).
A queued or running job whose heartbeat is older than `STALE_SECONDS` has lost its
process (killed, crashed, its machine gone): reading it, or any app starting, marks it
interrupted. A process that exits cleanly (a gunicorn restart) marks its own unfinished
jobs interrupted at once. A process ID alone could not say this: it may be another
machine's, or reused. Interrupted jobs are not resumed: submitting the dataset again is
safe, since what the first run wrote comes back unchanged.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from repository.ingest.datasets import DATASET_FORMATS, open_dataset
from repository.ingest.dwca import ArchiveError
from repository.ingest.report import IngestReport, Listing, write_report
from repository.ingest.run import TooManyMissing, run
from repository.provenance import Agent
from repository.services import FDOService
from repository.source_systems import SourceSystem
from storage.job_table import (
    FAILED,
    QUEUED,
    SUCCEEDED,
    UNFINISHED,
    JobTable,
)
from storage.models import IngestJobRow, timestamp
from storage.objects import ObjectMissing

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 180  # six missed heartbeats: a slow database is not a dead process
PROGRESS_SECONDS = 1.0  # at most one progress write a second
AGAIN = "submit the dataset again: records the run already wrote come back unchanged"
# One job's work: called with a progress callback (done, total), it returns the summary
# the job row keeps, or raises JobFailed saying why it could not be done.
Work = Callable[[Callable[[int, int], None]], dict[str, Any]]


class JobFailed(Exception):
    """Work that could not be done, for a reason its submitter can act on."""
LOST = f"the process running the job stopped answering (no heartbeat for {STALE_SECONDS} s); "
STOPPED = "the server process running the job was stopped; "
AGAIN_ANY = "submit it again: what it already did is found, not done twice"


@dataclass(frozen=True)
class Submission:
    """What a client asked for, checked."""

    format: str  # a name in DATASET_FORMATS
    # The live source system the job named (`resolve_source_system`): its PID URL and its
    # organisation are the job row's `source_system` and `organisation_id`.
    source_system: SourceSystem
    licence: str | None  # of records that name none; else the source system's default
    dry_run: bool
    tombstone_missing: bool
    force: bool  # tombstone more than the share of its live specimens all the same
    submitter: Agent  # who asked: the provenance names them as the one the run acted for


def report_key(job_id: str) -> str:
    return f"ingest-jobs/{job_id}/report.json"


class JobRunner:
    """This process's queue of ingest jobs and the thread that works through it."""

    def __init__(self, service: FDOService, tombstone_max_share: float, spool: Path) -> None:
        self.service = service
        self.tombstone_max_share = tombstone_max_share
        self.spool = spool
        self.table = JobTable(service.index.engine)
        self.worker = ""  # host:pid:random, once this process has started its threads
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, Work]] = queue.Queue()
        self._unfinished: set[str] = set()

    def folder(self, job_id: str) -> Path:
        return self.spool / job_id

    def submit(self, job_id: str, submission: Submission,
               uploads: list[tuple[str, IO[bytes]]]) -> IngestJobRow:
        """Spool the uploaded files (name, stream), open them as a dataset (`ArchiveError`
        when that fails) and queue the job. Refused or failed, nothing is left behind."""
        folder = self.folder(job_id)
        try:
            paths = _spooled(folder, uploads, DATASET_FORMATS[submission.format].suffix)
            with contextlib.ExitStack() as stack:
                open_dataset(stack, submission.format, paths)
            self._start()
            now = timestamp()
            row = IngestJobRow(
                id=job_id, status=QUEUED, format=submission.format,
                source_system=submission.source_system.pid_url,
                organisation_id=submission.source_system.organisation_id,
                licence=submission.licence,
                dry_run=submission.dry_run, tombstone_missing=submission.tombstone_missing,
                submitted_by=submission.submitter.id, created=now, done=0,
                worker=self.worker, heartbeat=now)
            self.table.add(row)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._queued(job_id, lambda progress: self._ingest(job_id, submission, paths, progress))
        return row

    def submit_work(self, row: IngestJobRow, work: Work) -> IngestJobRow:
        """Queue other work than an ingest: `row` says what it is (`format`), who asked
        (`submitted_by`) and for whom (`organisation_id`, `source_system`)."""
        self._start()
        row.status, row.done, row.worker, row.heartbeat = QUEUED, 0, self.worker, timestamp()
        row.created = row.heartbeat
        self.table.add(row)
        self._queued(row.id, work)
        return row

    def _queued(self, job_id: str, work: Work) -> None:
        with self._lock:
            self._unfinished.add(job_id)
        self._queue.put((job_id, work))

    def job(self, job_id: str) -> IngestJobRow | None:
        """The job as the index has it, interrupted if its process is gone."""
        row = self.table.get(job_id)
        stale = timestamp(STALE_SECONDS)
        if row is not None and row.status in UNFINISHED and row.heartbeat < stale:
            self.table.interrupt_stale(stale, LOST + AGAIN, job_id)
            row = self.table.get(job_id)
        return row

    def report(self, job_id: str) -> tuple[int, Iterator[bytes]] | None:
        """The size and bytes of the job's full report, or None if S3 has none."""
        try:
            return self.service.store.stream(report_key(job_id))
        except ObjectMissing:
            return None

    def recover(self) -> None:
        """At start-up: jobs whose process is gone are interrupted, and the files of ended
        jobs in this machine's spool folder deleted. A folder with no job row is left
        alone: a submission still being checked, or another deployment's."""
        try:
            self.table.interrupt_stale(timestamp(STALE_SECONDS), LOST + AGAIN)
            folders = [item for item in self.spool.iterdir() if item.is_dir()] \
                if self.spool.is_dir() else []
            statuses = self.table.statuses([folder.name for folder in folders])
        except Exception as error:  # noqa: BLE001 - start anyway; a later start catches up
            log.warning("ingest jobs not recovered at start-up: %s", error)
            return
        for folder in folders:
            if statuses.get(folder.name, QUEUED) not in UNFINISHED:
                shutil.rmtree(folder, ignore_errors=True)

    def _start(self) -> None:
        """This process's threads, started with its first job: a process forked after the
        app was built (gunicorn --preload) starts its own."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self.worker = f"{socket.gethostname()[:80]}:{self._pid}:{secrets.token_hex(4)}"
            self._queue = queue.Queue()
            self._unfinished = set()
            threading.Thread(target=self._work, name="ingest-jobs", daemon=True).start()
            threading.Thread(target=self._beat, name="ingest-heartbeat", daemon=True).start()
            atexit.register(self._stop)

    def _work(self) -> None:
        while True:
            job_id, work = self._queue.get()
            try:
                self._run(job_id, work)
            except Exception:  # the job's row could not be written: log, take the next
                log.exception("job %s", job_id)
            finally:
                with self._lock:
                    self._unfinished.discard(job_id)
                shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def _run(self, job_id: str, work: Work) -> None:
        if not self.table.start(job_id):
            return  # interrupted while it waited
        try:
            summary = work(self._progress(job_id))
        except JobFailed as error:  # found before any write, or said so
            self.table.finish(job_id, FAILED, error=str(error))
        except Exception as error:  # noqa: BLE001 - the job fails, the runner goes on
            log.exception("job %s failed", job_id)
            self.table.finish(job_id, FAILED, error=f"the job stopped ({type(error).__name__}"
                              f": {error}); {AGAIN_ANY}")
        else:
            self.table.finish(job_id, SUCCEEDED, summary=summary)

    def _ingest(self, job_id: str, submission: Submission, paths: list[Path],
                progress: Callable[[int, int], None]) -> dict[str, Any]:
        source = submission.source_system.ingest_source(submission.licence,
                                                        submission.submitter)
        try:
            with contextlib.ExitStack() as stack:
                dataset = open_dataset(stack, submission.format, paths)
                listing = stack.enter_context(Listing())
                report = run(self.service, dataset, source, listing,
                             dry_run=submission.dry_run,
                             tombstone_missing=submission.tombstone_missing,
                             force=submission.force, max_share=self.tombstone_max_share,
                             progress=progress)
                self._save_report(job_id, report, listing)
        except (ArchiveError, TooManyMissing) as error:  # found before any write
            raise JobFailed(str(error)) from error
        return report.summary()

    def _progress(self, job_id: str) -> Callable[[int, int], None]:
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if done < total and now - last < PROGRESS_SECONDS:
                return
            last = now
            self.table.progress(job_id, done, total)
        return progress

    def _save_report(self, job_id: str, report: IngestReport, listing: Listing) -> None:
        path = self.folder(job_id) / "report.json"  # beside the uploads, deleted with them
        with path.open("w", encoding="utf-8") as out:
            write_report(report, listing, out)
        self.service.store.upload(report_key(job_id), path, "application/json")

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with self._lock:
                busy = bool(self._unfinished)
            if busy:
                try:
                    self.table.beat(self.worker)
                except Exception as error:  # noqa: BLE001 - try again at the next beat
                    log.warning("ingest job heartbeat failed: %s", error)

    def _stop(self) -> None:
        """At a clean exit: this process's unfinished jobs will not finish."""
        with self._lock:
            unfinished = list(self._unfinished)
        if not unfinished:
            return
        try:
            self.table.interrupt_worker(self.worker, STOPPED + AGAIN)
        except Exception as error:  # noqa: BLE001 - exiting anyway; their heartbeat stops
            log.warning("ingest jobs not marked interrupted at exit: %s", error)
        for job_id in unfinished:
            shutil.rmtree(self.folder(job_id), ignore_errors=True)


def _spooled(folder: Path, uploads: list[tuple[str, IO[bytes]]], suffix: str) -> list[Path]:
    """Each upload saved as `folder/<n>/<its name, made safe>`: errors name the client's
    file, and two uploads of the same name do not collide."""
    paths = []
    for number, (name, stream) in enumerate(uploads):
        path = folder / str(number) / _safe_name(name, f"dataset{suffix}")
        path.parent.mkdir(parents=True)
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        paths.append(path)
    return paths


def _safe_name(name: str, fallback: str) -> str:
    """The last part of a client's file name, in characters safe in any file system."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", last).lstrip(".")[:128] or fallback
