"""The one write path: every version written, by the API, bulk ingest or reconcile, is
drafted, stored and indexed here, and nothing else writes an object's version to S3 or
the index. The storage invariants (DESIGN.md section 3) hold here:
1. the new version is written to its own S3 key once (conditional create);
2. only then is it recorded in the index (the (pid, version) key allocates numbers);
3. a version S3 has but the index lacks (a crash between 1 and 2) is adopted, never
   duplicated: the next writer of that number finds the key taken and records it
   (`_settle_taken`; `settle_taken` for a derived PID's version 1, whose owner the
   caller recognises; `reindex` for `fdo reconcile`). Each indexes it with `_indexed`.

Outcomes are `WriteResult`s, not exceptions: the API turns one that is not `WRITTEN`
into its error (repository/services.py), bulk ingest into a retry.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from repository.provenance import (
    Agent,
    Change,
    Derivation,
    json_patch,
    now_iso,
    provenance_event,
)
from repository.records import (
    ACTIVE,
    TOMBSTONE,
    client_part,
    index_entry,
    patchable_part,
    stored_content,
)
from repository.validation import Validator, Violation
from resolver.pids import canonical_pid, derived_suffix, mint_suffix, pid_url
from schemas import KINDS, Kind
from storage.index import Index, OutOfStep, PhysicalIdTaken, VersionClash
from storage.models import VersionEntry
from storage.objects import ObjectExists, ObjectStore
from storage.reader import VersionReader
from storage.versions import VersionRecord

REPLACED_BY = "IsReplacedWith"  # openDS tombstone-metadata's term for a successor


class WriteStatus(enum.Enum):
    WRITTEN = "written"  # stored and indexed (or found stored: a retry's, now indexed)
    TAKEN = "taken"  # a version 1 key holds another object, or one not yet indexed
    CHANGED = "changed"  # the object changed meanwhile: its number is another version's
    DUPLICATE = "duplicate"  # the physical ID is another specimen's (`holder`)
    UNCLAIMED = "unclaimed"  # reindexed, but without its physical ID (`holder` has it)


@dataclass(frozen=True)
class WriteResult:
    """What became of one write. `record` is the version as stored (WRITTEN,
    UNCLAIMED), or the version found under its number (CHANGED, when S3 had one)."""

    status: WriteStatus
    pid: str
    record: VersionRecord | None = None
    holder: str | None = None  # DUPLICATE, UNCLAIMED: the PID that claims the physical ID
    reason: str = ""  # CHANGED by the index: what it refused

    @property
    def written(self) -> bool:
        return self.status is WriteStatus.WRITTEN


@dataclass(frozen=True)
class PidPrefixes:
    """The prefix of each PID scheme this repository mints under."""

    doi: str
    handle: str

    def of(self, kind: Kind) -> str:
        return self.doi if kind.uses_doi else self.handle


class VersionWriter:
    """Drafts versions and writes them: one (`write`) or a batch (`start_writes`,
    `finish_writes`), and settles keys found taken."""

    def __init__(self, store: ObjectStore, index: Index, validator: Validator,
                 reader: VersionReader, *, base_url: str, prefixes: PidPrefixes,
                 search: bool = True) -> None:
        self._store = store
        self._search = search  # FDO_SEARCH_INDEX: off, versions get no search entry
        self._index = index
        self._validator = validator
        self._reader = reader
        self.base_url = base_url
        self.prefixes = prefixes

    # -- PIDs and checks ---------------------------------------------------------------

    def minted_pid(self, kind: Kind) -> str:
        """A new random PID: whether it is free, the conditional create tells."""
        return canonical_pid(self.prefixes.of(kind), mint_suffix())

    def derived_pid(self, kind_name: str, attempt: int, *identity: str) -> str:
        """The PID a new object gets from what identifies it, and the attempt number
        should an earlier one be taken: the same for every writer (API and bulk ingest)."""
        return canonical_pid(self.prefixes.of(KINDS[kind_name]),
                             derived_suffix(kind_name, *identity, str(attempt)))

    def violations(self, kind_name: str, document: dict[str, Any]) -> list[Violation]:
        """How a document breaks its kind's schema (none: it may be written)."""
        return self._validator.violations(kind_name, document)

    # -- drafts ------------------------------------------------------------------------

    def draft(self, kind_name: str, pid: str, client: dict[str, Any], agent: Agent,
              current: VersionRecord | None = None, status: str = ACTIVE,
              comment: str | None = None,
              tombstone: dict[str, Any] | None = None,
              derived_from: tuple[Derivation, ...] = ()) -> VersionRecord:
        """The version `pid` gets with this client part: version 1, or the one after
        `current`. Built, not written. The caller has validated the client part.
        `derived_from`: the approved annotations whose changes it carries."""
        kind = KINDS[kind_name]
        number = current.version + 1 if current else 1
        time = now_iso()
        created = current.content["dcterms:created"] if current else time
        content = stored_content(kind, pid_url(self.base_url, pid), number, created, time,
                                 client, status)
        if tombstone:
            content["ods:hasTombstoneMetadata"] = tombstone
        activity = "ods:Create" if number == 1 else (
            "ods:Tombstone" if status == TOMBSTONE else "ods:Update")
        before = patchable_part(current.content) if current else {}
        change = Change(self.base_url, pid, kind.object_type, number, activity, agent,
                        json_patch(before, patchable_part(content)), time, comment,
                        derived_from)
        return VersionRecord(pid, kind.name, number, content, provenance_event(change),
                             current.digest if current else None).sealed()

    def tombstone(self, current: VersionRecord, reason: str, successor: str | None,
                  agent: Agent) -> WriteResult:
        """Write the version that tombstones `current` (optionally naming the PID URL of
        its `successor`)."""
        metadata: dict[str, Any] = {
            "@type": "ods:Tombstone",
            "ods:tombstoneDate": now_iso(),
            "ods:tombstoneText": reason,
            "ods:hasAgents": [agent.as_opends()],
        }
        if successor:
            metadata["ods:hasRelatedPIDs"] = [
                {"@type": "ods:RelatedPID", "dcterms:identifier": successor,
                 "ods:relationshipType": REPLACED_BY}]
        record = self.draft(current.kind, current.pid, client_part(current.content), agent,
                            current, TOMBSTONE, reason, metadata)
        return self.write(record)

    # -- writing -----------------------------------------------------------------------

    def write(self, record: VersionRecord) -> WriteResult:
        """Store one version and index it. A version 1 key found taken is TAKEN, unread
        (`settle_taken` reads it, if the caller wants it)."""
        try:
            self._store.create(record.key, record.to_bytes())
        except ObjectExists:
            if record.version == 1:
                return WriteResult(WriteStatus.TAKEN, record.pid)
            settled = self._settle_taken(record)
            if not settled.written or settled.record is None:
                return settled
            record = settled.record  # a retry's, the same change: indexed as ours
        return self._indexed(record)

    def start_writes(self, records: list[VersionRecord],
                     pool: Executor) -> list[Future[WriteResult]]:
        """Start storing versions (one per PID) on `pool`; `finish_writes` waits for them
        and indexes them. A bulk ingest plans its next batch meanwhile."""
        return [pool.submit(self._stored, record) for record in records]

    def finish_writes(self, pending: list[Future[WriteResult]]) -> list[WriteResult]:
        """Wait for versions to be stored and index all that were, in one transaction.
        A key that already holds this very change (written by a run that was interrupted
        before it reached the index) counts as written: this is how a re-run resumes.
        S3 failing stops the batch (`StoreRequestFailed`); what it wrote is found again."""
        results = [future.result() for future in pending]
        written = [result.record for result in results if result.written and result.record]
        if not self._index.record_versions([self._entry(record) for record in written]):
            results = [self._indexed(result.record) if result.written and result.record
                       else result for result in results]
        return results

    def settle_taken(self, pid: str, kind_name: str,
                     mine: Callable[[VersionRecord], bool]) -> WriteResult:
        """A derived PID's version 1 is in S3 but was not in the index: a racing create's
        (about to be indexed) or one that crashed before the index. If `mine` says it is
        the caller's object, it is indexed now (WRITTEN, or why not); else TAKEN."""
        existing = self._reader.version(pid, 1)
        if existing.kind != kind_name or not mine(existing):
            return WriteResult(WriteStatus.TAKEN, pid, existing)
        return self._indexed(existing)

    def reindex(self, record: VersionRecord, claims_physical_id: bool) -> WriteResult:
        """Index a version found in S3 alone (`fdo reconcile`, `fdo rebuild-index`). One
        whose physical ID another live specimen claims (only after a crash race) is
        indexed without the claim (UNCLAIMED), so that both stay resolvable."""
        entry = self._entry(record)
        if not claims_physical_id:
            entry = dataclasses.replace(entry, physical_id=None)
        result = self._indexed(record, entry)
        if result.status is WriteStatus.DUPLICATE:
            self._index.record_version(dataclasses.replace(entry, physical_id=None))
            return dataclasses.replace(result, status=WriteStatus.UNCLAIMED, record=record)
        return result

    @property
    def search_enabled(self) -> bool:
        return self._search

    def reset_index(self) -> None:
        """Drop the index's object tables and create them empty (`fdo rebuild-index`,
        which then reindexes every version S3 has)."""
        self._index.drop_object_tables()
        self._index.create_schema()

    def renumber_feed(self) -> None:
        """Number the change feed anew, in the order versions were recorded."""
        self._index.renumber_feed()

    def _stored(self, record: VersionRecord) -> WriteResult:
        """Store one version of a batch, not yet indexed; a taken key settled."""
        try:
            self._store.create(record.key, record.to_bytes())
        except ObjectExists:
            return self._settle_taken(record)
        return WriteResult(WriteStatus.WRITTEN, record.pid, record)

    def _settle_taken(self, record: VersionRecord) -> WriteResult:
        """Our version number is already in S3: a retry's after a crash (the same change:
        WRITTEN, that version, to be indexed), another object's version 1 (TAKEN), or a
        racing writer's later version, which is indexed now: adopted, never lost."""
        existing = self._reader.version(record.pid, record.version)
        if existing.kind == record.kind and _same_change(existing, record):
            return WriteResult(WriteStatus.WRITTEN, record.pid, existing)
        if record.version == 1:
            return WriteResult(WriteStatus.TAKEN, record.pid, existing)
        adopted = self._indexed(existing)
        if not adopted.written:
            return adopted
        return WriteResult(WriteStatus.CHANGED, record.pid, existing)

    def _entry(self, record: VersionRecord) -> VersionEntry:
        return index_entry(record, search=self._search)

    def _indexed(self, record: VersionRecord, entry: VersionEntry | None = None) -> WriteResult:
        """Record a stored version in the index."""
        try:
            self._index.record_version(entry or self._entry(record))
        except PhysicalIdTaken as taken:
            return WriteResult(WriteStatus.DUPLICATE, record.pid, holder=str(taken))
        except (VersionClash, OutOfStep) as error:
            return WriteResult(WriteStatus.CHANGED, record.pid,
                               reason=f"{type(error).__name__}: {error}")
        return WriteResult(WriteStatus.WRITTEN, record.pid, record)


def _same_change(existing: VersionRecord, record: VersionRecord) -> bool:
    """Whether a version found in S3 is the one `record` would write: a retry's."""
    return (existing.previous_digest == record.previous_digest
            and client_part(existing.content) == client_part(record.content)
            and existing.content["ods:status"] == record.content["ods:status"])
