"""Running one function in several threads at once, for concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(work: Callable[[], None], count: int) -> list[BaseException]:
    """Start `count` threads running `work`, wait for all; the errors they raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - returned to the test
            errors.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
