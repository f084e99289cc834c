"""Approved curation survives a dataset re-check: each approved annotation on a specimen
is put back on top of what the source sends now (docs/curation.md, "Re-ingest").

For each approved change, in the order they were approved, the source's new value at
the annotated place is compared with the approved value and with the value the
annotation was made against (the target version in its `oa:hasState`):
- the source now has the approved value itself: nothing to do (`in-source`);
- the source still sends what the annotation corrected: the approved value is put back
  (`reapplied`);
- the source sends something else now: the source's value is kept if the curator chose
  so when approving (`ods:hasSourcePriority`, `source-kept`), else the approved value
  stays (`conflict`); both are listed in the report;
- the place cannot hold the approved value any more (its parent is gone, or the record
  would break the schema): the source's record stands (`no-longer-applies`, listed).

The version a re-check writes names the annotations it put back (`prov:wasDerivedFrom`)
beside the source system (its agent); a record that, with them, equals the current
version writes none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repository.annotations import CurationParts
from repository.ingest.report import (
    CONFLICT,
    IN_SOURCE,
    NO_LONGER_APPLIES,
    REAPPLIED,
    SOURCE_KEPT,
)
from repository.provenance import Agent, Derivation
from repository.records import client_part
from resolver.pids import pid_url
from resolver.proposals import (
    MISSING,
    CannotApply,
    Proposal,
    held,
    made_on_version,
    proposal_of,
    value_at,
)
from storage.versions import VersionRecord


@dataclass(frozen=True)
class Curated:
    """A record's client part with approved changes put back, and what became of each."""

    client: dict[str, Any]
    derived_from: tuple[Derivation, ...] = ()
    events: tuple[dict[str, Any], ...] = ()


class Curations(CurationParts):
    def approved(self, pids: list[str]) -> dict[str, list[VersionRecord]]:
        """The approved annotations on these specimens, by specimen, in approval order."""
        on = self.index.annotations.approved_on(pids)
        rows = self.index.states([pid for pids_of in on.values() for pid in pids_of])
        records = {record.pid: record for record in self.reader.versions(
            (pid, row.version) for pid, row in rows.items())}
        # Approved by a decision: one written before decisions existed may carry the term
        # as its client sent it, without the curator who set it.
        return {target: sorted((records[pid] for pid in annotations if pid in records
                                and records[pid].content.get("ods:hasMergingStateChangedBy")),
                               key=lambda r: str(r.content.get("ods:mergingStateChangeDate")))
                for target, annotations in on.items()}

    def reapplied(self, kind: str, client: dict[str, Any],
                  annotations: list[VersionRecord]) -> Curated:
        """`client` (what the source sends) with these approved annotations put back."""
        derived: list[Derivation] = []
        events: list[dict[str, Any]] = []
        for annotation in annotations:
            try:
                proposal = proposal_of(annotation.content)
            except ValueError:
                continue
            if proposal is None:
                continue
            result, changed, shown = self._one(kind, client, annotation, proposal)
            events.append({"annotation": pid_url(self.base_url, annotation.pid,
                                                  annotation.version),
                           "path": proposal.pointer, "result": result, **shown})
            if changed is not None:
                client = changed
                creator = annotation.content.get("dcterms:creator") or {}
                derived.append(Derivation(
                    pid_url(self.base_url, annotation.pid, annotation.version),
                    Agent(str(creator.get("@id", "")), str(creator.get("schema:name", "")),
                          "annotator")))
        return Curated(client, tuple(derived), tuple(events))

    def _one(self, kind: str, client: dict[str, Any], annotation: VersionRecord,
             proposal: Proposal) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
        """What becomes of one approved change: its result, the client part with it put
        back (None when it is not), and the values to show in the report."""
        source = value_at(client, proposal.path)
        for value in proposal.values or (MISSING,):
            try:
                changed = held(proposal, client, value)
            except CannotApply:
                continue
            if self.writes.violations(kind, changed):
                continue
            approved = value_at(changed, proposal.path)
            shown = {"source": _json(source), "approved": _json(approved)}
            if source == approved:
                return IN_SOURCE, None, shown
            if source == self._corrected(annotation, proposal):
                return REAPPLIED, changed, shown
            if annotation.content.get("ods:hasSourcePriority"):
                return SOURCE_KEPT, None, shown
            return CONFLICT, changed, shown
        return NO_LONGER_APPLIES, None, {"source": _json(source)}

    def _corrected(self, annotation: VersionRecord, proposal: Proposal) -> Any:
        """What the annotation corrected: the value at its place in the target version it
        was made on."""
        made_on = made_on_version(annotation.content)
        if made_on is None:
            return MISSING
        record = self.reader.version(*made_on)
        return value_at(client_part(record.content), proposal.path)


def _json(value: Any) -> Any:
    return None if value is MISSING else value
