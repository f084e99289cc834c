"""What the repository adds to an annotation, and checks in it, before it is written.

- The target is written as this resolver's PID URL (pinned to a version if the client
  pinned it), typed, and with its state: `oa:hasState` is a W3C Web Annotation
  `oa:TimeState` whose `oa:cachedSource` is the target version the annotation was made
  on (the pinned one, or the current one when the annotation was written). A curator's
  decision compares that version with the current one at the selected place.
- `dcterms:creator` is who is signed in (the first version's creator thereafter).
- A proposed change (resolver/proposals.py) must apply to that target version and
  leave it valid against the target's schema; `ods:mergingDecisionStatus` is `Pending`
  until a curator decides (repository/decisions.py). The decision terms are the
  repository's: whatever a client sends there is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repository import errors
from repository.provenance import Agent
from repository.records import client_part
from repository.writes import VersionWriter
from resolver.pids import MalformedPID, parse_pid, pid_url
from resolver.proposals import (
    CHANGES,
    FRAGMENT,
    PENDING,
    BadSelector,
    CannotApply,
    Proposal,
    applied,
    held,
    proposal_of,
)
from schemas import KINDS, TOMBSTONE
from storage.index import Index
from storage.models import ObjectState
from storage.reader import VersionReader
from storage.versions import VersionRecord

DECISION_TERMS = ("ods:mergingDecisionStatus", "ods:mergingStateChangeDate",
                  "ods:hasMergingStateChangedBy", "ods:hasSourcePriority")
JOB_ID = "ods:jobID"  # set from a job token (repository/machine_services.py)
BATCH_TERMS = ("ods:batchID", "ods:placeInBatch")  # set by a batch (repository/batches.py)
SELECTOR = "/oa:hasTarget/oa:hasSelector"
VALUE = "/oa:hasBody/oa:value/0"


@dataclass(frozen=True)
class CurationParts:
    """What curation reads and writes through: the index, the process's reader of
    versions, the one write path, and the repository's base URL."""

    index: Index
    reader: VersionReader
    writes: VersionWriter
    base_url: str


class AnnotationRules(CurationParts):
    def prepared(self, client: dict[str, Any], agent: Agent, current: VersionRecord | None,
                 batch: tuple[str, int] | None = None,
                 job: str | None = None) -> dict[str, Any]:
        """The client part to store: target, state, creator, decision and batch terms set,
        the proposed change checked. `current` is the annotation's version being changed;
        `batch` its batch ID and place when a batch makes it (kept when it changes)."""
        if current is not None and current.content.get("ods:mergingDecisionStatus") not in (
                None, PENDING):
            raise errors.Conflict(
                f"this annotation was {current.content['ods:mergingDecisionStatus'].lower()}; "
                "a decided annotation does not change (make a new one)")
        prepared = {key: value for key, value in client.items()
                    if key not in DECISION_TERMS + BATCH_TERMS}
        kept = current.content if current is not None else (
            dict(zip(BATCH_TERMS, batch, strict=True)) if batch else {})
        prepared.update({key: kept[key] for key in BATCH_TERMS if key in kept})
        # ods:jobID links an annotation to the machine annotation job that made it, and
        # only that job's token sets it, with the service as its generator.
        prepared.pop(JOB_ID, None)
        if job is not None:
            prepared.update({JOB_ID: job, "as:generator": agent.as_opends()})
        elif current is not None and JOB_ID in current.content:
            prepared[JOB_ID] = current.content[JOB_ID]
        row, pinned = self._target(client)
        made_on = self.reader.version(row.pid, pinned or row.version)
        prepared["oa:hasTarget"] = self._target_node(client["oa:hasTarget"], made_on, pinned)
        prepared["dcterms:creator"] = (current.content.get("dcterms:creator") if current
                                       else None) or agent.as_opends()
        proposal = self._proposal(prepared, row)
        if proposal is not None:
            checked_change(self.writes, proposal, made_on)
            prepared["ods:mergingDecisionStatus"] = PENDING
        return prepared

    def _target(self, client: dict[str, Any]) -> tuple[ObjectState, int | None]:
        reference = str(client["oa:hasTarget"]["@id"])
        try:
            ref = parse_pid(reference, self.base_url)
        except MalformedPID as error:
            raise errors.Unprocessable(str(error), [{"path": "/oa:hasTarget/@id",
                                                     "message": str(error)}]) from error
        row = self.index.current(ref.pid)
        if row is None or (ref.version is not None and ref.version > row.version):
            message = f"'{reference}' names no object (or version) in this repository"
            raise errors.Unprocessable(message, [{"path": "/oa:hasTarget/@id",
                                                  "message": message}])
        return row, ref.version

    def _target_node(self, sent: dict[str, Any], made_on: VersionRecord,
                     pinned: int | None) -> dict[str, Any]:
        kind = KINDS[made_on.kind]
        target_id = pid_url(self.base_url, made_on.pid, pinned)
        node: dict[str, Any] = {"@id": target_id, "@type": kind.object_type,
                                "dcterms:identifier": target_id, "ods:fdoType": kind.fdo_type}
        if "oa:hasSelector" in sent:
            node["oa:hasSelector"] = sent["oa:hasSelector"]
        node["oa:hasState"] = {
            "@type": "oa:TimeState",
            "oa:cachedSource": pid_url(self.base_url, made_on.pid, made_on.version),
            "oa:sourceDate": made_on.content["dcterms:modified"]}
        return node

    def _proposal(self, prepared: dict[str, Any], row: ObjectState) -> Proposal | None:
        kind = KINDS[row.kind]
        selector = prepared["oa:hasTarget"].get("oa:hasSelector")
        if isinstance(selector, dict) and selector.get("@type") == FRAGMENT \
                and not kind.media_file:
            raise _unprocessable(SELECTOR, "an oa:FragmentSelector selects a region of a "
                                           "media object; this target is none")
        if prepared.get("oa:motivation") not in CHANGES:
            return None
        if not (kind.physical_specimen or kind.media_file):
            raise _unprocessable("/oa:motivation", "changes are proposed to specimens and "
                                                   "media objects only")
        if row.status == TOMBSTONE:
            raise _unprocessable("/oa:hasTarget/@id", f"{row.pid} is tombstoned: it takes "
                                                      "no more changes")
        try:
            return proposal_of(prepared)
        except BadSelector as error:
            raise _unprocessable(SELECTOR, str(error)) from error
        except CannotApply as error:
            raise _unprocessable(VALUE, str(error)) from error


def checked_change(writes: VersionWriter, proposal: Proposal, target: VersionRecord,
                   forced: bool = False) -> dict[str, Any]:
    """The target's client part with the change made, valid against its schema, trying
    the readings of the value in turn; 422 naming the problem otherwise. `forced` (an
    approval with `force`): the place made to hold what the proposal puts there, whatever
    is there now (an addition where a value has appeared replaces it; a deletion of a
    value already gone changes nothing)."""
    document = client_part(target.content)
    problems: list[dict[str, str]] = []
    change = held if forced else applied
    for value in proposal.values or (None,):
        try:
            changed = change(proposal, document, value)
        except CannotApply as error:
            raise _unprocessable(SELECTOR, str(error)) from error
        violations = writes.violations(target.kind, changed)
        if not violations:
            return changed
        problems = problems or [
            {"path": VALUE if proposal.values else SELECTOR,
             "message": f"the target would break its schema at {v.path or '/'}: {v.message}"}
            for v in violations]
    raise errors.SchemaInvalid(f"{proposal.motivation} at {proposal.pointer} would leave "
                               f"the target invalid", problems)


def _unprocessable(path: str, message: str) -> errors.Unprocessable:
    return errors.Unprocessable(message, [{"path": path, "message": message}])
