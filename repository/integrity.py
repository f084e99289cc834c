"""S3 as the source of truth: verify the hash chains, rebuild and reconcile the index."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from itertools import groupby

from repository.decisions import Decisions
from repository.records import index_entry
from repository.search_document import search_document
from repository.services import FDOService
from repository.writes import WriteStatus
from resolver.pids import VERSION_NUMBER
from storage.index import Index
from storage.objects import ObjectStore
from storage.reader import VersionReader
from storage.versions import KEY_ROOT, CorruptRecord, VersionRecord

_REPAIR_BATCH = 100  # search entries rewritten per transaction


@dataclass
class IntegrityReport:
    """What `fdo verify`, `reconcile` or `rebuild-index` checked, indexed and found wrong."""

    checked: int = 0
    adopted: int = 0
    problems: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # reconcile: approvals finished
    # reconcile: objects whose search entry (or specimens whose hasMedia) it wrote again
    searched: list[str] = field(default_factory=list)


def parse_key(key: str) -> tuple[str, int] | None:
    """`fdo/<prefix>/<suffix>/v00000001.json` -> (`<prefix>/<suffix>`, 1)."""
    parts = key.removeprefix(KEY_ROOT).split("/")
    if len(parts) != 3 or not parts[2].startswith("v") or not parts[2].endswith(".json"):
        return None
    number = parts[2][1:-5]
    valid = VERSION_NUMBER.fullmatch(number)
    return (f"{parts[0]}/{parts[1]}", int(number)) if valid else None


def _version_keys(store: ObjectStore) -> Iterator[tuple[str, int, str]]:
    for key in store.keys(KEY_ROOT):
        parsed = parse_key(key)
        if parsed:
            yield parsed[0], parsed[1], key


VersionKey = tuple[str, int, str]  # (pid, version number, S3 key)


def _with_bodies(reader: VersionReader,
                 items: Iterable[VersionKey]) -> Iterator[tuple[str, int, str, bytes]]:
    """Each item with its S3 body, in the order given, read concurrently by the reader
    (memory stays bounded whatever the repository size)."""
    on_the_way: deque[VersionKey] = deque()  # items whose bodies are being read, in order

    def keys() -> Iterator[str]:
        for item in items:
            on_the_way.append(item)
            yield item[2]

    for body in reader.bodies(keys()):
        pid, number, key = on_the_way.popleft()
        yield pid, number, key, body


def verify(reader: VersionReader, index: Index | None = None) -> IntegrityReport:
    """Re-hash every stored version and walk every hash chain; with the index, also check
    that each object's search entry holds what its current version says, and each
    specimen's hasMedia what its links say."""
    report = IntegrityReport()
    stream = _with_bodies(reader, _version_keys(reader.store))
    for pid, versions in groupby(stream, key=lambda item: item[0]):
        previous_digest: str | None = None
        last: bytes | None = None  # the last sound version's body, parsed once at the end
        for expected, (_, number, key, body) in enumerate(versions, start=1):
            report.checked += 1
            label = f"{pid} version {number} ({key})"
            if number != expected:
                report.problems.append(f"{label}: expected version {expected} (gap)")
            problems, previous_digest = _check(label, body, pid, number, previous_digest)
            report.problems.extend(problems)
            last = None if problems else body
        if index is not None and last is not None:
            report.problems.extend(search_entry_problems(index, VersionRecord.from_bytes(last)))
    if index is not None:
        report.problems.extend(f"{pid}: hasMedia disagrees with its links (fdo reconcile "
                               "sets it)" for pid in index.wrong_has_media())
    return report


def search_entry_problems(index: Index, record: VersionRecord) -> list[str]:
    """How the search entry of the object whose last stored version this is disagrees
    with it (nothing when the index does not hold that version as current: reconcile's
    to adopt, not a search problem)."""
    current = index.current(record.pid)
    if current is None or current.version != record.version:
        return []
    stored = index.search.stored_document(record.pid)
    if stored is None:
        return [f"{record.pid}: no search entry (fdo rebuild-index adds it)"]
    version, document = stored
    expected = search_document(record.kind, record.content)
    if version != record.version:
        return [f"{record.pid}: search entry shows version {version}, current is "
                f"{record.version}"]
    differing = [item.name for item in fields(expected)
                 if getattr(expected, item.name) != getattr(document, item.name)]
    return [f"{record.pid}: search entry differs from version {record.version} in "
            f"{', '.join(differing)}"] if differing else []


def _check(label: str, body: bytes, pid: str, number: int,
           previous_digest: str | None) -> tuple[list[str], str | None]:
    """The problems of one version, and the digest its successor must point back to: the
    *recomputed* one, so a tampered version also breaks the link from the next."""
    try:
        record = VersionRecord.from_bytes(body)
    except CorruptRecord as error:
        return [f"{label}: unreadable record ({error})"], None
    problems = []
    computed = record.computed_digest()
    if computed != record.digest:
        problems.append(f"{label}: digest mismatch (stored {record.digest}, computed {computed})")
    if (record.pid, record.version) != (pid, number):
        problems.append(f"{label}: record says {record.pid} version {record.version}")
    if number > 1 and record.previous_digest != previous_digest:
        problems.append(f"{label}: chain broken (previousDigest {record.previous_digest}, "
                        f"version {number - 1} hashes to {previous_digest})")
    return problems, computed


def reconcile(fdo: FDOService) -> IntegrityReport:
    """Adopt every version S3 has and the index lacks (crash between S3 put and commit),
    then complete the approvals a crash cut between their two writes. Reads from S3 only
    the versions beyond what the index has as current, and the pending annotations."""
    report = IntegrityReport()
    held: tuple[str, str, bytes] | None = None  # one version behind, to know the last
    unindexed = _unindexed(fdo.index, report, fdo.store)
    for pid, _, key, body in _with_bodies(fdo.reader, unindexed):
        if held is not None:
            _adopt(fdo, held[1], held[2], report, last=held[0] != pid)
        held = (pid, key, body)
    if held is not None:
        _adopt(fdo, held[1], held[2], report, last=True)
    decisions = Decisions(fdo.index, fdo.reader, fdo.writes, fdo.base_url)
    report.completed = decisions.complete_interrupted()
    if fdo.writes.search_enabled:
        report.searched = _repair_search(fdo)
    return report


def _repair_search(fdo: FDOService) -> list[str]:
    """Write the search entries of objects written while the search index was off (or
    before it existed), and every hasMedia such a media object's versions did not set."""
    lagging = fdo.index.lagging_search_entries()
    for start in range(0, len(lagging), _REPAIR_BATCH):
        entries = []
        for pid in lagging[start:start + _REPAIR_BATCH]:
            current = fdo.index.current(pid)
            if current is not None:
                entries.append(index_entry(fdo.reader.version(pid, current.version)))
        fdo.index.rewrite_search_entries(entries)
    return lagging + fdo.index.repair_has_media()


def _unindexed(index: Index, report: IntegrityReport,
               store: ObjectStore) -> Iterator[VersionKey]:
    known: dict[str, int] = {}  # holds one pid at a time: keys come grouped by pid
    for pid, number, key in _version_keys(store):
        if pid not in known:
            known.clear()
            row = index.current(pid)
            known[pid] = row.version if row else 0
        report.checked += 1
        if number > known[pid]:
            yield pid, number, key


def _adopt(fdo: FDOService, key: str, body: bytes, report: IntegrityReport,
           last: bool) -> None:
    """Index one version. Only an object's last version in S3 claims its physical ID:
    what an earlier one held (a specimen since tombstoned, whose physical specimen has a
    new digital specimen now) is nobody's claim any more, in whatever order PIDs come."""
    try:
        result = fdo.writes.reindex(VersionRecord.from_bytes(body), claims_physical_id=last)
    except (CorruptRecord, KeyError, TypeError, ValueError) as error:
        report.problems.append(f"{key}: unreadable record ({error}); not indexed")
        return
    if result.status is WriteStatus.UNCLAIMED:
        # Two live specimens claim one physical ID (only after a crash race): both stay
        # resolvable, the later one indexed without the claim.
        report.problems.append(
            f"{key}: physical ID also claimed by {result.holder}; not indexed as such")
    elif result.status is not WriteStatus.WRITTEN:
        report.problems.append(f"{key}: cannot be indexed ({result.reason})")
        return
    report.adopted += 1


def rebuild_index(fdo: FDOService) -> IntegrityReport:
    """Drop the object tables and recreate them from S3 alone (tokens are kept)."""
    fdo.writes.reset_index()
    report = reconcile(fdo)
    fdo.writes.renumber_feed()
    return report
