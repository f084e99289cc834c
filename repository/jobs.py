"""Background jobs: datasets uploaded over HTTP to ingest, annotation batches to make or
decide (repository/batches.py). The web app accepts them (`Jobs`); `fdo worker` processes
run them (`JobWorker`, repository/worker.py), on this machine or any other.

A job is three things, none of them in a web worker's memory:
- its row in the index (storage/job_table.py): what it is, who asked (with the grants they
  held), its status and progress, and which worker holds it. Any gunicorn worker on any
  machine answers for any job from it;
- for an ingest, the uploaded files in S3 under `ingest-jobs/<id>/uploads/`, deleted when
  the job ends; its full report goes to `ingest-jobs/<id>/report.json` (never under `fdo/`);
- a message with its ID in the durable queue (repository/job_queue.py).

Workers die. A worker says it is alive with a heartbeat on the rows of the jobs it runs,
every `HEARTBEAT_SECONDS`, from a thread of its own (a long read-through calls no
progress). When a worker is killed, the queue delivers its message again to another
worker (or to the same one restarted), which claims the row once its heartbeat is
`CLAIM_AFTER_SECONDS` old and runs the job again from the start. That is safe because every
kind of job is idempotent: an ingest finds the records it already wrote unchanged, a batch
finds the annotations it already made, a decision skips the annotations already decided.
A row whose heartbeat is older than `STALE_SECONDS` is shown as interrupted (its queue lost
it, or no worker runs): it still runs if its message comes back.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from repository import errors
from repository.access import Principal
from repository.batches import Batches, BatchRequest, found_objects
from repository.decisions import Decision
from repository.ingest.datasets import DATASET_FORMATS, open_dataset
from repository.ingest.dwca import ArchiveError
from repository.ingest.report import IngestReport, Listing, write_report
from repository.ingest.run import TooManyMissing, run
from repository.job_queue import JobQueue, QueueUnavailable, TryLater
from repository.machine_services import MachineServices
from repository.provenance import Agent
from repository.services import FDOService
from repository.source_systems import SourceSystem, resolve_source_system
from storage.job_table import FAILED, QUEUED, SUCCEEDED, UNFINISHED, JobTable
from storage.models import IngestJobRow, timestamp
from storage.objects import ObjectMissing

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5
# Four missed heartbeats: the worker is gone, and the next delivery of its message runs it.
CLAIM_AFTER_SECONDS = 20
# No heartbeat for three minutes: shown as interrupted, since no worker seems to have it.
STALE_SECONDS = 180
PROGRESS_SECONDS = 1.0  # at most one progress write a second
# The job kinds besides the dataset formats: annotation batches and their decisions, and
# the delivery and time-out of a machine annotation run (repository/machine_services.py).
# (The names fit the row's 8-character `format` column.)
BATCH, DECIDE, MAS_RUN, MAS_EXPIRY, MAS_SEARCH = (
    "batch", "decide", "mas-run", "mas-ttl", "mas-srch")
AGAIN = "submit it again: what it already did is found, not done twice"
LOST = (f"no worker has said it runs this job for {STALE_SECONDS} s: it runs again if a "
        f"worker takes it from the queue; if none does, {AGAIN}")


class JobFailed(Exception):
    """Work that could not be done, for a reason its submitter can act on."""


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


def upload_key(job_id: str, number: int, name: str) -> str:
    return f"ingest-jobs/{job_id}/uploads/{number}/{name}"


class Jobs:
    """The web app's side: jobs accepted, queued, and read back."""

    def __init__(self, service: FDOService, queue: JobQueue, spool: Path) -> None:
        self.service = service
        self.queue = queue
        self.spool = spool
        self.table = JobTable(service.index.engine)

    def submit(self, job_id: str, submission: Submission,
               uploads: list[tuple[str, IO[bytes]]]) -> IngestJobRow:
        """Check the uploaded files (name, stream) open as a dataset (`ArchiveError` when
        they do not), put them in S3 and queue the job. Refused or failed, nothing is left
        behind: no upload in S3, no row."""
        folder = self.spool / job_id
        keys: list[str] = []
        try:
            paths = _spooled(folder, uploads, DATASET_FORMATS[submission.format].suffix)
            with contextlib.ExitStack() as stack:
                open_dataset(stack, submission.format, paths)
            for number, path in enumerate(paths):
                keys.append(upload_key(job_id, number, path.name))
                self.service.store.upload(keys[-1], path, "application/octet-stream")
            return self._queued(IngestJobRow(
                id=job_id, format=submission.format,
                source_system=submission.source_system.pid_url,
                organisation_id=submission.source_system.organisation_id,
                licence=submission.licence, dry_run=submission.dry_run,
                tombstone_missing=submission.tombstone_missing,
                submitted_by=submission.submitter.id,
                request={"uploads": keys, "force": submission.force,
                         "submitter": submission.submitter.as_json()}))
        except BaseException:
            for key in keys:
                with contextlib.suppress(Exception):  # best effort; the 4xx/5xx matters
                    self.service.store.delete_upload(key)
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def submit_batch(self, request: BatchRequest, actor: Principal) -> IngestJobRow:
        return self._queued(_work_row(BATCH, actor, {"batch": request.as_json()}))

    def submit_decision(self, batch_id: str, decision: Decision,
                        actor: Principal) -> IngestJobRow:
        return self._queued(_work_row(DECIDE, actor, {
            "batchID": batch_id, "decision": decision.as_json()}))

    def submit_search_run(self, kind: str, arguments: list[tuple[str, list[str]]],
                          services: list[str], actor: Principal) -> IngestJobRow:
        """A run on a search: a background job scheduling a run per object found."""
        return self._queued(_work_row(MAS_SEARCH, actor, {
            "kind": kind, "arguments": arguments, "services": services}))

    def submit_machine_run(self, job_pid: str, ttl_ms: int, actor: Principal) -> None:
        """Deliver the run now, and end it at its time to live unless it has ended."""
        self._queued(_work_row(MAS_RUN, actor, {"job": job_pid}))
        self._queued(_work_row(MAS_EXPIRY, actor, {"job": job_pid}), delay_ms=ttl_ms)

    def _queued(self, row: IngestJobRow, delay_ms: int | None = None) -> IngestJobRow:
        """The row added, then the message sent: a worker never gets an ID without a row.
        A queue that does not answer removes the row again (503: nothing was queued)."""
        row.status, row.done, row.worker, row.attempts = QUEUED, 0, "", 0
        row.created = timestamp()
        # A delayed job (a run's time-out) is not lost while it waits: its heartbeat is
        # when it is due, so it is shown interrupted only STALE_SECONDS after that.
        row.heartbeat = timestamp(-(delay_ms or 0) / 1000)
        self.table.add(row)
        try:
            self.queue.send(row.id, delay_ms)
        except QueueUnavailable as error:
            self.table.remove(row.id)
            raise errors.QueueUnavailable(
                "the job queue is not answering: nothing was queued, try again later") \
                from error
        return row

    def job(self, job_id: str) -> IngestJobRow | None:
        """The job as the index has it, interrupted if no worker has said it runs it."""
        row = self.table.get(job_id)
        stale = timestamp(STALE_SECONDS)
        if row is not None and row.status in UNFINISHED and row.heartbeat < stale:
            self.table.interrupt_stale(stale, LOST, job_id)
            row = self.table.get(job_id)
        return row

    def report(self, job_id: str) -> tuple[int, Any] | None:
        """The size and bytes of the job's full report, or None if S3 has none."""
        try:
            return self.service.store.stream(report_key(job_id))
        except ObjectMissing:
            return None


def _work_row(kind: str, actor: Principal, request: dict[str, Any]) -> IngestJobRow:
    return IngestJobRow(id=str(uuid.uuid4()), format=kind, source_system="", organisation_id=None,
                        licence=None, dry_run=False, tombstone_missing=False,
                        submitted_by=actor.agent.id,
                        request={**request, "actor": actor.as_json()})


class JobWorker:
    """A worker process's side: runs the jobs the queue delivers, one per thread."""

    def __init__(self, service: FDOService, batches: Batches,
                 machine_services: MachineServices, submitter: Jobs,
                 tombstone_max_share: float, spool: Path) -> None:
        self.service = service
        self.batches = batches
        self.machine_services = machine_services
        self.submitter = submitter  # queues the runs a run on a search makes
        self.tombstone_max_share = tombstone_max_share
        self.spool = spool
        self.table = JobTable(service.index.engine)
        self.name = f"{socket.gethostname()[:80]}:{secrets.token_hex(6)}"
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._stopped = threading.Event()
        self._beating: threading.Thread | None = None

    def start(self) -> None:
        """Clean the spool of jobs that have ended, and start the heartbeat."""
        self._clean_spool()
        self._beating = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
        self._beating.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._beating is not None:
            self._beating.join(HEARTBEAT_SECONDS + 5)

    def run(self, job_id: str) -> None:
        """The queue's handler. A job held by a live worker is tried again later; one that
        has ended, or that this index does not know, is dropped."""
        if not self.table.claim(job_id, self.name, timestamp(CLAIM_AFTER_SECONDS)):
            row = self.table.get(job_id)
            if row is not None and row.status in UNFINISHED:
                # Again once its holder's heartbeat would be stale, unless it beats meanwhile.
                wait = CLAIM_AFTER_SECONDS - _seconds_since(row.heartbeat)
                raise TryLater(f"job {job_id} is held by worker {row.worker}",
                               delay=int(max(wait, 0) * 1000) + 1000)
            return
        with self._lock:
            self._running.add(job_id)
        try:
            self._run(job_id)
        finally:
            with self._lock:
                self._running.discard(job_id)
            shutil.rmtree(self.spool / job_id, ignore_errors=True)

    def _run(self, job_id: str) -> None:
        row = self.table.get(job_id)
        assert row is not None  # claimed just now
        try:
            summary = self._work(row)
        except JobFailed as error:  # found before any write, or said so
            self.table.finish(job_id, FAILED, error=str(error))
        except Exception as error:  # noqa: BLE001 - the job fails, the worker goes on
            log.exception("job %s failed", job_id)
            self.table.finish(job_id, FAILED, error=f"the job stopped ({type(error).__name__}"
                              f": {error}); {AGAIN}")
        else:
            self.table.finish(job_id, SUCCEEDED, summary=summary)
        for key in (row.request or {}).get("uploads", []):  # ended: its files are done with
            with contextlib.suppress(Exception):
                self.service.store.delete_upload(key)

    def _work(self, row: IngestJobRow) -> dict[str, Any]:
        request = row.request or {}
        progress = self._progress(row.id)
        try:
            if row.format == BATCH:
                return self.batches.making(BatchRequest.from_json(request["batch"]),
                                           Principal.from_json(request["actor"]))(progress)
            if row.format == MAS_RUN:
                return self.machine_services.deliver(request["job"])
            if row.format == MAS_EXPIRY:
                return self.machine_services.expire(request["job"])
            if row.format == MAS_SEARCH:
                actor = Principal.from_json(request["actor"])
                return self.machine_services.run_on_search(
                    row.id, found_objects(self.batches.search, request["kind"], [
                        (name, list(values)) for name, values in request["arguments"]]),
                    request["services"], actor,
                    lambda run: self.submitter.submit_machine_run(run.record.pid,
                                                                  run.ttl_ms, actor),
                    progress)
            if row.format == DECIDE:
                return self.batches.deciding(request["batchID"],
                                             Decision.from_json(request["decision"]),
                                             Principal.from_json(request["actor"]))(progress)
            return self._ingest(row, request, progress)
        except errors.FDOError as error:  # the source system or batch is no longer there
            raise JobFailed(str(error)) from error

    def _ingest(self, row: IngestJobRow, request: dict[str, Any],
                progress: Callable[[int, int], None]) -> dict[str, Any]:
        source_system = resolve_source_system(self.service, row.source_system)
        submitter = Agent.from_json(request["submitter"])
        source = source_system.ingest_source(row.licence, submitter)
        changed, annotating = None, None
        if source_system.specimen_services:  # run on each specimen it creates or changes
            asked_by = Principal(submitter, frozenset())
            changed, annotating = self.machine_services.at_ingest(
                row.id, source_system.specimen_services, asked_by,
                lambda run: self.submitter.submit_machine_run(run.record.pid, run.ttl_ms,
                                                              asked_by))
        folder = self.spool / row.id
        shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's, on this machine
        paths = []
        for key in request["uploads"]:
            paths.append(folder / key.split("/uploads/", 1)[1])
            paths[-1].parent.mkdir(parents=True)
            try:
                self.service.store.download(key, paths[-1])
            except ObjectMissing as error:
                raise JobFailed(f"the uploaded dataset is gone ({key}); submit it again") \
                    from error
        try:
            with contextlib.ExitStack() as stack:
                dataset = open_dataset(stack, row.format, paths)
                listing = stack.enter_context(Listing())
                report = run(self.service, dataset, source, listing, dry_run=row.dry_run,
                             tombstone_missing=row.tombstone_missing,
                             force=bool(request.get("force")),
                             max_share=self.tombstone_max_share, progress=progress,
                             changed=changed)
                self._save_report(row.id, report, listing)
        except (ArchiveError, TooManyMissing) as error:  # found before any write
            raise JobFailed(str(error)) from error
        summary = report.summary()
        if annotating is not None:
            summary["machineAnnotation"] = annotating
        return summary

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
        path = self.spool / job_id / "report.json"  # beside the uploads, deleted with them
        with path.open("w", encoding="utf-8") as out:
            write_report(report, listing, out)
        self.service.store.upload(report_key(job_id), path, "application/json")

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            with self._lock:
                busy = bool(self._running)
            if busy:
                try:
                    self.table.beat(self.name)
                except Exception as error:  # noqa: BLE001 - try again at the next beat
                    log.warning("job heartbeat failed: %s", error)

    def _clean_spool(self) -> None:
        """Files left by jobs that have ended (a worker killed mid-run leaves its folder).
        A folder with no job row is left alone: a submission still being checked."""
        folders = [item for item in self.spool.iterdir() if item.is_dir()] \
            if self.spool.is_dir() else []
        try:
            statuses = self.table.statuses([folder.name for folder in folders])
        except Exception as error:  # noqa: BLE001 - start anyway; a later start catches up
            log.warning("job spool not cleaned at start-up: %s", error)
            return
        for folder in folders:
            if statuses.get(folder.name, QUEUED) not in UNFINISHED:
                shutil.rmtree(folder, ignore_errors=True)


def _seconds_since(stamp: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()


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
