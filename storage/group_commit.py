"""Writers of one process commit together: while one thread's index transaction runs, the
versions other threads ask to record wait, and the next of them records them all in one
transaction (group commit).

The index has one writer at a time (SQLite's lock, PostgreSQL's change-feed counter row),
so under concurrent writes the time a transaction holds that lock bounds how many versions
a second can be recorded. Most of a lone version's transaction is its fixed cost (begin,
commit, the counter, on SQLite the pages and a full-text segment written per commit); a
group pays it once. Measured with `bench/search.py --sizes none` on 8 threads: see
bench/README.md."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
# At most this many versions per transaction: a group is one transaction, and its commit
# is each member's wait.
MOST = 64


class _Waiting(Generic[Item]):
    __slots__ = ("error", "item", "written")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.written: bool | None = None  # None until a transaction has tried it
        self.error: BaseException | None = None


class GroupCommit(Generic[Item]):
    """`write(items)` records a list in one transaction and says whether it could (all
    or none). `record(item)` returns whether the transaction that held `item` was
    written; on False the caller records it alone to learn why (a clash in any member
    fails the whole group). An error the transaction raised is raised to every member."""

    def __init__(self, write: Callable[[list[Item]], bool], most: int = MOST) -> None:
        self._write = write
        self._most = most
        self._waiting: list[_Waiting[Item]] = []
        self._queue = threading.Lock()  # guards _waiting
        self._leading = threading.Lock()  # held by the thread writing a group

    def record(self, item: Item) -> bool:
        mine = _Waiting(item)
        with self._queue:
            self._waiting.append(mine)
        while mine.written is None:
            with self._leading:
                if mine.written is None:
                    self._write_next_group()
        if mine.error is not None:
            raise mine.error
        return mine.written

    def _write_next_group(self) -> None:
        with self._queue:
            group, self._waiting = self._waiting[:self._most], self._waiting[self._most:]
        try:
            written = self._write([waiting.item for waiting in group])
        except BaseException as error:
            for waiting in group:
                waiting.error, waiting.written = error, False
            if not isinstance(error, Exception):
                raise  # an interrupt stops this thread too, after telling the others
            return
        for waiting in group:
            waiting.written = written
