"""The search index is derived data like the rest of the index: `fdo rebuild-index` makes
it again from S3 alone, and `fdo verify` names every object whose entry disagrees with
its current version. On SQLite and PostgreSQL, through the real S3 server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from repository.config import Config
from repository.integrity import rebuild_index, verify
from repository.search_document import search_document
from repository.services import FDOService
from storage.models import SEARCH_TABLES, Base
from tests.conftest import ROOT
from tests.test_integrity import AGENT, populate
from tests.test_search_api import bee_in_kenya, carabus_in_belgium

pytestmark = pytest.mark.s3


def sql(config: Config, statement: str) -> None:
    engine = create_engine(config.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def fdo_command(config: Config, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **config.to_environment()}
    return subprocess.run([sys.executable, "-m", "repository.cli", *arguments], env=env,
                          cwd=ROOT, capture_output=True, text=True)


def documents(fdo: FDOService) -> dict[str, object]:
    return {row.pid: fdo.index.search.stored_document(row.pid) for row in fdo.index.all_objects()}


def test_rebuild_index_makes_the_same_search_entries_from_s3_alone(service):
    populate(service)
    service.create("digital-specimens", carabus_in_belgium(), AGENT)
    before = documents(service)
    assert all(found is not None for found in before.values())
    tables = [Base.metadata.tables[name] for name in SEARCH_TABLES]
    Base.metadata.drop_all(service.index.engine, tables=tables)
    report = rebuild_index(service)
    assert report.problems == []
    assert documents(service) == before


def test_verify_names_an_entry_that_disagrees_and_one_that_is_missing(service, config):
    populate(service)
    beetle = service.create("digital-specimens", carabus_in_belgium(), AGENT)
    bee = service.create("digital-specimens", bee_in_kenya(), AGENT)
    assert verify(service.reader, service.index).problems == []
    assert fdo_command(config, "verify").returncode == 0
    sql(config, f"UPDATE search_entries SET name = 'Carabus fictus' WHERE pid = '{beetle.pid}'")
    sql(config, "DELETE FROM search_terms WHERE entry_id = "
                f"(SELECT id FROM search_entries WHERE pid = '{bee.pid}')")
    problems = verify(service.reader, service.index).problems
    assert {line.split(":")[0] for line in problems} == {beetle.pid, bee.pid}
    assert any("differs" in line and "name" in line for line in problems)
    assert any("differs" in line and "terms" in line for line in problems)
    done = fdo_command(config, "verify")
    assert done.returncode == 1 and beetle.pid in done.stdout


def test_an_object_indexed_before_search_existed_gets_its_entry_with_its_next_version(
        service, config):
    record = service.create("digital-specimens", carabus_in_belgium(), AGENT)
    sql(config, "DELETE FROM search_terms")
    sql(config, "DELETE FROM search_entries")  # (FTS5 follows by trigger)
    problems = verify(service.reader, service.index).problems
    assert problems == [f"{record.pid}: no search entry (fdo rebuild-index adds it)"]
    prefix, suffix = record.pid.split("/")
    changed, _ = service.replace("digital-specimens", prefix, suffix,
                                 {**record.content, "dwc:preparations": "pinned"},
                                 record.digest, AGENT)
    assert service.index.search.stored_document(record.pid) == (
        2, search_document("digital-specimens", changed.content))
    assert verify(service.reader, service.index).problems == []


def test_one_transaction_recording_three_versions_of_an_object_leaves_the_last_entry(
        service, monkeypatch):
    """A transaction may hold several versions of one object (a bulk recording): its
    search entry and terms end as its last version's, as if recorded one by one."""
    recorded: list = []
    record = service.index.record_version
    monkeypatch.setattr(service.index, "record_version",
                        lambda entry: (recorded.append(entry), record(entry))[1])
    first = service.create("digital-specimens", carabus_in_belgium(), AGENT)
    prefix, suffix = first.pid.split("/")
    second, _ = service.replace("digital-specimens", prefix, suffix, bee_in_kenya(),
                                first.digest, AGENT)
    third, _ = service.replace("digital-specimens", prefix, suffix,
                               {**carabus_in_belgium(), "dwc:preparations": "pinned"},
                               second.digest, AGENT)
    assert [entry.version for entry in recorded] == [1, 2, 3]
    service.writes.reset_index()
    assert service.index.record_versions(recorded)
    assert service.index.search.stored_document(first.pid) == (
        3, search_document("digital-specimens", third.content))
    assert verify(service.reader, service.index).problems == []
