"""Ingesting a dataset: each record becomes a digital specimen, or changes the one it
already is, or is reported as unchanged or rejected.

A record's specimen is found by its normalised physical specimen ID (the index's unique
key). Ingesting the same dataset again creates no version: the mapped client part is
compared with the current version's, by the digest the index keeps of it, so an
unchanged record costs no read from S3. Server-owned fields (`dcterms:modified`,
`ods:version`, ...) are not in that part, so a source's own timestamps never count as a
change either. A record whose content changed gets exactly one new version, whose
provenance (`ods:Update`) has the JSON Patch of the changed fields and the source system
as its agent (a `machine` agent).

Records are written in batches (`BATCH`): the batch's index lookups are a few queries,
its S3 reads and writes run on `WRITE_THREADS` threads, and its versions are recorded in
the index in one transaction. A new object's PID is derived from what identifies it (a
specimen's physical ID; a media object's specimen and access URI), so a run interrupted
between S3 and the index leaves versions that the re-run arrives at again: it finds its
own write at that key and records it, and nothing is duplicated. Ingest is idempotent per
(source system, physical ID, content). A derived PID that some other object already has
is drawn again (the record goes on in the next batch).

A bad record never stops the rest: it is reported with a stable code and, for schema
errors, the JSON Pointer of each problem (quality checks and their codes:
repository/ingest/quality.py). Only an unreadable archive stops a run, and that before
anything is written (`ArchiveError`), or S3 failing (what was written is found again).

Media rows (Audubon Core, Simple Multimedia) become digital media objects pointing at
their specimen (`hasDigitalSpecimen`); the specimen points at them (`hasDigitalMedia`,
`ods:isKnownToContainMedia`), in its first version already. A media row that left the
dataset is reported (`missing`) and its specimen no longer links it; with
`tombstone_missing` the media object is tombstoned.

A record whose licence is not CC0, CC BY or public domain gets a PID record only
(`mapping.pid_record`), reported as `pid-only`.

Specimens of the source system that the dataset no longer has are reported as `missing`
(with `tombstone_missing`, tombstoned with the reason). A run asked to tombstone them
first counts them (`MissingShare`): a pass over the dataset's physical IDs (and the DOIs
its rows carry) against the source system's live specimens, before anything is written.
If more than `max_share` of those would go, the run stops there (`TooManyMissing`) unless
forced; a dry run reports the count and goes on. A record that is in the dataset but
rejected counts as present in that pass; should the run end with more missing than the
share after all, they are reported and not tombstoned.

A record whose physical ID changed but that carries its specimen's DOI (in
`dwc:otherCatalogNumbers` or `dcterms:identifier`) updates that specimen; without it, the
old specimen is missing and, if a new one has its catalogNumber, flagged
`possible-duplicate`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from repository import errors
from repository.access import trusted
from repository.ingest import mapping
from repository.ingest.batch import Batch, ObjectWrite, Planned, RecordJob
from repository.ingest.curation import Curations
from repository.ingest.datasets import Dataset
from repository.ingest.dwca import Record
from repository.ingest.guard import TOMBSTONE_MAX_SHARE, MissingShare, TooManyMissing, count_missing
from repository.ingest.plans import Planner
from repository.ingest.report import (
    CREATED,
    MISSING,
    REJECTED,
    TOMBSTONED,
    UNCHANGED,
    UPDATED,
    IngestReport,
    Listing,
    Outcome,
)
from repository.provenance import Agent
from repository.records import client_part
from repository.services import FDOService
from repository.writes import WriteStatus
from schemas import MEDIA, SPECIMEN

BATCH = 200  # records per batch: S3 writes in flight together, then one index commit
WRITE_THREADS = 8  # S3 writes at once (reads go through the service's reader)
DEFERRALS = 3  # how often a record may be put off to a later batch before it is rejected


def _ingest(run: _Run, archive: Dataset, total: int,
            progress: Callable[[int, int], None] | None) -> Iterator[Outcome]:
    """Ingest every record of the archive, yielding what happened to each, then each
    specimen of this source system the dataset no longer has (`missing`, or with
    `tombstone_missing`, `tombstoned`). Records are written a batch at a time (`BATCH`).
    `progress(done, total)` is called as records are done."""
    done = 0
    pending: list[Planned] = []
    started: Batch | None = None  # its S3 writes in flight while the next is planned
    for record in archive.records():
        planned = run.plan(record)
        if isinstance(planned, Outcome):
            done += 1
            yield planned
        else:
            pending.append(planned)
        if len(pending) >= BATCH:
            outcomes, started = run.advance(started, pending)
            pending = []
            done += len(outcomes)
            yield from outcomes
        if progress is not None:
            progress(done, total)
    while started is not None or pending:
        outcomes, started = run.advance(started, pending)
        pending = []
        done += len(outcomes)
        yield from outcomes
    if progress is not None:
        progress(done, total)
    yield from run.missing()


def run(service: FDOService, archive: Dataset, source: mapping.Source, listing: Listing,
        dry_run: bool = False, tombstone_missing: bool = False, force: bool = False,
        max_share: float = TOMBSTONE_MAX_SHARE,
        progress: Callable[[int, int], None] | None = None,
        changed: Callable[[str], None] | None = None) -> IngestReport:
    """Ingest the dataset and report what happened; the outcomes the report lists one by
    one go to `listing`. `dry_run` maps and checks everything, and says what a real run
    would do, but writes nothing. `tombstone_missing` tombstones the source system's
    specimens the dataset no longer has, unless they are more than `max_share` of its
    live specimens: then `TooManyMissing`, before anything is written, unless `force`.

    The archive is read through once before anything is written, so one that turns out
    unreadable half-way (bytes not in its encoding, a corrupt member) leaves nothing
    half-ingested (`ArchiveError`). `changed` is called with the PID of each specimen the
    run creates or updates, as it does (machine annotation services run on them)."""
    report = IngestReport(source.system_name, dry_run)
    total = archive.check()
    with _Run(service, source, dry_run, tombstone_missing, force, max_share) as state:
        if tombstone_missing:
            started = time.monotonic()
            share = count_missing(service.index, archive, source, state.seen,
                                  max_share, force)
            report.guard = {**share.as_json(source.system_name),
                            "seconds": round(time.monotonic() - started, 3)}
            if share.stops and not dry_run:
                raise TooManyMissing(share, source.system_name)
        for outcome in _ingest(state, archive, total, progress):
            report.counts[outcome.status] += 1
            report.warnings.update(warning["code"] for warning in outcome.warnings)
            report.media.update(outcome.media)
            report.curation.update(event["result"] for event in outcome.curation)
            report.unmapped_terms.update(outcome.unmapped)
            if outcome.listed:
                listing.add(outcome)
            if changed and outcome.pid and outcome.status in (CREATED, UPDATED) and not dry_run:
                changed(outcome.pid)
    return report


class _Run:
    """One ingest run: the checks that need the whole dataset (duplicate physical IDs,
    what disappeared), the batches and the threads that write them.

    What the run has seen (physical IDs, PIDs ingested, catalogNumbers created) is kept
    in a temporary SQLite file, `seen`, not in memory, so a run's memory stays the same
    whatever the dataset's size."""

    def __init__(self, service: FDOService, source: mapping.Source, dry_run: bool,
                 tombstone_missing: bool, force: bool, max_share: float) -> None:
        self.service = service
        self.writes = service.writes  # every write of the run goes through it
        self.source = source
        self.dry_run = dry_run
        self.tombstone_missing = tombstone_missing
        self.force = force
        self.max_share = max_share
        self.agent = Agent(id=source.system_id, name=source.system_name, role="machine",
                           on_behalf_of=source.started_by)
        # The job was authorised when it was submitted: its writes are the repository's.
        self.actor = trusted(self.agent)
        self._folder = tempfile.TemporaryDirectory(prefix="fdo-ingest-")
        self.seen = sqlite3.connect(Path(self._folder.name) / "run.sqlite3")
        self.seen.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE physical (digest BLOB PRIMARY KEY);
            CREATE TABLE ingested (pid TEXT PRIMARY KEY);
            CREATE TABLE created (catalog TEXT PRIMARY KEY, pid TEXT);""")
        self.pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="fdo-ingest")
        self.planner = Planner(self.writes, service.index, source, self.seen)
        self.curations = Curations(service.index, service.reader, self.writes,
                                   service.base_url)

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown()
        self.seen.close()
        self._folder.cleanup()

    def plan(self, record: Record) -> Planned | Outcome:
        """Map and check one record: its outcome if it is rejected, else its plan."""
        return self.planner.plan(record)

    def advance(self, started: Batch | None,
                pending: list[Planned]) -> tuple[list[Outcome], Batch | None]:
        """Finish the batch in flight, if any, and start the next: the records it put off,
        then `pending`. The finished batch's outcomes, and the batch now in flight."""
        outcomes: list[Outcome] = []
        if started is not None:
            outcomes, later = self.finish(started)
            pending = later + pending
        return outcomes, (self.start(pending) if pending else None)

    def start(self, batch: list[Planned]) -> Batch:
        """Start writing one batch: find each record's specimen and media, compare, and
        send what changed to S3 on the write threads. `finish` waits for the writes."""
        jobs, later = self.planner.jobs(batch)
        self._reapply(jobs)
        self._read_currents(jobs)
        if self.dry_run:
            return Batch(jobs, later, [], [])
        for job in jobs:
            job.put_off = not all(self._owned(job.planned, write)
                                  for write in job.media if write is not None)
        writes = [(job, write) for job in jobs if not job.put_off for write in job.writes()
                  if write.status != UNCHANGED]
        drafts = [self.writes.draft(write.kind, write.pid, write.client, self.agent,
                                    write.current, derived_from=job.curation.derived_from
                                    if job.curation and write is job.specimen else ())
                  for job, write in writes]
        return Batch(jobs, later, writes, self.writes.start_writes(drafts, self.pool))

    def _reapply(self, jobs: list[RecordJob]) -> None:
        """Put approved annotations back on the specimens they changed (docs/curation.md):
        the batch's existing specimens that have any, found with one index query."""
        existing = [job for job in jobs if job.specimen.state is not None and job.planned.full]
        approved = self.curations.approved([job.specimen.pid for job in existing])
        for job in existing:
            annotations = approved.get(job.specimen.pid)
            if annotations:
                job.curation = self.curations.reapplied(SPECIMEN.name, job.specimen.client,
                                                        annotations)
                job.specimen.client = job.curation.client

    @staticmethod
    def _owned(planned: Planned, write: ObjectWrite) -> bool:
        """Whether the media object under the write's derived PID is its row's; if not,
        the next batch derives another."""
        if write.owned():
            return True
        planned.draw_again(write)
        return False

    def finish(self, batch: Batch) -> tuple[list[Outcome], list[Planned]]:
        """Wait for the batch's S3 writes and record them in the index (one transaction).
        The outcomes, and the records put off to the next batch: one whose PID another
        record of the batch also has, one whose derived PID turned out taken, one whose
        object changed meanwhile."""
        for (job, write), result in zip(batch.writes,
                                        self.writes.finish_writes(batch.pending),
                                        strict=True):
            write.result = result
            if result.status is WriteStatus.TAKEN:
                self._settle_taken(job.planned, write)
        later = batch.later
        outcomes = []
        for job in batch.jobs:
            outcome = job.outcome()
            if outcome is None:
                later.append(job.planned)
                continue
            outcomes.append(outcome)
            if not self.dry_run:
                for pid in job.dropped:
                    self._drop_media(pid)
        self.seen.executemany("INSERT OR IGNORE INTO ingested VALUES (?)",
                              [(outcome.pid,) for outcome in outcomes if outcome.pid])
        self.seen.executemany("INSERT OR REPLACE INTO created VALUES (?, ?)", [
            (catalog, job.specimen.pid) for job in batch.jobs
            if job.specimen.status == CREATED and job.specimen.result is not None
            and job.specimen.result.written
            and (catalog := job.planned.record.terms.get("dwc:catalogNumber"))])
        for planned in later:
            planned.deferred += 1
        retried = [planned for planned in later if planned.deferred <= DEFERRALS]
        outcomes += [Outcome(planned.record.line, planned.record.row_id, REJECTED,
                             code="retry-limit", problems=({"path": "", "message":
                             "its PID was taken or its object changed meanwhile, "
                             f"{DEFERRALS} times over: ingest again"},),
                             unmapped=planned.unmapped)
                     for planned in later if planned.deferred > DEFERRALS]
        return outcomes, retried

    def _read_currents(self, jobs: list[RecordJob]) -> None:
        """Read from S3, concurrently, the current version of every object the batch
        changes (what the change's patch is made against), and settle each write's
        status. An object whose digest the index lacks is compared in full."""
        changed = [write for job in jobs for write in job.writes()
                   if write.state is not None and write.differs()]
        currents = self.service.reader.versions(
            (write.pid, write.state.version) for write in changed if write.state is not None)
        for write, current in zip(changed, currents, strict=True):
            write.current = current
        for job in jobs:
            for write in job.writes():
                write.status = (CREATED if write.state is None else
                                UNCHANGED if write.current is None
                                or client_part(write.current.content) == write.client
                                else UPDATED)
            job.dropped = job.media_dropped()

    def _settle_taken(self, planned: Planned, write: ObjectWrite) -> None:
        """A derived PID's version 1 is in S3 but not in the index. If it is this record's
        object (a run interrupted between S3 and the index wrote it, and the record changed
        since), it is indexed now and the record goes on in the next batch, as an update;
        if it is another object's (or its physical ID is another specimen's now), the next
        batch draws another PID."""
        settled = self.writes.settle_taken(write.pid, write.kind, write.is_mine)
        if not settled.written:
            planned.draw_again(write)

    def _drop_media(self, pid: str) -> None:
        """A media object whose row left the dataset: reported, and with
        `tombstone_missing` tombstoned (its specimen no longer links it)."""
        if not self.tombstone_missing:
            return
        prefix, suffix = pid.split("/")
        with contextlib.suppress(errors.Conflict, errors.NotFound):  # tombstoned already
            self.service.tombstone(MEDIA.name, prefix, suffix,
                                   f"no longer in the dataset of {self.source.system_name}",
                                   None, None, self.actor)

    def missing(self) -> Iterator[Outcome]:
        """The live specimens of this source system that the dataset no longer has. One
        whose catalogNumber a specimen created in this run has is a possible duplicate:
        probably the same specimen under a changed physical ID, without its DOI to say
        so."""
        gone, live = self._gone()
        # The guard counted before the run; records it found named but the run rejected
        # are gone too: past the share after all, they are reported, not tombstoned.
        share = MissingShare(len(gone), live, self.max_share, self.force)
        held = ({"path": "", "message": share.refusal(self.source.system_name, written=True)}
                if self.tombstone_missing and share.stops else None)
        tombstone = self.tombstone_missing and not self.dry_run and held is None
        for pid in gone:  # after the listing: tombstoning changes what it lists
            prefix, suffix = pid.split("/")
            twin = self._twin(self.service.latest(SPECIMEN.name, prefix, suffix).content)
            problems = ({"path": "/dwc:catalogNumber", "message":
                         f"the new specimen {twin} has the same catalogNumber: if it is this "
                         "specimen under a changed physical ID, carry this specimen's DOI in "
                         "dwc:otherCatalogNumbers and ingest again"},) if twin else ()
            if tombstone:
                self.service.tombstone(SPECIMEN.name, prefix, suffix,
                                       f"no longer in the dataset of {self.source.system_name}",
                                       None, None, self.actor)
            yield Outcome(0, "", TOMBSTONED if tombstone else MISSING, pid,
                          code="possible-duplicate" if twin else None,
                          problems=problems + ((held,) if held and not self.dry_run else ()))

    def _gone(self) -> tuple[list[str], int]:
        """The live specimens of this source system the run did not ingest, and how many
        live specimens it has."""
        gone: list[str] = []
        after = ""
        live = 0
        while page := self.service.index.live_objects_of_source(self.source.system_id,
                                                                SPECIMEN.name, after):
            ingested = {pid for (pid,) in self.seen.execute(
                f"SELECT pid FROM ingested WHERE pid IN ({','.join('?' * len(page))})", page)}
            gone += [pid for pid in page if pid not in ingested]
            live += len(page)
            after = page[-1]
        return gone, live

    def _twin(self, content: dict[str, Any]) -> str | None:
        """The specimen created in this run with this one's catalogNumber, if any."""
        catalog = mapping.identifier(content, "dwc:catalogNumber")
        found = self.seen.execute("SELECT pid FROM created WHERE catalog = ?",
                                  (catalog,)).fetchone() if catalog else None
        return str(found[0]) if found else None


