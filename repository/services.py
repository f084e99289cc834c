"""The FDO lifecycle: create, replace, patch, tombstone and read versions.

No flask here: the CLI, bulk ingest and tests call these directly. Reads go through the
process's `VersionReader` (storage/reader.py), every write through `VersionWriter`
(repository/writes.py), which keeps the storage invariants of DESIGN.md section 3; this
service checks what is asked and turns a write that did not happen into its error.
"""

from __future__ import annotations

from typing import Any

from repository import errors
from repository.access import (
    Principal,
    require_job_annotation,
    require_object_write,
    require_own,
)
from repository.annotations import AnnotationRules
from repository.patching import apply_bounded_patch
from repository.provenance import Agent
from repository.records import TOMBSTONE, client_part, object_claim, organisation_id
from repository.target_filter import checked_filter
from repository.writes import VersionWriter, WriteResult, WriteStatus
from resolver.pids import (
    MalformedPID,
    PidRef,
    canonical_pid,
    mint_suffix,
    parse_pid,
    pid_url,
)
from resolver.proposals import annotation_claim
from schemas import ANNOTATION, KINDS, MACHINE_ANNOTATION_SERVICE, Kind
from storage.index import Index
from storage.models import ObjectState, VersionRow
from storage.objects import ObjectStore
from storage.reader import UnknownVersion, VersionReader, checked_number
from storage.versions import VersionRecord

MINT_ATTEMPTS = 8
SLOT_ATTEMPTS = 64  # derived PIDs tried for one physical ID: one per tombstoned specimen


class FDOService:
    def __init__(self, store: ObjectStore, index: Index, reader: VersionReader,
                 writes: VersionWriter, *, base_url: str) -> None:
        self.store = store  # for what is not a version: health, ingest job reports
        self.index = index  # read here; written only through `writes`
        self.reader = reader
        self.writes = writes
        self.base_url = base_url
        self.annotations = AnnotationRules(index, reader, writes, base_url)

    # -- reads -------------------------------------------------------------------------

    def latest(self, kind_name: str, prefix: str, suffix: str) -> VersionRecord:
        """The current version; `Gone` (carrying the tombstone) once tombstoned."""
        row = self._object(kind_name, prefix, suffix)
        record = self.reader.version(row.pid, row.version)
        if row.status == TOMBSTONE:
            raise errors.Gone(f"{row.pid} was tombstoned", tombstone=record.content)
        return record

    def version(self, kind_name: str, prefix: str, suffix: str, number: int) -> VersionRecord:
        row = self._object(kind_name, prefix, suffix)
        try:
            return self.reader.version(row.pid, checked_number(row, number))
        except UnknownVersion as error:
            raise errors.NotFound(str(error)) from error

    def current_records(self, pids: list[str]) -> list[VersionRecord]:
        """The current versions of these objects (those that exist), in their order."""
        rows = self.index.states(pids)
        return list(self.reader.versions((pid, rows[pid].version) for pid in pids
                                         if pid in rows))

    def versions(self, kind_name: str, prefix: str, suffix: str) -> list[VersionRow]:
        row = self._object(kind_name, prefix, suffix)
        return self.index.versions(row.pid)

    # -- writes ------------------------------------------------------------------------

    def create(self, kind_name: str, document: Any, actor: Principal) -> VersionRecord:
        return self.create_or_find(kind_name, document, actor)[0]

    def create_or_find(self, kind_name: str, document: Any, actor: Principal,
                       batch: tuple[str, int] | None = None) -> tuple[VersionRecord, bool]:
        """The new object's version 1 and True; or, for an annotation sent before (the
        same target, selector, motivation, creator and value) or a job record its run on
        a search made before, the existing one's current version and False."""
        kind = self._kind(kind_name)
        client = self._checked_client_part(kind, document)
        self._authorize(actor, kind, None, client)
        agent = actor.agent
        if kind.physical_specimen:
            return self._create_claimed(kind, client, agent,
                                        client["ods:normalisedPhysicalSpecimenID"]), True
        if kind.targets_object:
            client = self.annotations.prepared(client, agent, None, batch, actor.job)
        claim = object_claim(kind, client)
        if claim is not None:  # an annotation, or a job record of a run on a search
            holder = self.index.pid_for_physical_id(claim)
            if holder is None:
                try:
                    return self._create_claimed(kind, client, agent, claim), True
                except errors.Conflict as taken:
                    holder = taken.extra.get("holder")
                    if not holder:
                        raise
            row = self.index.current(holder)
            if row is None:
                raise errors.Conflict(f"the same {kind.label.lower()} was being written; "
                                      f"try again")
            return self.reader.version(holder, row.version), False
        return self._create_minted(kind, client, agent), True

    def checked_annotation(self, document: Any, actor: Principal,
                           batch: tuple[str, int] | None = None) -> dict[str, Any]:
        """An annotation as it would be stored (its schema, target and proposed change
        checked, the repository's terms set), unwritten: what a batch's dry run shows."""
        kind = self._kind(ANNOTATION.name)
        client = self._checked_client_part(kind, document)
        self._authorize(actor, kind, None, client)
        return self.annotations.prepared(client, actor.agent, None, batch)

    def _create_minted(self, kind: Kind, client: dict[str, Any],
                       agent: Agent) -> VersionRecord:
        for _ in range(MINT_ATTEMPTS):
            # The collision check is the conditional create itself: S3 refuses a key that
            # exists, indexed or not (an index lookup first would only cost a query).
            pid = canonical_pid(self.writes.prefixes.of(kind), mint_suffix())
            result = self.writes.write(self.writes.draft(kind.name, pid, client, agent))
            if result.status is not WriteStatus.TAKEN:
                return self._written(result, kind)
            # the PID is taken: draw again
        raise errors.Conflict("could not mint a free PID; try again")

    def _create_claimed(self, kind: Kind, client: dict[str, Any], agent: Agent,
                        claim: str) -> VersionRecord:
        """An object that claims an identity only one live object may hold (a specimen's
        physical ID, an annotation's `annotation_claim`) gets a PID derived from it, so
        racing creates of the same write the same version-1 key and S3's conditional
        create lets one through: a refused create writes nothing. The attempt number
        moves on past PIDs whose object was tombstoned (or left this identity)."""
        for attempt in range(SLOT_ATTEMPTS):
            pid = self.writes.derived_pid(kind.name, attempt, claim)
            row = self.index.current(pid)
            if row is None:
                result = self.writes.write(self.writes.draft(kind.name, pid, client, agent))
                if result.status is not WriteStatus.TAKEN:
                    return self._written(result, kind)
                row = self._adopt_slot(kind, pid, claim)
            if row is not None and row.physical_id == claim:
                raise self._duplicate(pid, kind)
        raise errors.Conflict(f"no free PID in {SLOT_ATTEMPTS} attempts for this "
                              f"{'physical ID' if kind.physical_specimen else 'annotation'}")

    def _adopt_slot(self, kind: Kind, pid: str, claim: str) -> ObjectState | None:
        """The derived PID's version 1 is in S3: a racing create's (about to be indexed)
        or one that crashed before the index. Indexed now, so this identity has its
        holder in the index too; None if it is another object's, for the next attempt."""
        settled = self.writes.settle_taken(
            pid, kind.name, lambda found: object_claim(kind, found.content) == claim)
        if settled.status is WriteStatus.TAKEN:
            return None
        self._written(settled, kind)
        return self.index.current(pid)

    def replace(self, kind_name: str, prefix: str, suffix: str, document: Any,
                if_match: str | None, actor: Principal) -> tuple[VersionRecord, bool]:
        """Full replacement. Returns the current version and whether it is new."""
        row, current = self._writable(kind_name, prefix, suffix, if_match, actor)
        return self._change(row, current, document, actor)

    def patch(self, kind_name: str, prefix: str, suffix: str, operations: Any,
              if_match: str | None, actor: Principal) -> tuple[VersionRecord, bool]:
        """RFC 6902 patch applied to the client part of the current version."""
        row, current = self._writable(kind_name, prefix, suffix, if_match, actor)
        patched = apply_bounded_patch(client_part(current.content), operations)
        return self._change(row, current, patched, actor)

    def _change(self, row: ObjectState, current: VersionRecord, document: Any,
                actor: Principal) -> tuple[VersionRecord, bool]:
        kind = KINDS[row.kind]
        client = self._checked_client_part(kind, document, own_pid=row.pid)
        self._authorize(actor, kind, None, client)  # where it goes, as where it was
        if kind.targets_object:
            client = self.annotations.prepared(client, actor.agent, current)
            holder = self.index.pid_for_physical_id(str(annotation_claim(client)))
            if holder and holder != row.pid:  # refused before S3 has a version of it
                raise self._duplicate(holder, kind)
        if client == client_part(current.content):
            return current, False
        record = self.writes.draft(kind.name, row.pid, client, actor.agent, current)
        return self._written(self.writes.write(record), kind), True

    def tombstone(self, kind_name: str, prefix: str, suffix: str, reason: str,
                  replaced_by: str | None, if_match: str | None,
                  actor: Principal) -> VersionRecord:
        row, current = self._writable(kind_name, prefix, suffix, if_match, actor,
                                      required=False, tombstone=True)
        successor = (pid_url(self.base_url, self._existing(replaced_by, "/replacedBy").pid)
                     if replaced_by else None)
        return self._written(self.writes.tombstone(current, reason, successor, actor.agent),
                             KINDS[row.kind])

    def _written(self, result: WriteResult, kind: Kind) -> VersionRecord:
        """The version written, or the error that says why it was not."""
        if result.written and result.record is not None:
            return result.record
        if result.status is WriteStatus.DUPLICATE:
            raise self._duplicate(result.holder or "", kind)
        if result.status is WriteStatus.CHANGED and result.record is not None:
            raise errors.PreconditionFailed(
                f"{result.pid} changed meanwhile; its current version is "
                f"{result.record.version}", etag=result.record.digest)
        if result.status is WriteStatus.CHANGED:
            raise errors.PreconditionFailed(f"{result.pid} changed meanwhile")
        raise errors.Conflict(f"{result.pid} is another object's; try again")

    # -- checks ------------------------------------------------------------------------

    def _checked_client_part(self, kind: Kind, document: Any,
                             own_pid: str | None = None) -> dict[str, Any]:
        if not isinstance(document, dict):
            raise errors.SchemaInvalid("the body must be a JSON object",
                                       [{"path": "", "message": "must be a JSON object"}])
        violations = self.writes.violations(kind.name, document)
        if violations:
            raise errors.SchemaInvalid(
                f"the {kind.object_type} has {len(violations)} schema violation(s)",
                [{"path": v.path, "message": v.message} for v in violations])
        client = client_part(document)
        if kind is MACHINE_ANNOTATION_SERVICE:
            checked_filter(client)
        if kind.physical_specimen:
            client.setdefault("ods:normalisedPhysicalSpecimenID", normalised_physical_id(client))
            holder = self.index.pid_for_physical_id(client["ods:normalisedPhysicalSpecimenID"])
            if holder and holder != own_pid:
                raise self._duplicate(holder, kind)
        return client

    def _duplicate(self, holder: str, kind: Kind) -> errors.FDOError:
        if not kind.physical_specimen:
            return errors.Conflict(f"the same annotation exists: {holder}", holder=holder,
                                   existing=pid_url(self.base_url, holder))
        return errors.DuplicateSpecimen(
            f"this physical specimen already has a digital specimen: {holder}",
            [{"path": "/ods:normalisedPhysicalSpecimenID",
              "message": f"already belongs to {holder}"}],
            existing=pid_url(self.base_url, holder))

    def _existing(self, reference: str, path: str) -> PidRef:
        """A reference to an object in this repository (optionally to one version)."""
        try:
            ref = parse_pid(str(reference), self.base_url)
        except MalformedPID as error:
            raise errors.Unprocessable(str(error),
                                       [{"path": path, "message": str(error)}]) from error
        row = self.index.current(ref.pid)
        if row is None or (ref.version is not None and ref.version > row.version):
            message = f"'{reference}' names no object (or version) in this repository"
            raise errors.Unprocessable(message, [{"path": path, "message": message}])
        return ref

    def _writable(self, kind_name: str, prefix: str, suffix: str, if_match: str | None,
                  actor: Principal, required: bool = True,
                  tombstone: bool = False) -> tuple[ObjectState, VersionRecord]:
        """The object to change and its current version, once the actor may change it
        (checked before its preconditions: a 412 would tell a stranger its ETag)."""
        row = self._object(kind_name, prefix, suffix)
        self._authorize(actor, KINDS[row.kind], row, None, tombstone=tombstone)
        if row.status == TOMBSTONE:
            raise errors.Conflict(f"{row.pid} is tombstoned; it cannot change any more")
        if if_match is None and required:
            raise errors.PreconditionRequired(
                "send If-Match with the current ETag (from a GET) to change an object",
                etag=row.digest)
        if if_match is not None and if_match not in (row.digest, "*"):
            raise errors.PreconditionFailed(
                f"If-Match does not match the current version ({row.version})", etag=row.digest)
        return row, self.reader.version(row.pid, row.version)

    def _authorize(self, actor: Principal, kind: Kind, row: ObjectState | None,
                   client: dict[str, Any] | None, tombstone: bool = False) -> None:
        """`Forbidden` unless the actor may make this change (repository/access.py): to
        an object as it is (`row`) or as it would become (`client`)."""
        if actor.job is not None:  # a machine annotation job's token: its annotations only
            require_job_annotation(actor, kind.name, row is None and kind.targets_object,
                                   (client or {}).get("ods:jobID"))
        if kind.targets_object:  # an annotation: anyone makes one, its creator changes it
            if row is not None:
                first = self.index.version(row.pid, 1)
                creator = first.agent_id if first else ""
                require_own(actor, kind.name, creator, "tombstone" if tombstone else "change")
            return
        if row is not None:
            require_object_write(actor, kind.name, row.organisation_id, row.source_system,
                                 tombstone=tombstone)
        if client is not None:
            require_object_write(actor, kind.name, organisation_id(client),
                                 str(client.get("ods:sourceSystemID") or "") or None)

    def _kind(self, kind_name: str) -> Kind:
        if kind_name not in KINDS:
            raise errors.NotFound(f"unknown kind '{kind_name}'; one of {', '.join(KINDS)}")
        return KINDS[kind_name]

    def _object(self, kind_name: str, prefix: str, suffix: str) -> ObjectState:
        self._kind(kind_name)
        try:
            pid = canonical_pid(prefix, suffix)
        except MalformedPID as error:
            raise errors.BadRequest(str(error)) from error
        row = self.index.current(pid)
        if row is None or row.kind != kind_name:
            raise errors.NotFound(f"no {kind_name} object with PID {pid}")
        return row

    def close(self) -> None:
        """Stop the reader's threads and close the index's connections."""
        self.reader.close()
        self.index.close()


def normalised_physical_id(client: dict[str, Any]) -> str:
    """openDS rule: a global or resolvable ID stands as it is; a local ID is scoped by the
    source system's handle suffix (or, lacking one, by the organisation ID)."""
    physical = str(client["ods:physicalSpecimenID"])
    if client.get("ods:physicalSpecimenIDType") in ("Global", "Resolvable"):
        return physical
    source = client.get("ods:sourceSystemID")
    scope = str(source).rstrip("/").rsplit("/", 1)[-1] if source else client["ods:organisationID"]
    return f"{physical}:{scope}"
