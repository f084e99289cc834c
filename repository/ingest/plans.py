"""Planning an ingest batch: each record mapped and checked (`Planner.plan`), then each
checked record's objects found or derived (`Planner.jobs`): its specimen (the live one
with its physical ID, the one whose DOI it carries, or a new one under a derived PID) and
its media. What the run has seen so far (physical IDs, unmapped terms) is the planner's."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from repository.ingest import mapping, quality
from repository.ingest.batch import ObjectWrite, Planned, RecordJob
from repository.ingest.dwca import Record
from repository.ingest.report import REJECTED, Outcome
from repository.records import TOMBSTONE, client_part
from repository.services import normalised_physical_id
from repository.writes import VersionWriter
from resolver.pids import find_pid, pid_url
from schemas import MEDIA, SPECIMEN
from storage.index import Index
from storage.models import ObjectState

CARRIED_PID_TERMS = ("dwc:otherCatalogNumbers", "dcterms:identifier")


class Planner:
    """Plans one run's records and batches. `seen` is the run's SQLite file (its table
    `physical` holds a digest of every physical ID met), `index` is read only."""

    def __init__(self, writes: VersionWriter, index: Index, source: mapping.Source,
                 seen: sqlite3.Connection) -> None:
        self.writes = writes
        self.index = index
        self.source = source
        self.seen = seen
        self._unmapped_seen: set[str] = set()

    # -- one record --------------------------------------------------------------------

    def plan(self, record: Record) -> Planned | Outcome:
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
        if not self.seen.execute("INSERT OR IGNORE INTO physical VALUES (?)", (digest,)).rowcount:
            found.append(quality.Problem("duplicate-physical-id", "/ods:physicalSpecimenID",
                                         f"an earlier record of this dataset has {normalised}"))
        stopping = [problem for problem in found if problem.rejects]
        if stopping:
            return rejected(stopping[0].code, *(problem.as_json() for problem in stopping))
        full = mapping.open_licence(content.get("dcterms:license"))
        if not full:
            content = mapping.pid_record(content)
        violations = self.writes.violations(SPECIMEN.name, content)
        if violations:
            return rejected("schema", *({"path": v.path, "message": v.message}
                                        for v in violations))
        client = {**client_part(content), "ods:normalisedPhysicalSpecimenID": normalised}
        rows = mapping.media_rows(record) if full else []
        return Planned(record, client, full, tuple(p.as_json() for p in found), rows,
                       unmapped=unmapped)

    def _unmapped(self, terms: dict[str, str]) -> tuple[str, ...]:
        """The terms openDS has no place for that no record before this one had."""
        found = mapping.unmapped(terms) - self._unmapped_seen
        self._unmapped_seen |= found
        return tuple(sorted(found))

    # -- one batch ---------------------------------------------------------------------

    def jobs(self, batch: list[Planned]) -> tuple[list[RecordJob], list[Planned]]:
        """Each record's specimen: the live one with its physical ID, else the one whose
        DOI it carries, else a new one under a PID derived from its physical ID. Each
        media row's object: under a PID derived from the specimen's and the access URI."""
        index = self.index  # read only: the run writes through `writes`
        held = index.states_by_physical_id([planned.physical_id for planned in batch])
        states = [held.get(planned.physical_id) or self._carried(planned.record.terms)
                  for planned in batch]
        pids = [state.pid if state else
                self.derived(SPECIMEN.name, planned.attempt, planned.physical_id)
                for planned, state in zip(batch, states, strict=True)]
        known = index.states([pid for pid, state in zip(pids, states, strict=True)
                              if state is None])
        jobs: list[RecordJob] = []
        later: list[Planned] = []
        claimed: set[str] = set()
        for planned, state, pid in zip(batch, states, pids, strict=True):
            while state is None and pid in known:  # derived before for another object
                planned.attempt += 1
                pid = self.derived(SPECIMEN.name, planned.attempt, planned.physical_id)
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

    def _media_state(self, planned: Planned, specimen: str, write: ObjectWrite,
                     state: ObjectState | None) -> ObjectState | None:
        """The media object under the row's derived PID, or None for a new one. A PID
        some other kind of object has, or a tombstoned media object (its row left the
        dataset and came back), is derived again: a tombstone never changes."""
        uri = write.client["ac:accessURI"]
        while state is not None and (state.kind != MEDIA.name or state.status == TOMBSTONE):
            planned.media_attempts[uri] = planned.media_attempts.get(uri, 0) + 1
            write.pid = self.derived(MEDIA.name, planned.media_attempts[uri], specimen, uri)
            state = self.index.current(write.pid)
        return state

    def _linked(self, job: RecordJob) -> dict[str, Any]:
        """The specimen's client part with its media's links (when it has media)."""
        linked = [write.pid for write in job.media if write is not None]
        if not linked:
            return job.specimen.client
        return {**job.specimen.client, "ods:isKnownToContainMedia": True,
                "ods:hasEntityRelationships": [
                    mapping.relationship("hasDigitalMedia",
                                         pid_url(self.writes.base_url, media_pid))
                    for media_pid in linked]}

    def _job(self, planned: Planned, pid: str, state: ObjectState | None) -> RecordJob:
        url = pid_url(self.writes.base_url, pid)
        media: list[ObjectWrite | None] = []
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
                         for v in self.writes.violations(MEDIA.name, content)])
            if content is None or problems:
                warnings += problems
                media.append(None)
                continue
            uri = content["ac:accessURI"]
            uris.add(uri)
            media_pid = self.derived(MEDIA.name, planned.media_attempts.get(uri, 0), pid, uri)
            media.append(ObjectWrite(MEDIA.name, media_pid, content, None))
        return RecordJob(planned, ObjectWrite(SPECIMEN.name, pid, planned.client, state), media,
                         tuple(warnings), [])

    def derived(self, kind: str, attempt: int, *identity: str) -> str:
        """The PID a new object gets: derived from what identifies it (and the attempt,
        should that PID be taken), so a re-run after an interruption arrives at the PID
        it wrote before and finds its own write there. A specimen's is the one an API
        create of its physical ID derives too (`VersionWriter.derived_pid`)."""
        return self.writes.derived_pid(kind, attempt, *identity)

    def _carried(self, terms: dict[str, str]) -> ObjectState | None:
        """The live specimen of ours that the row names (its DOI in
        `dwc:otherCatalogNumbers` or `dcterms:identifier`): the same specimen, whose
        physical ID changed, so it is updated, not duplicated."""
        for term in CARRIED_PID_TERMS:
            for value in terms.get(term, "").split("|"):
                pid = find_pid(value)
                state = self.index.current(pid) if pid else None
                if state is not None and state.kind == SPECIMEN.name and state.status != TOMBSTONE:
                    return state
        return None
