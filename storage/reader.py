"""Reading versions: one (`version`), or many in order, concurrently (`versions`).

Every read of a version goes through a process's one `VersionReader`: the API, the
resolver, OAI-PMH, bulk dumps, verify and reconcile, and ingest. So a version the index
lists and the store has lost is one error everywhere (`VersionMissing`), and the threads
that read many versions at once are one pool, made with the reader at start-up, not one
per module or per request. A single read runs in the caller's thread: the resolver's
uncached path costs no hand-over. The store's own limits (in-flight slots, timeouts:
storage/objects.py) apply to every read as before.

The pool's threads start on first use, in the process that uses them: a process forked
after the reader was made (gunicorn --preload) makes its own pool.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from storage.models import ObjectState
from storage.objects import ObjectMissing, ObjectStore
from storage.versions import VersionRecord, version_key

READ_THREADS = 8  # S3 GETs in flight for one caller of `versions` (and for all together)
LOOKAHEAD = 256  # reads queued ahead of the one being waited for: memory stays bounded

T = TypeVar("T")
R = TypeVar("R")
VersionRef = tuple[str, int]  # (PID, version number)


class VersionMissing(Exception):
    """A version the index lists is not in the object store: lost, or not yet on this
    endpoint of a replicated store. The message names the PID and version only (no host,
    bucket or key), so that it may be shown to clients."""

    def __init__(self, pid: str, number: int) -> None:
        super().__init__(f"{pid} version {number} is indexed but missing from storage")
        self.pid = pid
        self.number = number


class UnknownVersion(LookupError):
    """The object exists but has no such version."""


def checked_number(row: ObjectState, number: int | None) -> int:
    """The version number asked for (None: the latest), once the object has it."""
    if number is None:
        return row.version
    if not 1 <= number <= row.version:
        raise UnknownVersion(f"{row.pid} has no version {number} (latest: {row.version})")
    return number


class VersionReader:
    """Versions read from an object store and decoded (`VersionRecord.from_bytes`: reads
    trust S3; `fdo verify` checks the digests)."""

    def __init__(self, store: ObjectStore, threads: int = READ_THREADS) -> None:
        self.store = store
        self._threads = threads
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._pool = self._new_pool()

    def version(self, pid: str, number: int) -> VersionRecord:
        """Version `number` of `pid`, read in the caller's thread."""
        try:
            body = self.store.get(version_key(pid, number))
        except ObjectMissing as missing:
            raise VersionMissing(pid, number) from missing
        return VersionRecord.from_bytes(body)

    def versions(self, refs: Iterable[VersionRef]) -> Iterator[VersionRecord]:
        """Each version of `refs`, in their order, read concurrently. `refs` is consumed
        in the caller's thread, as the reads go on (it may query the index page by page)."""
        return self._in_order(lambda ref: self.version(*ref), refs)

    def bodies(self, keys: Iterable[str]) -> Iterator[bytes]:
        """The stored bytes of each key, in order, read concurrently, undecoded: for
        `fdo verify` and reconcile, which report a record that does not decode."""
        return self._in_order(self.store.get, keys)

    def close(self) -> None:
        """Stop the pool's threads now (else they end with the reader, or at shutdown);
        reading one version still works."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _in_order(self, read: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pool = self._current_pool()
        queued: deque[Future[R]] = deque()
        try:
            for item in items:
                queued.append(pool.submit(read, item))
                if len(queued) >= LOOKAHEAD:
                    yield queued.popleft().result()
            while queued:
                yield queued.popleft().result()
        finally:
            for future in queued:  # the caller stopped early, or a read failed
                future.cancel()

    def _current_pool(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # forked: the parent's threads are not here
            with self._lock:
                if self._pid != os.getpid():
                    self._pool, self._pid = self._new_pool(), os.getpid()
        return self._pool

    def _new_pool(self) -> ThreadPoolExecutor:
        pool = ThreadPoolExecutor(self._threads, thread_name_prefix="fdo-reader")
        # Its threads end with the reader (its service dropped) or at shutdown.
        weakref.finalize(self, pool.shutdown, wait=False)
        return pool
