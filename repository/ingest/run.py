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
(with `tombstone_missing`, tombstoned with the reason).

A record whose physical ID changed but that carries its specimen's DOI (in
`dwc:otherCatalogNumbers` or `dcterms:identifier`) updates that specimen; without it, the
old specimen is missing and, if a new one has its catalogNumber, flagged
`possible-duplicate`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from repository import errors
from repository.ingest import mapping, quality
from repository.ingest.dwca import Record
from repository.provenance import Agent
from repository.records import TOMBSTONE, client_digest, client_part
from repository.services import FDOService, WriteResult, normalised_physical_id
from resolver.pids import derived_suffix, find_pid, pid_url
from storage.models import ObjectState
from storage.objects import ObjectExists
from storage.versions import VersionRecord

SPECIMENS, MEDIA = "digital-specimens", "digital-media"
CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
PID_ONLY = "pid-only"  # a PID record only (the licence allows no more), created or kept
MISSING, TOMBSTONED = "missing", "tombstoned"  # specimens the dataset no longer has
CARRIED_PID_TERMS = ("dwc:otherCatalogNumbers", "dcterms:identifier")
BATCH = 200  # records per batch: S3 writes in flight together, then one index commit
WRITE_THREADS = 8  # S3 writes at once (reads go through the service's reader)
DEFERRALS = 3  # how often a record may be put off to a later batch before it is rejected


@dataclass(frozen=True)
class Outcome:
    line: int
    row_id: str
    status: str
    pid: str | None = None
    code: str | None = None  # why it was rejected
    problems: tuple[dict[str, str], ...] = ()
    warnings: tuple[dict[str, str], ...] = ()  # quality problems of an ingested record
    media: tuple[str, ...] = ()  # what happened to each of its media rows
    unmapped: tuple[str, ...] = ()  # terms openDS has no place for, met first in this record
    licence: str | None = None  # of a PID-only record: why it is one


@dataclass
class Report:
    source_system: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # by code
    media: Counter[str] = field(default_factory=Counter)
    unmapped_terms: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        return {"sourceSystem": self.source_system, "dryRun": self.dry_run,
                "counts": {status: self.counts[status]
                           for status in (CREATED, UPDATED, UNCHANGED, PID_ONLY, REJECTED,
                                          MISSING, TOMBSTONED)},
                "media": {status: self.media[status]
                          for status in (CREATED, UPDATED, UNCHANGED, REJECTED)},
                "warnings": dict(sorted(self.warnings.items())),
                "unmappedTerms": sorted(self.unmapped_terms)}

    def readable(self) -> str:
        """The summary in a few lines, for people (the CLI prints it to stderr)."""
        counts = ", ".join(f"{self.counts[status]:,} {status}" for status in
                           (CREATED, UPDATED, UNCHANGED, PID_ONLY, REJECTED, MISSING,
                            TOMBSTONED) if self.counts[status])
        lines = [f"{'dry run: ' if self.dry_run else ''}{self.source_system}: "
                 f"{counts or 'no records'}"]
        if sum(self.media.values()):
            lines.append("media: " + ", ".join(f"{number:,} {status}" for status, number
                                                in sorted(self.media.items())))
        if self.warnings:
            lines.append("warnings: " + ", ".join(f"{number:,} {code}" for code, number
                                                   in sorted(self.warnings.items())))
        return "\n".join(lines)


class Listing:
    """The outcomes a report lists one by one (rejected, PID-only and missing records),
    kept in a temporary file as JSON lines: a run's memory does not grow with how many
    there are, though a dataset may have as many as it has records."""

    LISTED = (REJECTED, PID_ONLY, MISSING, TOMBSTONED)

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - __exit__

    def __enter__(self) -> Listing:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()

    def add(self, outcome: Outcome) -> None:
        self._file.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")

    def __iter__(self) -> Iterator[Outcome]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            data = json.loads(line)
            yield Outcome(**{**data, **{name: tuple(data[name]) for name in
                                        ("problems", "warnings", "media", "unmapped")}})
        self._file.seek(0, 2)  # back to the end, for more


def write_report(report: Report, listing: Listing, out: TextIO) -> None:
    """The whole report as JSON, written as the listing is read: the summary, then every
    rejected record (line, ID, code, problems), every PID-only record (line, ID, PID,
    licence) and every specimen the dataset no longer has (PID, status, code, problems),
    one a line."""
    sections = {
        "rejected": lambda o: {"line": o.line, "id": o.row_id, "code": o.code,
                               "problems": list(o.problems)} if o.status == REJECTED else None,
        "pidOnly": lambda o: {"line": o.line, "id": o.row_id, "pid": o.pid,
                              "licence": o.licence} if o.status == PID_ONLY else None,
        "missing": lambda o: {"pid": o.pid, "status": o.status, "code": o.code,
                              "problems": list(o.problems)}
        if o.status in (MISSING, TOMBSTONED) else None,
    }
    out.write(json.dumps(report.summary(), ensure_ascii=False)[:-1])  # its members, open
    for name, entry in sections.items():
        out.write(f',\n"{name}": [')
        separator = "\n"
        for outcome in listing:
            listed = entry(outcome)
            if listed is not None:
                out.write(separator + json.dumps(listed, ensure_ascii=False))
                separator = ",\n"
        out.write("]")
    out.write("}\n")


def source_system_id(name: str, base_url: str, handle_prefix: str) -> str:
    """A stable PID URL naming a source system, derived from its name (source systems
    are not objects of this repository yet)."""
    return f"{base_url}/{handle_prefix}/{derived_suffix(name)}"


class Dataset(Protocol):
    """A dataset to ingest: a Darwin Core Archive or ABCD documents."""

    def check(self) -> int: ...  # read through, raising ArchiveError; the record count
    def records(self) -> Iterator[Record]: ...


def ingest(service: FDOService, archive: Dataset, source: mapping.Source,
           dry_run: bool = False, tombstone_missing: bool = False,
           progress: Callable[[int, int], None] | None = None) -> Iterator[Outcome]:
    """Ingest every record of the archive, yielding what happened to each, then each
    specimen of this source system the dataset no longer has (`missing`, or with
    `tombstone_missing`, `tombstoned`). `dry_run` maps and checks everything, and says
    what a real run would do, but writes nothing.

    The archive is read through once before anything is written, so one that turns out
    unreadable half-way (bytes not in its encoding, a corrupt member) leaves nothing
    half-ingested. Records are then written a batch at a time (`BATCH`).
    `progress(done, total)` is called as records are done."""
    total = archive.check()
    done = 0
    with _Run(service, source, dry_run, tombstone_missing) as run:
        pending: list[_Planned] = []
        started: _Batch | None = None  # its S3 writes in flight while the next is planned
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
        dry_run: bool = False, tombstone_missing: bool = False,
        progress: Callable[[int, int], None] | None = None) -> Report:
    """`ingest` with its report; the outcomes it lists one by one go to `listing`."""
    report = Report(source.system_name, dry_run)
    for outcome in ingest(service, archive, source, dry_run, tombstone_missing, progress):
        report.counts[outcome.status] += 1
        report.warnings.update(warning["code"] for warning in outcome.warnings)
        report.media.update(outcome.media)
        report.unmapped_terms.update(outcome.unmapped)
        if outcome.status in Listing.LISTED:
            listing.add(outcome)
    return report


@dataclass
class _Planned:
    """A record that passed its checks, on its way through a batch."""

    record: Record
    client: dict[str, Any]  # the specimen's client part, without its media links
    full: bool  # open licence: the full specimen and its media, not a PID record only
    warnings: tuple[dict[str, str], ...]
    media_rows: list[dict[str, str]]
    deferred: int = 0  # how often it was put off to a later batch
    attempt: int = 0  # which derived PID a new specimen takes (another once one is taken)
    media_attempts: dict[str, int] = field(default_factory=dict)  # by access URI
    unmapped: tuple[str, ...] = ()  # as Outcome.unmapped

    @property
    def physical_id(self) -> str:
        return str(self.client["ods:normalisedPhysicalSpecimenID"])


@dataclass
class _Write:
    """One object of a batch: what it is now (`current`, when it exists) and what the
    record makes of it."""

    kind: str
    pid: str
    client: dict[str, Any]
    state: ObjectState | None
    status: str = CREATED
    current: VersionRecord | None = None
    result: WriteResult | None = None

    def differs(self) -> bool:
        """Whether the record changes the object: by the index's digest of the current
        client part, so an unchanged record costs no read from S3."""
        return self.state is None or self.state.client_digest != client_digest(self.client)


@dataclass
class _Job:
    """One record's writes in a batch: its specimen, then its media, in row order."""

    planned: _Planned
    specimen: _Write
    media: list[_Write | None]  # None for a media row that was rejected
    warnings: tuple[dict[str, str], ...]
    dropped: list[str]  # media the specimen linked before and the record no longer has
    put_off: bool = False  # to the next batch, unwritten (a media PID turned out taken)

    def writes(self) -> list[_Write]:
        return [self.specimen, *(write for write in self.media if write is not None)]


@dataclass
class _Batch:
    """A batch whose S3 writes are in flight (`_Run.start`, then `_Run.finish`)."""

    jobs: list[_Job]
    later: list[_Planned]  # put off to the next batch before any write
    writes: list[tuple[_Job, _Write]]
    pending: list[Future[WriteResult]]


class _Run:
    """One ingest run: the checks that need the whole dataset (duplicate physical IDs,
    what disappeared), the batches and the threads that write them.

    What the run has met is kept in a temporary SQLite file, not in memory, so a run's
    memory stays the same whatever the dataset's size."""

    def __init__(self, service: FDOService, source: mapping.Source, dry_run: bool,
                 tombstone_missing: bool) -> None:
        self.service = service
        self.source = source
        self.dry_run = dry_run
        self.tombstone_missing = tombstone_missing
        self.agent = Agent(id=source.system_id, name=source.system_name, role="machine")
        self._folder = tempfile.TemporaryDirectory(prefix="fdo-ingest-")
        self.met = sqlite3.connect(Path(self._folder.name) / "run.sqlite3")
        self.met.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE physical (digest BLOB PRIMARY KEY);
            CREATE TABLE ingested (pid TEXT PRIMARY KEY);
            CREATE TABLE created (catalog TEXT PRIMARY KEY, pid TEXT);""")
        self.pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="fdo-ingest")
        self._unmapped_met: set[str] = set()

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown()
        self.met.close()
        self._folder.cleanup()

    # -- one record --------------------------------------------------------------------

    def plan(self, record: Record) -> _Planned | Outcome:
        """Map and check one record: its outcome if it is rejected, else its plan."""
        unmapped = self._unmapped(record.terms)

        def rejected(code: str, *problems: dict[str, str]) -> Outcome:
            return Outcome(record.line, record.row_id, REJECTED, code=code, problems=problems,
                           unmapped=unmapped)

        if mapping.physical_id(record.terms) is None:
            return rejected("missing-physical-id", {"path": "", "message": "the record has "
                            "none of " + ", ".join(mapping.PHYSICAL_ID_TERMS)})
        if mapping.organisation(record.terms, self.source) is None:
            return rejected("missing-organisation", {"path": "/ods:organisationID", "message":
                            "no ROR or Wikidata institutionID, and no --organisation given"})
        found = quality.problems(record.terms)
        content = mapping.specimen(record, self.source)
        normalised = normalised_physical_id(content)
        digest = hashlib.sha256(normalised.encode()).digest()
        if not self.met.execute("INSERT OR IGNORE INTO physical VALUES (?)", (digest,)).rowcount:
            found.append(quality.Problem("duplicate-physical-id", "/ods:physicalSpecimenID",
                                         f"an earlier record of this dataset has {normalised}"))
        stopping = [problem for problem in found if problem.rejects]
        if stopping:
            return rejected(stopping[0].code, *(problem.as_json() for problem in stopping))
        full = mapping.open_licence(content.get("dcterms:license"))
        if not full:
            content = mapping.pid_record(content)
        violations = self.service.validator.violations(SPECIMENS, content)
        if violations:
            return rejected("schema", *({"path": v.path, "message": v.message}
                                        for v in violations))
        client = {**client_part(content), "ods:normalisedPhysicalSpecimenID": normalised}
        rows = mapping.media_rows(record) if full else []
        return _Planned(record, client, full, tuple(p.as_json() for p in found), rows,
                        unmapped=unmapped)

    def _unmapped(self, terms: dict[str, str]) -> tuple[str, ...]:
        """The terms openDS has no place for that no record before this one had."""
        found = mapping.unmapped(terms) - self._unmapped_met
        self._unmapped_met |= found
        return tuple(sorted(found))

    # -- one batch ---------------------------------------------------------------------

    def advance(self, started: _Batch | None,
                pending: list[_Planned]) -> tuple[list[Outcome], _Batch | None]:
        """Finish the batch in flight, if any, and start the next: the records it put off,
        then `pending`. The finished batch's outcomes, and the batch now in flight."""
        outcomes: list[Outcome] = []
        if started is not None:
            outcomes, later = self.finish(started)
            pending = later + pending
        return outcomes, (self.start(pending) if pending else None)

    def start(self, batch: list[_Planned]) -> _Batch:
        """Start writing one batch: find each record's specimen and media, compare, and
        send what changed to S3 on the write threads. `finish` waits for the writes."""
        jobs, later = self._jobs(batch)
        self._read_currents(jobs)
        if self.dry_run:
            return _Batch(jobs, later, [], [])
        for job in jobs:
            job.put_off = not all(self._owned(job.planned, write)
                                  for write in job.media if write is not None)
        writes = [(job, write) for job in jobs if not job.put_off for write in job.writes()
                  if write.status != UNCHANGED]
        drafts = [self.service.draft(write.kind, write.pid, write.client, self.agent,
                                     write.current) for _, write in writes]
        return _Batch(jobs, later, writes, self.service.start_writes(drafts, self.pool))

    def finish(self, batch: _Batch) -> tuple[list[Outcome], list[_Planned]]:
        """Wait for the batch's S3 writes and record them in the index (one transaction).
        The outcomes, and the records put off to the next batch: one whose PID another
        record of the batch also has, one whose derived PID turned out taken, one whose
        object changed meanwhile."""
        for (job, write), result in zip(batch.writes,
                                        self.service.finish_writes(batch.pending),
                                        strict=True):
            write.result = result
            if isinstance(result, ObjectExists):
                self._settle_taken(job.planned, write)
        later = batch.later
        outcomes = []
        for job in batch.jobs:
            outcome = self._outcome(job)
            if outcome is None:
                later.append(job.planned)
                continue
            outcomes.append(outcome)
            if not self.dry_run:
                for pid in job.dropped:
                    self._drop_media(pid)
        self.met.executemany("INSERT OR IGNORE INTO ingested VALUES (?)",
                             [(outcome.pid,) for outcome in outcomes if outcome.pid])
        self.met.executemany("INSERT OR REPLACE INTO created VALUES (?, ?)", [
            (catalog, job.specimen.pid) for job in batch.jobs
            if job.specimen.status == CREATED and isinstance(job.specimen.result, VersionRecord)
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

    def _jobs(self, batch: list[_Planned]) -> tuple[list[_Job], list[_Planned]]:
        """Each record's specimen: the live one with its physical ID, else the one whose
        DOI it carries, else a new one under a PID derived from its physical ID. Each
        media row's object: under a PID derived from the specimen's and the access URI."""
        index = self.service.index
        held = index.states_by_physical_id([planned.physical_id for planned in batch])
        states = [held.get(planned.physical_id) or self._carried(planned.record.terms)
                  for planned in batch]
        pids = [state.pid if state else
                self._derived(SPECIMENS, planned.attempt, planned.physical_id)
                for planned, state in zip(batch, states, strict=True)]
        known = index.states([pid for pid, state in zip(pids, states, strict=True)
                              if state is None])
        jobs: list[_Job] = []
        later: list[_Planned] = []
        claimed: set[str] = set()
        for planned, state, pid in zip(batch, states, pids, strict=True):
            while state is None and pid in known:  # derived before for another object
                planned.attempt += 1
                pid = self._derived(SPECIMENS, planned.attempt, planned.physical_id)
                known.update(index.states([pid]))
            if pid in claimed:
                later.append(planned)
                continue
            claimed.add(pid)
            jobs.append(self._job(planned, pid, state))
        media_pids = [write.pid for job in jobs for write in job.media if write is not None]
        media_states = index.states(media_pids)
        for job in jobs:
            for write in job.media:
                if write is not None:
                    write.state = self._media_state(job.planned, job.specimen.pid, write,
                                                    media_states.get(write.pid))
            job.specimen.client = self._linked(job)
        return jobs, later

    def _media_state(self, planned: _Planned, specimen: str, write: _Write,
                     state: ObjectState | None) -> ObjectState | None:
        """The media object under the row's derived PID, or None for a new one. A PID
        some other kind of object has, or a tombstoned media object (its row left the
        dataset and came back), is derived again: a tombstone never changes."""
        uri = write.client["ac:accessURI"]
        while state is not None and (state.kind != MEDIA or state.status == TOMBSTONE):
            planned.media_attempts[uri] = planned.media_attempts.get(uri, 0) + 1
            write.pid = self._derived(MEDIA, planned.media_attempts[uri], specimen, uri)
            state = self.service.index.current(write.pid)
        return state

    def _linked(self, job: _Job) -> dict[str, Any]:
        """The specimen's client part with its media's links (when it has media)."""
        linked = [write.pid for write in job.media if write is not None]
        if not linked:
            return job.specimen.client
        return {**job.specimen.client, "ods:isKnownToContainMedia": True,
                "ods:hasEntityRelationships": [
                    mapping.relationship("hasDigitalMedia",
                                         pid_url(self.service.base_url, media_pid))
                    for media_pid in linked]}

    def _job(self, planned: _Planned, pid: str, state: ObjectState | None) -> _Job:
        url = pid_url(self.service.base_url, pid)
        media: list[_Write | None] = []
        warnings = list(planned.warnings)
        uris: set[str] = set()
        for number, row in enumerate(planned.media_rows):
            content = mapping.media(row, url, self.source, planned.client["ods:organisationID"])
            path = f"/media/{number}"
            problems = ([{"code": "media-without-access-uri", "path": path, "message":
                          "the media row has no ac:accessURI or dcterms:identifier"}]
                        if content is None else
                        [{"code": "duplicate-media", "path": path + "/ac:accessURI", "message":
                          "an earlier media row of this record has this access URI"}]
                        if content["ac:accessURI"] in uris else
                        [{"code": "media-schema", "path": path + v.path, "message": v.message}
                         for v in self.service.validator.violations(MEDIA, content)])
            if content is None or problems:
                warnings += problems
                media.append(None)
                continue
            uri = content["ac:accessURI"]
            uris.add(uri)
            media_pid = self._derived(MEDIA, planned.media_attempts.get(uri, 0), pid, uri)
            media.append(_Write(MEDIA, media_pid, content, None))
        return _Job(planned, _Write(SPECIMENS, pid, planned.client, state), media,
                    tuple(warnings), [])

    def _derived(self, kind: str, attempt: int, *identity: str) -> str:
        """The PID a new object gets: derived from what identifies it (and the attempt,
        should that PID be taken), so a re-run after an interruption arrives at the PID
        it wrote before and finds its own write there. A specimen's is the one an API
        create of its physical ID derives too (`FDOService.derived_pid`)."""
        return self.service.derived_pid(kind, attempt, *identity)

    def _carried(self, terms: dict[str, str]) -> ObjectState | None:
        """The live specimen of ours that the row names (its DOI in
        `dwc:otherCatalogNumbers` or `dcterms:identifier`): the same specimen, whose
        physical ID changed, so it is updated, not duplicated."""
        for term in CARRIED_PID_TERMS:
            for value in terms.get(term, "").split("|"):
                pid = find_pid(value)
                state = self.service.index.current(pid) if pid else None
                if state is not None and state.kind == SPECIMENS and state.status != TOMBSTONE:
                    return state
        return None

    def _read_currents(self, jobs: list[_Job]) -> None:
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
            job.dropped = self._dropped(job)

    def _dropped(self, job: _Job) -> list[str]:
        """The media the specimen linked before that its record no longer has."""
        current = job.specimen.current
        if current is None:
            return []
        now = {write.pid for write in job.media if write is not None}
        return [pid for relationship in current.content.get("ods:hasEntityRelationships", [])
                if relationship.get("dwc:relationshipOfResource") == "hasDigitalMedia"
                and (pid := find_pid(str(relationship.get("dwc:relatedResourceID"))))
                and pid not in now]

    @staticmethod
    def _owned(planned: _Planned, write: _Write) -> bool:
        """Whether an existing media object under a derived PID is really this row's (the
        same access URI). One derived for another object is drawn again, next batch."""
        if write.current is None or (write.current.content.get("ac:accessURI")
                                     == write.client["ac:accessURI"]):
            return True
        uri = write.client["ac:accessURI"]
        planned.media_attempts[uri] = planned.media_attempts.get(uri, 0) + 1
        return False

    def _settle_taken(self, planned: _Planned, write: _Write) -> None:
        """A derived PID's version 1 is in S3 but not in the index. If it is this record's
        object (a run interrupted between S3 and the index wrote it, and the record changed
        since), it is indexed now and the record goes on in the next batch, as an update;
        if it is another object's, the next batch draws another PID."""
        existing = self.service.reader.version(write.pid, 1)
        mine = existing.kind == write.kind and (
            existing.content.get("ods:normalisedPhysicalSpecimenID")
            == write.client["ods:normalisedPhysicalSpecimenID"] if write.kind == SPECIMENS
            else existing.content.get("ac:accessURI") == write.client["ac:accessURI"]
            and existing.content.get("ods:hasEntityRelationships")
            == write.client["ods:hasEntityRelationships"])
        if mine:
            try:
                self.service.adopt(existing)
                return
            except errors.FDOError:
                pass  # its physical ID is another specimen's now: draw another PID
        if write.kind == SPECIMENS:
            planned.attempt += 1
        else:
            uri = write.client["ac:accessURI"]
            planned.media_attempts[uri] = planned.media_attempts.get(uri, 0) + 1

    def _outcome(self, job: _Job) -> Outcome | None:
        """What happened to the record, or None when it goes on in the next batch."""
        planned = job.planned
        specimen = job.specimen
        if job.put_off:
            return None
        for write in job.writes():
            if isinstance(write.result, ObjectExists | errors.PreconditionFailed
                          | errors.DuplicateSpecimen):
                return None  # taken, changed meanwhile: the next batch sees it anew
        failed = next((write.result for write in job.writes()
                       if isinstance(write.result, errors.FDOError)), None)
        record = planned.record
        if failed is not None:
            return Outcome(record.line, record.row_id, REJECTED, code=type(failed).__name__,
                           problems=({"path": "", "message": str(failed)},),
                           unmapped=planned.unmapped)
        statuses = tuple(REJECTED if write is None else write.status for write in job.media)
        status = specimen.status if planned.full else PID_ONLY
        return Outcome(record.line, record.row_id, status, specimen.pid,
                       warnings=job.warnings, media=statuses + (MISSING,) * len(job.dropped),
                       unmapped=planned.unmapped,
                       licence=None if planned.full else planned.client.get("dcterms:license"))

    def _drop_media(self, pid: str) -> None:
        """A media object whose row left the dataset: reported, and with
        `tombstone_missing` tombstoned (its specimen no longer links it)."""
        if not self.tombstone_missing:
            return
        prefix, suffix = pid.split("/")
        with contextlib.suppress(errors.Conflict, errors.NotFound):  # tombstoned already
            self.service.tombstone(MEDIA, prefix, suffix,
                                   f"no longer in the dataset of {self.source.system_name}",
                                   None, None, self.agent)

    # -- the end of a run --------------------------------------------------------------

    def missing(self) -> Iterator[Outcome]:
        """The live specimens of this source system that the dataset no longer has. One
        whose catalogNumber a specimen created in this run has is a possible duplicate:
        probably the same specimen under a changed physical ID, without its DOI to say
        so."""
        service = self.service
        gone: list[str] = []
        after = ""
        while page := service.index.live_objects_of_source(self.source.system_id, SPECIMENS,
                                                           after):
            met = {pid for (pid,) in self.met.execute(
                f"SELECT pid FROM ingested WHERE pid IN ({','.join('?' * len(page))})", page)}
            gone += [pid for pid in page if pid not in met]
            after = page[-1]
        tombstone = self.tombstone_missing and not self.dry_run
        for pid in gone:  # after the listing: tombstoning changes what it lists
            prefix, suffix = pid.split("/")
            catalog = mapping.identifier(service.latest(SPECIMENS, prefix, suffix).content,
                                         "dwc:catalogNumber")
            twin = self.met.execute("SELECT pid FROM created WHERE catalog = ?",
                                    (catalog,)).fetchone() if catalog else None
            problems = ({"path": "/dwc:catalogNumber", "message":
                         f"the new specimen {twin[0]} has the same catalogNumber: if it is "
                         "this specimen under a changed physical ID, carry this specimen's "
                         "DOI in dwc:otherCatalogNumbers and ingest again"},) if twin else ()
            if tombstone:
                service.tombstone(SPECIMENS, prefix, suffix,
                                  f"no longer in the dataset of {self.source.system_name}",
                                  None, None, self.agent)
            yield Outcome(0, "", TOMBSTONED if tombstone else MISSING, pid,
                          code="possible-duplicate" if twin else None, problems=problems)
