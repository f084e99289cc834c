"""The resolver's hot read (`Index.current`) runs on a connection each thread keeps: it
must still see every commit, hold no transaction open, survive a dropped connection and
close with the index. On SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from repository.access import trusted
from repository.provenance import Agent
from tests.records import specimen
from tests.threads import run_in_threads

AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
KIND = "digital-specimens"


def test_current_sees_every_commit_made_since_its_last_read(service):
    created = service.create(KIND, specimen(), AGENT)
    assert service.index.current(created.pid).version == 1  # this thread's reader opened
    prefix, suffix = created.pid.split("/")
    service.replace(KIND, prefix, suffix, {**created.content, "ods:specimenName": "B. lucorum"},
                    created.digest, AGENT)
    assert service.index.current(created.pid).version == 2
    missing = f"{prefix}/AAA-AAA-AAA"
    assert service.index.current(missing) is None


def test_each_thread_reads_on_its_own_connection(service):
    created = service.create(KIND, specimen(), AGENT)
    seen: list[int] = []

    def read() -> None:
        for _ in range(50):
            seen.append(service.index.current(created.pid).version)

    assert run_in_threads(read, 4) == []
    assert seen == [1] * 200


def _backends(url: str) -> list[tuple[int, str]]:
    """(pid, state) of the other sessions on this database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT pid, state FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))]
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_reads_leave_no_transaction_open_on_postgresql(service, database_url):
    created = service.create(KIND, specimen(), AGENT)
    service.index.engine.dispose()  # only the reader's connection is left
    assert service.index.current(created.pid).version == 1
    states = [state for _, state in _backends(database_url)]
    assert states == ["idle"]  # not "idle in transaction": no snapshot held, nothing blocked


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dropped_reader_connection_is_replaced(service, database_url):
    created = service.create(KIND, specimen(), AGENT)
    service.index.engine.dispose()
    assert service.index.current(created.pid).version == 1
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:  # as a server restart would
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        engine.dispose()
    assert service.index.current(created.pid).version == 1  # on a new connection


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_close_closes_the_reader_connections(service, database_url):
    created = service.create(KIND, specimen(), AGENT)
    reader = threading.Thread(target=lambda: service.index.current(created.pid))
    reader.start()
    reader.join()
    service.index.current(created.pid)
    assert len(_backends(database_url)) >= 2  # this thread's and the other thread's
    service.index.close()
    assert _backends(database_url) == []
