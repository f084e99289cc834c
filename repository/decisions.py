"""A curator's decision on a proposed change: approving applies it to the target.

Approving writes two versions, the target's and then the annotation's, as two S3 writes
cannot be one. The target's comes first and names the annotation version it was made
from (`prov:wasDerivedFrom`), so a decision interrupted between the two is completed by
sending it again: the target version it made is found, not made twice, and the
annotation's decision version is written. Until then the annotation stays `Pending`,
never `Approved` without its change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from repository import errors
from repository.access import ADMINISTRATOR, Principal
from repository.annotations import CurationParts, checked_change
from repository.provenance import Agent, Derivation, now_iso
from repository.records import TOMBSTONE, client_part
from repository.writes import WriteResult
from resolver.pids import find_pid, pid_url
from resolver.proposals import (
    APPROVED,
    MISSING,
    PENDING,
    REJECTED,
    Proposal,
    made_on_version,
    path_text,
    proposal_of,
    value_at,
)
from schemas import ANNOTATION
from storage.annotation_table import AnnotationQuery
from storage.models import ObjectState
from storage.versions import VersionRecord

STATUS = "ods:mergingDecisionStatus"
WRITE_ATTEMPTS = 3  # the target changed between reading and writing it: read it again
LOOK_BACK = 64  # target versions searched for one an interrupted approval made
PAGE = 500  # pending annotations read at a time


@dataclass(frozen=True)
class Decision:
    status: str  # Approved | Rejected
    comment: str
    force: bool  # approve though the target changed at the selected place
    source_priority: bool  # a later value from the source wins on re-ingest

    def as_json(self) -> dict[str, Any]:
        """For a job's row: `from_json` gives the same decision back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Decision:
        return cls(**value)


@dataclass(frozen=True)
class Decided:
    annotation: VersionRecord  # its decision version
    target: VersionRecord | None  # the target version that carries the change (approved)


def parsed_decision(body: Any) -> Decision:
    """The decision a request body states, or 422 naming what is wrong."""
    if not isinstance(body, dict):
        raise _invalid("", "must be a JSON object")
    status = body.get(STATUS)
    if status not in (APPROVED, REJECTED):
        raise _invalid(f"/{STATUS}", f"must be '{APPROVED}' or '{REJECTED}'")
    comment = body.get("comment", "")
    force = body.get("force", False)
    priority = body.get("ods:hasSourcePriority", False)
    if not isinstance(comment, str) or len(comment) > 2000:
        raise _invalid("/comment", "must be a string of at most 2,000 characters")
    for name, value in (("force", force), ("ods:hasSourcePriority", priority)):
        if not isinstance(value, bool):
            raise _invalid(f"/{name}", "must be true or false")
    unknown = sorted(set(body) - {STATUS, "comment", "force", "ods:hasSourcePriority"})
    if unknown:
        raise _invalid(f"/{unknown[0]}", "is not a term of a decision (ods:mergingDecisionStatus,"
                                         " comment, force, ods:hasSourcePriority)")
    return Decision(status, comment.strip(), force, priority)


class Decisions(CurationParts):
    def decide(self, pid: str, decision: Decision, if_match: str | None,
               actor: Principal) -> Decided:
        row = self.index.current(pid)
        if row is None or row.kind != ANNOTATION.name:
            raise errors.NotFound(f"no annotation with PID {pid}")
        annotation = self.reader.version(pid, row.version)
        proposal, target_row = self._decidable(annotation, actor)
        _check_precondition(row, if_match)
        made = self._found_made(annotation, target_row)
        if made is not None and decision.status == REJECTED:
            raise errors.Conflict(
                f"an approval of this annotation was cut short after {made.pid} version "
                f"{made.version} took its change: approve it to complete that approval "
                "(then propose the old value back, if it should go)")
        if decision.status == APPROVED and made is None:
            made = self._apply(annotation, proposal, target_row, decision, actor.agent)
        record = self._decision_version(annotation, decision, actor.agent, now_iso())
        return Decided(_written(self.writes.write(record),
                                f"{pid} changed meanwhile; read it again"), made)

    def _decision_version(self, annotation: VersionRecord, decision: Decision,
                          curator: Agent, when: str) -> VersionRecord:
        client = {**client_part(annotation.content), STATUS: decision.status,
                  "ods:mergingStateChangeDate": when,
                  "ods:hasMergingStateChangedBy": curator.as_opends()}
        if decision.status == APPROVED:
            client["ods:hasSourcePriority"] = decision.source_priority
        return self.writes.draft(ANNOTATION.name, annotation.pid, client, curator, annotation,
                                 comment=decision.comment or f"{decision.status} by a curator")

    def complete_interrupted(self) -> list[str]:
        """Approvals a crash cut between their two writes (`fdo reconcile`): a pending
        annotation whose change a target version already carries gets the decision
        version that approval would have written, by its curator at its time. The
        curator's `ods:hasSourcePriority` was in the lost request: it is false. Reads
        each pending annotation and its target's versions since it was made on."""
        completed: list[str] = []
        after = ""
        while True:
            pids, _ = self.index.annotations.page(AnnotationQuery(
                decisions=(PENDING,), after=after, limit=PAGE))
            for pid in pids:
                if self._completed(pid):
                    completed.append(pid)
            if len(pids) < PAGE:
                return completed
            after = pids[-1]

    def _completed(self, pid: str) -> bool:
        row = self.index.current(pid)
        if row is None or row.status == TOMBSTONE:
            return False
        annotation = self.reader.version(pid, row.version)
        target = self.index.current(find_pid(str(annotation.content["oa:hasTarget"]["@id"]))
                                    or "")
        if target is None or target.version <= _made_on(annotation):
            return False
        made = self._found_made(annotation, target)
        if made is None:
            return False
        curator = made.provenance["ods:hasAgents"][0]
        roles = curator.get("ods:hasRoles") or [{}]
        comment = str(made.provenance["prov:Activity"].get("rdfs:comment", ""))
        decision = Decision(APPROVED, comment.partition(": ")[2], False, False)
        record = self._decision_version(annotation, decision, Agent(
            str(curator.get("@id", "")), str(curator.get("schema:name", "")),
            str(roles[0].get("schema:roleName", "curator"))),
            str(made.content["dcterms:modified"]))
        return self.writes.write(record).written

    def _decidable(self, annotation: VersionRecord,
                   actor: Principal) -> tuple[Proposal, ObjectState]:
        """The change the annotation proposes and its target, once this actor may decide
        on it and it is still undecided."""
        content = annotation.content
        if content.get("ods:status") == TOMBSTONE:
            raise errors.Conflict(f"{annotation.pid} is tombstoned; there is nothing to decide")
        try:
            proposal = proposal_of(content)
        except ValueError as error:  # stored before proposals were checked
            raise errors.Conflict(f"this annotation's proposal cannot be applied: {error}; "
                                  "make a new one") from error
        if proposal is None:
            raise errors.Conflict(f"a {content.get('oa:motivation')} annotation proposes no "
                                  "change; there is nothing to decide")
        target_pid = find_pid(str(content["oa:hasTarget"]["@id"])) or ""
        target_row = self.index.current(target_pid)
        if target_row is None:
            raise errors.Conflict(f"the target {target_pid} is not in this repository")
        organisation = target_row.organisation_id
        if not (actor.administrator or actor.curates(organisation)):
            allowed = ([f"curator of {organisation}"] if organisation else []) + [ADMINISTRATOR]
            raise errors.Forbidden(
                f"to decide on annotations of {target_pid} you need to be "
                f"{' or '.join(allowed)}", permission="annotations:decide",
                organisation=organisation, allowedRoles=allowed)
        if content.get(STATUS) != PENDING:
            changed_by = content.get("ods:hasMergingStateChangedBy") or {}
            raise errors.Conflict(
                f"this annotation was already {str(content.get(STATUS)).lower()} on "
                f"{content.get('ods:mergingStateChangeDate')} by "
                f"{changed_by.get('schema:name') or changed_by.get('@id')}",
                decision=content.get(STATUS))
        if target_row.status == TOMBSTONE:
            raise errors.Conflict(f"the target {target_pid} is tombstoned; it takes no changes")
        return proposal, target_row

    def _found_made(self, annotation: VersionRecord,
                    target_row: ObjectState) -> VersionRecord | None:
        """The target version an interrupted approval of this annotation version made."""
        source = pid_url(self.base_url, annotation.pid, annotation.version)
        since = _made_on(annotation)
        for number in range(target_row.version, max(since, target_row.version - LOOK_BACK), -1):
            record = self.reader.version(target_row.pid, number)
            if source in (record.provenance["prov:Entity"].get("prov:wasDerivedFrom") or []):
                return record
        return None

    def _apply(self, annotation: VersionRecord, proposal: Proposal, target_row: ObjectState,
               decision: Decision, curator: Agent) -> VersionRecord:
        """The target version carrying the change (the current one if it has it already)."""
        derivation = Derivation(pid_url(self.base_url, annotation.pid, annotation.version),
                                _annotator(annotation))
        comment = f"Approved annotation {annotation.pid}/{annotation.version}" + (
            f": {decision.comment}" if decision.comment else "")
        for _ in range(WRITE_ATTEMPTS):
            current = self.reader.version(target_row.pid, target_row.version)
            if not decision.force:
                self._check_unchanged(annotation, proposal, current)
            changed = checked_change(self.writes, proposal, current, decision.force)
            if changed == client_part(current.content):
                return current
            record = self.writes.draft(current.kind, current.pid, changed, curator, current,
                                       comment=comment, derived_from=(derivation,))
            result = self.writes.write(record)
            if result.written and result.record is not None:
                return result.record
            target_row = self.index.current(target_row.pid) or target_row
        raise errors.Conflict(f"{target_row.pid} kept changing; decide again")

    def _check_unchanged(self, annotation: VersionRecord, proposal: Proposal,
                         current: VersionRecord) -> None:
        """409, showing both values, if the target changed at the selected place since
        the version the annotation was made on."""
        made_on = _made_on(annotation)
        if made_on == current.version:
            return
        before = value_at(client_part(self.reader.version(current.pid, made_on).content),
                          proposal.path)
        now = value_at(client_part(current.content), proposal.path)
        if before == now:
            return
        raise errors.Conflict(
            f"{current.pid} changed at {path_text(proposal.path)} since version {made_on}, "
            "which the annotation was made on; send \"force\": true to approve it anyway",
            selector=path_text(proposal.path),
            madeOn=_shown(made_on, before), current=_shown(current.version, now),
            proposed=proposal.values[0] if proposal.values else None)


def _made_on(annotation: VersionRecord) -> int:
    """The target version the annotation was made on (1 for one stored without it)."""
    made_on = made_on_version(annotation.content)
    return made_on[1] if made_on else 1


def _annotator(annotation: VersionRecord) -> Agent:
    creator = annotation.content.get("dcterms:creator") or {}
    return Agent(id=str(creator.get("@id", "")), name=str(creator.get("schema:name", "")),
                 role="annotator")


def _shown(version: int, value: Any) -> dict[str, Any]:
    return {"version": version, **({} if value is MISSING else {"value": value})}


def _check_precondition(row: ObjectState, if_match: str | None) -> None:
    if if_match is None:
        raise errors.PreconditionRequired(
            "send If-Match with the annotation's current ETag to decide on it", etag=row.digest)
    if if_match not in (row.digest, "*"):
        raise errors.PreconditionFailed(
            f"If-Match does not match the annotation's current version ({row.version})",
            etag=row.digest)


def _written(result: WriteResult, changed: str) -> VersionRecord:
    if result.written and result.record is not None:
        return result.record
    raise errors.PreconditionFailed(changed)


def _invalid(path: str, message: str) -> errors.SchemaInvalid:
    return errors.SchemaInvalid(f"the decision {path or 'body'} {message}",
                                [{"path": path, "message": message}])
