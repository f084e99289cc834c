"""Read-only access to what a PID resolves to: the index says which version is current,
S3 holds the version (read through the process's one `VersionReader`). The resolver
never writes, so it reads storage directly.

Versions are immutable, so a decoded version record is cached in-process by
(PID, version number): after the first request, serving a version costs one index
lookup (for latest URLs) and no S3 GET. The cache is bounded, and losing it costs only
time: it is never the truth (DESIGN.md section 5).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from storage.index import Index
from storage.models import ObjectState, VersionRow
from storage.reader import VersionReader, checked_number
from storage.versions import VersionRecord

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class UnknownPID(LookupError):
    """No object has this PID."""


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map: values computed from immutable inputs, so no invalidation."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # outside the lock: two threads may both compute, both correct
        self.put(key, value)
        return value


class Lookup:
    def __init__(self, reader: VersionReader, index: Index, cache_size: int = 4096) -> None:
        self.reader = reader
        self.store = reader.store  # for what is not a version (published dumps)
        self.index = index
        self._records: BoundedCache[tuple[str, int], VersionRecord] = BoundedCache(cache_size)
        self._times: BoundedCache[tuple[str, int], str] = BoundedCache(cache_size * 4)
        self._linked: BoundedCache[tuple[str, str | None], list[tuple[str, ObjectState]]] = (
            BoundedCache(cache_size))

    def current(self, pid: str) -> ObjectState:
        row = self.index.current(pid)
        if row is None:
            raise UnknownPID(pid)
        return row

    def record(self, pid: str, number: int) -> VersionRecord:
        """Version `number` of `pid`; the caller has checked that it exists."""
        return self._records.get((pid, number), lambda: self.reader.version(pid, number))

    def version(self, row: ObjectState, number: int | None) -> VersionRecord:
        """The latest version of an object (None) or version `number` of it."""
        return self.record(row.pid, checked_number(row, number))

    def version_times(self, pid: str, numbers: list[int]) -> dict[int, str]:
        """When each of these versions was made (immutable, so cached: a version response
        links its neighbours without a query once they have been seen)."""
        times: dict[int, str] = {}
        missing = []
        for number in numbers:
            known = self._times.peek((pid, number))
            if known is None:
                missing.append(number)
            else:
                times[number] = known
        if missing:
            for number, created in self.index.version_times(pid, missing).items():
                self._times.put((pid, number), created)
                times[number] = created
        return times

    def versions(self, pid: str) -> list[VersionRow]:
        return self.index.versions(pid)

    def linked(self, row: ObjectState) -> list[tuple[str, ObjectState]]:
        """Objects linked with this one in either direction (a specimen's media and
        annotations, a media object's specimen), cached by the row's `linked_modified`
        stamp, which every write of a linked object moves."""
        return self._linked.get((row.pid, row.linked_modified),
                                lambda: self.index.linked(row.pid))
