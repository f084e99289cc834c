"""The FDO lifecycle: create, replace, patch, tombstone and read versions.

No flask here: the CLI, bulk ingest and tests call these directly. Every write follows
the storage invariants of DESIGN.md section 3:
1. the new version is written to its own S3 key once (conditional create);
2. only then is it recorded in the index (the (pid, version) key allocates numbers);
3. a version S3 has but the index lacks (a crash between 1 and 2) is adopted, never
   duplicated: the next writer of that number finds the key taken and records it.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

from repository import errors
from repository.patching import apply_patch
from repository.provenance import Agent, Change, json_patch, now_iso, provenance_event
from repository.records import (
    ACTIVE,
    TOMBSTONE,
    client_part,
    index_entry,
    patchable_part,
    stored_content,
)
from repository.validation import Validator
from resolver.pids import (
    MalformedPID,
    PidRef,
    canonical_pid,
    derived_suffix,
    mint_suffix,
    parse_pid,
    pid_url,
)
from schemas import KINDS, Kind
from storage.index import Index, OutOfStep, PhysicalIdTaken, VersionClash
from storage.models import ObjectState, VersionRow
from storage.objects import ObjectExists, ObjectStore
from storage.reader import UnknownVersion, VersionMissing, VersionReader, checked_number
from storage.versions import VersionRecord

MINT_ATTEMPTS = 8
SLOT_ATTEMPTS = 64  # derived PIDs tried for one physical ID: one per tombstoned specimen
SPECIMENS = "digital-specimens"
WriteResult = VersionRecord | ObjectExists | errors.FDOError  # of one write of a batch
REPLACED_BY = "IsReplacedWith"  # openDS tombstone-metadata's term for a successor


class FDOService:
    def __init__(self, store: ObjectStore, index: Index, validator: Validator,
                 reader: VersionReader, *, base_url: str, doi_prefix: str,
                 handle_prefix: str) -> None:
        self.store = store
        self.index = index
        self.validator = validator
        self.reader = reader
        self.base_url = base_url
        self.prefixes = {True: doi_prefix, False: handle_prefix}

    # -- reads -------------------------------------------------------------------------

    def latest(self, kind_name: str, prefix: str, suffix: str) -> VersionRecord:
        """The current version; `Gone` (carrying the tombstone) once tombstoned."""
        row = self._object(kind_name, prefix, suffix)
        record = self._load(row.pid, row.version)
        if row.status == TOMBSTONE:
            raise errors.Gone(f"{row.pid} was tombstoned", tombstone=record.content)
        return record

    def version(self, kind_name: str, prefix: str, suffix: str, number: int) -> VersionRecord:
        row = self._object(kind_name, prefix, suffix)
        try:
            return self._load(row.pid, checked_number(row, number))
        except UnknownVersion as error:
            raise errors.NotFound(str(error)) from error

    def versions(self, kind_name: str, prefix: str, suffix: str) -> list[VersionRow]:
        row = self._object(kind_name, prefix, suffix)
        return self.index.versions(row.pid)

    # -- writes ------------------------------------------------------------------------

    def create(self, kind_name: str, document: Any, agent: Agent) -> VersionRecord:
        kind = self._kind(kind_name)
        client = self._checked_client_part(kind, document)
        if kind.name == SPECIMENS:
            return self._create_specimen(kind, client, agent)
        for _ in range(MINT_ATTEMPTS):
            # The collision check is the conditional create itself: S3 refuses a key that
            # exists, indexed or not (an index lookup first would only cost a query).
            pid = canonical_pid(self.prefixes[kind.uses_doi], mint_suffix())
            record = self._new_version(kind, pid, 1, None, {}, client, ACTIVE, agent)
            try:
                return self._write(record)
            except ObjectExists:
                continue  # the PID is taken: draw again
        raise errors.Conflict("could not mint a free PID; try again")

    def derived_pid(self, kind_name: str, attempt: int, *identity: str) -> str:
        """The PID a new object gets from what identifies it, and the attempt number
        should an earlier one be taken: the same for every writer (API and bulk ingest)."""
        prefix = self.prefixes[KINDS[kind_name].uses_doi]
        return canonical_pid(prefix, derived_suffix(kind_name, *identity, str(attempt)))

    def _create_specimen(self, kind: Kind, client: dict[str, Any],
                         agent: Agent) -> VersionRecord:
        """A specimen's PID is derived from its normalised physical ID, so racing creates
        of one physical specimen write the same version-1 key and S3's conditional create
        lets one through: a refused create writes nothing. The attempt number moves on
        past PIDs whose specimen was tombstoned (or left this physical ID)."""
        physical_id = client["ods:normalisedPhysicalSpecimenID"]
        for attempt in range(SLOT_ATTEMPTS):
            pid = self.derived_pid(kind.name, attempt, physical_id)
            row = self.index.current(pid)
            if row is None:
                record = self._new_version(kind, pid, 1, None, {}, client, ACTIVE, agent)
                try:
                    return self._write(record)
                except ObjectExists:
                    row = self._adopt_slot(pid, physical_id)
            if row is not None and row.physical_id == physical_id:
                raise self._duplicate(pid)
        raise errors.Conflict(f"no free PID in {SLOT_ATTEMPTS} attempts for this physical ID")

    def _adopt_slot(self, pid: str, physical_id: str) -> ObjectState | None:
        """The derived PID's version 1 is in S3: a racing create's (about to be indexed)
        or one that crashed before the index. Indexed now, so this physical ID has its
        holder in the index too; None if it is another object's, for the next attempt."""
        existing = self._load(pid, 1)
        if existing.content.get("ods:normalisedPhysicalSpecimenID") != physical_id:
            return None
        self._record(existing)
        return self.index.current(pid)

    def replace(self, kind_name: str, prefix: str, suffix: str, document: Any,
                if_match: str | None, agent: Agent) -> tuple[VersionRecord, bool]:
        """Full replacement. Returns the current version and whether it is new."""
        row, current = self._writable(kind_name, prefix, suffix, if_match)
        return self._change(row, current, document, agent)

    def patch(self, kind_name: str, prefix: str, suffix: str, operations: Any,
              if_match: str | None, agent: Agent) -> tuple[VersionRecord, bool]:
        """RFC 6902 patch applied to the client part of the current version."""
        row, current = self._writable(kind_name, prefix, suffix, if_match)
        patched = apply_patch(client_part(current.content), operations)
        return self._change(row, current, patched, agent)

    def _change(self, row: ObjectState, current: VersionRecord, document: Any,
                agent: Agent) -> tuple[VersionRecord, bool]:
        kind = KINDS[row.kind]
        client = self._checked_client_part(kind, document, own_pid=row.pid)
        if client == client_part(current.content):
            return current, False
        record = self._new_version(kind, row.pid, row.version + 1, current, current.content,
                                   client, ACTIVE, agent)
        return self._write(record), True

    def tombstone(self, kind_name: str, prefix: str, suffix: str, reason: str,
                  replaced_by: str | None, if_match: str | None, agent: Agent) -> VersionRecord:
        row, current = self._writable(kind_name, prefix, suffix, if_match, required=False)
        metadata: dict[str, Any] = {
            "@type": "ods:Tombstone",
            "ods:tombstoneDate": now_iso(),
            "ods:tombstoneText": reason,
            "ods:hasAgents": [agent.as_opends()],
        }
        if replaced_by:
            successor = self._existing(replaced_by, "/replacedBy")
            metadata["ods:hasRelatedPIDs"] = [
                {"@type": "ods:RelatedPID",
                 "dcterms:identifier": pid_url(self.base_url, successor.pid),
                 "ods:relationshipType": REPLACED_BY}
            ]
        client = client_part(current.content)
        record = self._new_version(KINDS[row.kind], row.pid, row.version + 1, current,
                                   current.content, client, TOMBSTONE, agent, comment=reason,
                                   extra=metadata)
        return self._write(record)

    # -- bulk writes (dataset ingest) --------------------------------------------------

    def draft(self, kind_name: str, pid: str, client: dict[str, Any], agent: Agent,
              current: VersionRecord | None = None) -> VersionRecord:
        """The version a bulk write makes of `pid` with this client part: version 1, or the
        one after `current`. Built, not written (`start_writes` writes). The caller has
        validated the client part and found the PID free or its own."""
        kind = self._kind(kind_name)
        if current is None:
            return self._new_version(kind, pid, 1, None, {}, client, ACTIVE, agent)
        return self._new_version(kind, pid, current.version + 1, current, current.content,
                                 client, ACTIVE, agent)

    def start_writes(self, records: list[VersionRecord],
                     pool: Executor) -> list[Future[WriteResult]]:
        """Start writing versions (one per PID) to S3 on `pool`; `finish_writes` waits for
        them and records them in the index. A bulk ingest plans its next batch meanwhile."""
        return [pool.submit(self._put, record) for record in records]

    def finish_writes(self, pending: list[Future[WriteResult]]) -> list[WriteResult]:
        """Wait for writes to S3 and record all that were written in the index, in one
        transaction. Answers, in order, each version as stored, or what stopped it:
        - `ObjectExists`: a version 1 key holds another object (a PID already drawn);
        - `errors.FDOError`: the object changed meanwhile, or its physical ID is taken.
        A key that already holds this very change (written by a run that was interrupted
        before it reached the index) counts as written: this is how a re-run resumes.
        S3 failing stops the batch (`StoreRequestFailed`); what it wrote is found again."""
        results = [future.result() for future in pending]
        written = [result for result in results if isinstance(result, VersionRecord)]
        if not self.index.record_versions([index_entry(record) for record in written]):
            for number, result in enumerate(results):
                if isinstance(result, VersionRecord):
                    try:
                        self._record(result)
                    except errors.FDOError as error:
                        results[number] = error
        return results

    def adopt(self, record: VersionRecord) -> None:
        """Index a version found in S3 that the index lacks (a bulk write's, interrupted)."""
        self._record(record)

    def _put(self, record: VersionRecord) -> WriteResult:
        try:
            self.store.create(record.key, record.to_bytes())
            return record
        except ObjectExists as taken:
            try:
                existing = self._load(record.pid, record.version)
                if existing.kind == record.kind and _same_change(existing, record):
                    return existing
                if record.version == 1:
                    return taken
                self._record(existing)  # a version the index lacks: adopted, never lost
            except errors.FDOError as error:
                return error
            except VersionMissing as error:
                return errors.StorageUnavailable(str(error))
            return errors.PreconditionFailed(f"{record.pid} changed meanwhile",
                                             etag=existing.digest)

    # -- building a version ------------------------------------------------------------

    def _new_version(self, kind: Kind, pid: str, number: int, previous: VersionRecord | None,
                     before: dict[str, Any], client: dict[str, Any], status: str, agent: Agent,
                     comment: str | None = None,
                     extra: dict[str, Any] | None = None) -> VersionRecord:
        time = now_iso()
        created = previous.content["dcterms:created"] if previous else time
        content = stored_content(kind, pid_url(self.base_url, pid), number, created, time,
                                 client, status)
        if extra:
            content["ods:hasTombstoneMetadata"] = extra
        activity = "ods:Create" if number == 1 else (
            "ods:Tombstone" if status == TOMBSTONE else "ods:Update")
        change = Change(self.base_url, pid, kind.object_type, number, activity, agent,
                        json_patch(patchable_part(before), patchable_part(content)), time,
                        comment)
        return VersionRecord(pid, kind.name, number, content, provenance_event(change),
                             previous.digest if previous else None).sealed()

    def _write(self, record: VersionRecord) -> VersionRecord:
        try:
            self.store.create(record.key, record.to_bytes())
        except ObjectExists:
            if record.version == 1:
                raise
            return self._adopt_taken(record)
        self._record(record)
        return record

    def _adopt_taken(self, record: VersionRecord) -> VersionRecord:
        """Our version number is already in S3: adopt what is there. If it is the same
        change (a retry after a crash), that is our answer; otherwise we lost the race."""
        existing = self._load(record.pid, record.version)
        self._record(existing)
        if _same_change(existing, record):
            return existing
        raise errors.PreconditionFailed(
            f"{record.pid} changed meanwhile; its current version is {existing.version}",
            etag=existing.digest)

    def _record(self, record: VersionRecord) -> None:
        try:
            self.index.record_version(index_entry(record))
        except PhysicalIdTaken as taken:
            raise self._duplicate(str(taken)) from taken
        except (VersionClash, OutOfStep) as error:
            raise errors.PreconditionFailed(f"{record.pid} changed meanwhile") from error

    # -- checks ------------------------------------------------------------------------

    def _checked_client_part(self, kind: Kind, document: Any,
                             own_pid: str | None = None) -> dict[str, Any]:
        if not isinstance(document, dict):
            raise errors.SchemaInvalid("the body must be a JSON object",
                                       [{"path": "", "message": "must be a JSON object"}])
        violations = self.validator.violations(kind.name, document)
        if violations:
            raise errors.SchemaInvalid(
                f"the {kind.object_type} has {len(violations)} schema violation(s)",
                [{"path": v.path, "message": v.message} for v in violations])
        client = client_part(document)
        if kind.name == SPECIMENS:
            client.setdefault("ods:normalisedPhysicalSpecimenID", normalised_physical_id(client))
            holder = self.index.pid_for_physical_id(client["ods:normalisedPhysicalSpecimenID"])
            if holder and holder != own_pid:
                raise self._duplicate(holder)
        if kind.name == "annotations":
            self._existing(client["oa:hasTarget"]["@id"], "/oa:hasTarget/@id")
        return client

    def _duplicate(self, holder: str) -> errors.DuplicateSpecimen:
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
                  required: bool = True) -> tuple[ObjectState, VersionRecord]:
        row = self._object(kind_name, prefix, suffix)
        if row.status == TOMBSTONE:
            raise errors.Conflict(f"{row.pid} is tombstoned; it cannot change any more")
        if if_match is None and required:
            raise errors.PreconditionRequired(
                "send If-Match with the current ETag (from a GET) to change an object",
                etag=row.digest)
        if if_match is not None and if_match not in (row.digest, "*"):
            raise errors.PreconditionFailed(
                f"If-Match does not match the current version ({row.version})", etag=row.digest)
        return row, self._load(row.pid, row.version)

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

    def _load(self, pid: str, number: int) -> VersionRecord:
        """`VersionMissing` if the store lost it: one answer with the resolver's."""
        return self.reader.version(pid, number)

    def close(self) -> None:
        """Stop the reader's threads and close the index's connections."""
        self.reader.close()
        self.index.close()


def _same_change(existing: VersionRecord, record: VersionRecord) -> bool:
    """Whether a version found in S3 is the one `record` would write: a retry's."""
    return (existing.previous_digest == record.previous_digest
            and client_part(existing.content) == client_part(record.content)
            and existing.content["ods:status"] == record.content["ods:status"])


def normalised_physical_id(client: dict[str, Any]) -> str:
    """openDS rule: a global or resolvable ID stands as it is; a local ID is scoped by the
    source system's handle suffix (or, lacking one, by the organisation ID)."""
    physical = str(client["ods:physicalSpecimenID"])
    if client.get("ods:physicalSpecimenIDType") in ("Global", "Resolvable"):
        return physical
    source = client.get("ods:sourceSystemID")
    scope = str(source).rstrip("/").rsplit("/", 1)[-1] if source else client["ods:organisationID"]
    return f"{physical}:{scope}"
