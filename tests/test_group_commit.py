"""Group commit: versions recorded by concurrent threads share a transaction, a group that
fails is tried again member by member, and an error reaches every member
(storage/group_commit.py, storage/index.py's `record_version`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from repository import errors
from repository.config import Config
from repository.services import FDOService
from storage.group_commit import MOST, GroupCommit
from tests.records import specimen
from tests.test_physical_ids import AGENT, assert_feed_consistent, table_rows

WAITING = 5


def held_first_group(outcome: Callable[[list[int]], bool], most: int = MOST
                     ) -> tuple[list[list[int]], list]:
    """Record 0 in a group whose write blocks until WAITING more items have queued
    behind it, then those: the groups written and what each record returned or raised."""
    groups: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> bool:
        groups.append(items)
        if items == [0]:
            release.wait(10)
        return outcome(items)

    committer: GroupCommit[int] = GroupCommit(write, most)

    def record(item: int) -> object:
        try:
            return committer.record(item)
        except RuntimeError as error:
            return error

    with ThreadPoolExecutor(WAITING + 1) as pool:
        first = pool.submit(record, 0)
        while not groups:
            time.sleep(0.001)
        rest = [pool.submit(record, item) for item in range(1, WAITING + 1)]
        while len(committer._waiting) < WAITING:
            time.sleep(0.001)
        release.set()
        results = [first.result(10), *(future.result(10) for future in rest)]
    return groups, results


def test_versions_that_wait_for_a_transaction_are_written_together_in_the_next():
    groups, results = held_first_group(lambda items: True)
    assert groups[0] == [0]
    assert sorted(groups[1]) == list(range(1, WAITING + 1)) and len(groups) == 2
    assert results == [True] * (WAITING + 1)


def test_a_group_that_cannot_be_written_answers_false_to_each_member():
    groups, results = held_first_group(lambda items: 3 not in items)
    assert len(groups) == 2
    assert results == [True] + [False] * WAITING


def test_an_error_in_a_group_is_raised_to_each_member_and_the_next_group_is_written():
    def outcome(items: list[int]) -> bool:
        if 0 not in items:
            raise RuntimeError("the index went away")
        return True

    groups, results = held_first_group(outcome)
    assert results[0] is True
    assert all(isinstance(result, RuntimeError) for result in results[1:])

    committer: GroupCommit[int] = GroupCommit(lambda items: True)
    assert committer.record(7) is True  # a lone record writes a group of one at once


def test_a_group_is_never_larger_than_its_limit():
    groups, results = held_first_group(lambda items: True, most=2)
    assert [len(group) for group in groups] == [1, 2, 2, 1]
    assert results == [True] * (WAITING + 1)


@pytest.mark.s3
def test_a_group_with_a_duplicate_is_recorded_member_by_member(
        service: FDOService, config: Config):
    """Through the real index, both engines: two creates of one new physical specimen
    wait in one group with 13 others (the first group is held until all have queued).
    The duplicate fails the group; its members are then recorded one by one, and only
    the second claim of the specimen is refused. The feed stays gapless and in order."""
    documents = [specimen() for _ in range(14)]
    documents.insert(6, {**documents[3], "dwc:preparations": "a second digitisation"})
    index = service.index
    group_write, outcomes, release = index._record_group, [], threading.Event()

    def held_record_group(recordings: list) -> bool:
        if not outcomes:
            release.wait(30)
        outcomes.append(group_write(recordings))
        return outcomes[-1]

    index._group._write = held_record_group

    def create(document: dict) -> object:
        try:
            return service.create("digital-specimens", document, AGENT)
        except errors.FDOError as error:
            return error

    with ThreadPoolExecutor(len(documents)) as pool:
        futures = [pool.submit(create, document) for document in documents]
        while len(index._group._waiting) < len(documents) - 1:
            time.sleep(0.005)
        release.set()
        results = [future.result(60) for future in futures]
    assert False in outcomes  # the group holding the duplicate failed as a whole
    refused = [result for result in results if isinstance(result, errors.FDOError)]
    assert [type(result) for result in refused] == [errors.DuplicateSpecimen]
    created = [result for result in results if result not in refused]
    assert len(created) == len(documents) - 1
    for record in created:
        assert index.current(record.pid).version == 1
    assert_feed_consistent(table_rows(config.database_url))
