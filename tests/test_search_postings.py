"""The posting bitmaps a process keeps of the search index (storage/search_postings.py)
answer filters and facets as the index holds them now: after writes by another service
on the same index (as another process's), after a media object changes a specimen's
hasMedia, after a tombstone, after `fdo rebuild-index` made the tables anew, and on an
index made before the bitmaps' `changed` column existed. On SQLite and PostgreSQL,
through the app and the real S3 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from repository import build_service
from repository.config import Config
from repository.integrity import rebuild_index, reconcile, verify
from repository.records import index_entry
from repository.search_request import FACETS
from repository.services import FDOService
from storage.search_postings import POSTED_FIELDS
from storage.search_writes import Recording, record_searches
from tests.records import media
from tests.test_search_api import (
    AGENT,
    SPECIMENS,
    bee_in_kenya,
    carabus_in_belgium,
    oak_in_fiji,
    pids,
    search,
)
from tests.test_search_index import sql

pytestmark = pytest.mark.s3


@pytest.fixture
def other(config: Config) -> Iterator[FDOService]:
    """Another service on the same index and bucket: its own engine and bitmaps."""
    service = build_service(config)
    yield service
    service.close()


def counts(body: dict, facet: str) -> dict[str, int]:
    return {item["value"]: item["count"] for item in body["facets"][facet]}


def test_every_facet_counts_a_posted_field():
    assert set(FACETS.values()) <= set(POSTED_FIELDS)


def test_writes_by_another_service_are_counted_by_the_next_search(client, other):
    assert search(client, "facet=country")["total"] == 0  # the bitmaps are read, empty
    beetle = other.create(SPECIMENS, carabus_in_belgium(), AGENT)
    other.create(SPECIMENS, bee_in_kenya(), AGENT)
    body = search(client, "country=Belgium&facet=country&facet=hasMedia")
    assert pids(body) == {beetle.pid} and body["total"] == 1
    assert counts(body, "country") == {"Belgium": 1}
    assert counts(body, "hasMedia") == {"false": 1}
    assert counts(search(client, "facet=country"), "country") == {"Belgium": 1, "Kenya": 1}

    relation = [{"@type": "ods:EntityRelationship",
                 "dwc:relationshipOfResource": "hasDigitalSpecimen",
                 "dwc:relatedResourceID": f"https://doi.org/{beetle.pid}"}]
    picture = other.create("digital-media", media(**{"ods:hasEntityRelationships": relation}),
                           AGENT)
    body = search(client, "hasMedia=true&facet=hasMedia&facet=country")
    assert pids(body) == {beetle.pid}
    assert counts(body, "country") == {"Belgium": 1}
    assert counts(search(client, "facet=hasMedia"), "hasMedia") == {"true": 1, "false": 1}

    prefix, suffix = picture.pid.split("/")
    other.tombstone("digital-media", prefix, suffix, "wrong picture", None, None, AGENT)
    assert counts(search(client, "facet=hasMedia"), "hasMedia") == {"false": 2}
    prefix, suffix = beetle.pid.split("/")
    other.tombstone(SPECIMENS, prefix, suffix, "duplicate", None, None, AGENT)
    body = search(client, "facet=country")
    assert body["total"] == 1 and counts(body, "country") == {"Kenya": 1}
    tombstoned = search(client, "status=tombstone&facet=country")
    assert pids(tombstoned) == {beetle.pid} and counts(tombstoned, "country") == {"Belgium": 1}


def test_an_update_moves_an_entry_between_values(client, app, other):
    oak = other.create(SPECIMENS, oak_in_fiji(), AGENT)
    assert counts(search(client, "facet=country"), "country") == {"Fiji": 1}
    prefix, suffix = oak.pid.split("/")
    other.replace(SPECIMENS, prefix, suffix, bee_in_kenya(), oak.digest, AGENT)
    body = search(client, "facet=country&facet=kingdom")
    assert counts(body, "country") == {"Kenya": 1}
    assert pids(search(client, "country=Fiji")) == set()
    assert pids(search(client, "country=Kenya")) == {oak.pid}


def test_a_rebuilt_index_is_read_again_whole(client, config, other):
    first = other.create(SPECIMENS, oak_in_fiji(), AGENT)
    other.create(SPECIMENS, bee_in_kenya(), AGENT)
    other.create(SPECIMENS, carabus_in_belgium(), AGENT)
    # The oak's entry made again, last: its id is now one a rebuild of three never has.
    sql(config, "DELETE FROM search_terms WHERE entry_id = "
                f"(SELECT id FROM search_entries WHERE pid = '{first.pid}')")
    sql(config, f"DELETE FROM search_entries WHERE pid = '{first.pid}'")
    prefix, suffix = first.pid.split("/")
    other.patch(SPECIMENS, prefix, suffix, [{"op": "add", "path": "/dwc:collectionCode",
                                             "value": "OAKS"}], first.digest, AGENT)
    assert pids(search(client, "country=Fiji&facet=country")) == {first.pid}
    assert rebuild_index(other).problems == []
    body = search(client, "country=Fiji&facet=collectionCode")
    assert pids(body) == {first.pid} and body["total"] == 1
    assert counts(body, "collectionCode") == {"OAKS": 1}


def test_an_index_made_before_the_changed_column_gets_it(config, make_app):
    service = build_service(config)
    service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    with service.index.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_search_entries_changed"))
        connection.execute(text("ALTER TABLE search_entries DROP COLUMN changed"))
    service.close()
    client = make_app(config).test_client()  # creates what is missing
    body = search(client, "facet=country")
    assert counts(body, "country") == {"Belgium": 1}
    client.application.extensions["fdo"].create(SPECIMENS, bee_in_kenya(), AGENT)
    assert counts(search(client, "facet=country"), "country") == {"Belgium": 1, "Kenya": 1}


# -- search entries written after their versions' transaction (PostgreSQL's way) ---------

def write_entry_late(service: FDOService, pid: str, number: int) -> None:
    """The search entry of version `number` written now, in a transaction of its own, as
    a write whose entry came late would (whatever the engine)."""
    entry = index_entry(service.reader.version(pid, number))
    with service.index.engine.begin() as connection:
        record_searches(connection, [Recording(entry)], after_commit=True)


def test_an_entry_written_late_never_goes_back_to_an_earlier_version(service, client):
    oak = service.create(SPECIMENS, oak_in_fiji(), AGENT)
    prefix, suffix = oak.pid.split("/")
    service.replace(SPECIMENS, prefix, suffix, bee_in_kenya(), oak.digest, AGENT)
    write_entry_late(service, oak.pid, 1)  # version 1's entry, after version 2's
    assert service.index.search.stored_document(oak.pid)[0] == 2
    assert pids(search(client, "country=Kenya")) == {oak.pid}
    assert pids(search(client, "country=Fiji")) == set()


def test_a_specimen_entry_written_after_its_media_reads_has_media_from_the_links(
        service, client, config):
    beetle = service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    relation = [{"@type": "ods:EntityRelationship",
                 "dwc:relationshipOfResource": "hasDigitalSpecimen",
                 "dwc:relatedResourceID": f"https://doi.org/{beetle.pid}"}]
    service.create("digital-media", media(**{"ods:hasEntityRelationships": relation}), AGENT)
    # The specimen's version linked with nothing when it was recorded: had its entry come
    # after the media object's (which found no entry to mark), it must still have media.
    sql(config, "DELETE FROM search_terms WHERE entry_id = "
                f"(SELECT id FROM search_entries WHERE pid = '{beetle.pid}')")
    sql(config, f"DELETE FROM search_entries WHERE pid = '{beetle.pid}'")
    write_entry_late(service, beetle.pid, 1)
    assert pids(search(client, "hasMedia=true")) == {beetle.pid}
    assert counts(search(client, "facet=hasMedia"), "hasMedia") == {"true": 1}


def test_reconcile_writes_the_entries_a_write_stopped_before(service, client, monkeypatch):
    """A process stopped between a version's transaction and its entry's (PostgreSQL's
    way; forced on both engines here): the object is found as it was, `fdo verify` says
    so, and `fdo reconcile` writes the entry and every hasMedia it would have set."""
    beetle = service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    relation = [{"@type": "ods:EntityRelationship",
                 "dwc:relationshipOfResource": "hasDigitalSpecimen",
                 "dwc:relatedResourceID": f"https://doi.org/{beetle.pid}"}]
    picture = service.create("digital-media",
                             media(**{"ods:hasEntityRelationships": relation}), AGENT)
    assert pids(search(client, "hasMedia=true")) == {beetle.pid}

    def stopped(recordings: list) -> bool:
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr(service.index, "search_apart", True)
    monkeypatch.setattr(service.index._searches, "_write", stopped)
    prefix, suffix = beetle.pid.split("/")
    with pytest.raises(RuntimeError):
        service.replace(SPECIMENS, prefix, suffix, bee_in_kenya(), beetle.digest, AGENT)
    prefix, suffix = picture.pid.split("/")
    with pytest.raises(RuntimeError):  # unlinked: the beetle has no media any more
        service.replace("digital-media", prefix, suffix, media(), picture.digest, AGENT)
    monkeypatch.undo()

    assert pids(search(client, "country=Belgium")) == {beetle.pid}  # as it was
    assert pids(search(client, "hasMedia=true")) == {beetle.pid}
    problems = verify(service.reader, service.index).problems
    assert any(beetle.pid in line and "shows version 1" in line for line in problems)
    assert any(picture.pid in line and "shows version 1" in line for line in problems)
    assert any(beetle.pid in line and "hasMedia" in line for line in problems)

    report = reconcile(service)
    assert set(report.searched) == {beetle.pid, picture.pid}
    assert verify(service.reader, service.index).problems == []
    assert pids(search(client, "country=Kenya&hasMedia=false")) == {beetle.pid}
    assert pids(search(client, "country=Belgium")) == set()
    assert reconcile(service).searched == []
