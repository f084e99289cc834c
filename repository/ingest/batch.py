"""One batch of an ingest run, as data: each record that passed its checks (`Planned`),
the objects it writes (`ObjectWrite`: its specimen, then its media) grouped by record
(`RecordJob`), a batch in flight (`Batch`), and what a record's writes come to
(`outcome`). The run (repository/ingest/run.py) fills them in."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from repository.ingest.curation import Curated
from repository.ingest.dwca import Record
from repository.ingest.report import (
    CREATED,
    MISSING,
    PID_ONLY,
    REJECTED,
    Outcome,
)
from repository.records import client_digest
from repository.writes import WriteResult
from resolver.pids import find_pid
from schemas import SPECIMEN
from storage.models import ObjectState
from storage.versions import VersionRecord


@dataclass
class Planned:
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

    def draw_again(self, write: ObjectWrite) -> None:
        """The write's derived PID is another object's: the next batch derives another."""
        if write.kind == SPECIMEN.name:
            self.attempt += 1
        else:
            uri = write.client["ac:accessURI"]
            self.media_attempts[uri] = self.media_attempts.get(uri, 0) + 1


@dataclass
class ObjectWrite:
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

    def owned(self) -> bool:
        """Whether an existing media object under a derived PID is really this row's (the
        same access URI): one derived for another object is drawn again, next batch."""
        return self.current is None or (self.current.content.get("ac:accessURI")
                                        == self.client["ac:accessURI"])

    def is_mine(self, found: VersionRecord) -> bool:
        """Whether a version 1 found under this write's derived PID is this record's object
        (written by a run interrupted between S3 and the index)."""
        if self.kind == SPECIMEN.name:
            return bool(found.content.get("ods:normalisedPhysicalSpecimenID")
                        == self.client["ods:normalisedPhysicalSpecimenID"])
        return bool(found.content.get("ac:accessURI") == self.client["ac:accessURI"]
                    and found.content.get("ods:hasEntityRelationships")
                    == self.client["ods:hasEntityRelationships"])


@dataclass
class RecordJob:
    """One record's writes in a batch: its specimen, then its media, in row order."""

    planned: Planned
    specimen: ObjectWrite
    media: list[ObjectWrite | None]  # None for a media row that was rejected
    warnings: tuple[dict[str, str], ...]
    dropped: list[str]  # media the specimen linked before and the record no longer has
    put_off: bool = False  # to the next batch, unwritten (a media PID turned out taken)
    curation: Curated | None = None  # approved annotations put back on the specimen

    def writes(self) -> list[ObjectWrite]:
        return [self.specimen, *(write for write in self.media if write is not None)]

    def media_dropped(self) -> list[str]:
        """The media the specimen linked before that its record no longer has."""
        current = self.specimen.current
        if current is None:
            return []
        now = {write.pid for write in self.media if write is not None}
        return [pid for relationship in current.content.get("ods:hasEntityRelationships", [])
                if relationship.get("dwc:relationshipOfResource") == "hasDigitalMedia"
                and (pid := find_pid(str(relationship.get("dwc:relatedResourceID"))))
                and pid not in now]

    def outcome(self) -> Outcome | None:
        """What happened to the record, or None when it goes on in the next batch: put
        off, or a write that found its PID taken or its object changed meanwhile (the
        next batch sees it anew)."""
        if self.put_off or any(write.result is not None and not write.result.written
                               for write in self.writes()):
            return None
        planned, record = self.planned, self.planned.record
        statuses = tuple(REJECTED if write is None else write.status for write in self.media)
        return Outcome(record.line, record.row_id,
                       self.specimen.status if planned.full else PID_ONLY, self.specimen.pid,
                       warnings=self.warnings, media=statuses + (MISSING,) * len(self.dropped),
                       unmapped=planned.unmapped,
                       licence=None if planned.full else planned.client.get("dcterms:license"),
                       curation=self.curation.events if self.curation else ())


@dataclass
class Batch:
    """A batch whose S3 writes are in flight (`_Run.start`, then `_Run.finish`)."""

    jobs: list[RecordJob]
    later: list[Planned]  # put off to the next batch before any write
    writes: list[tuple[RecordJob, ObjectWrite]]
    pending: list[Future[WriteResult]]
