"""The posting bitmaps a process keeps of the search index (storage/search_postings.py)
answer filters and facets as the index holds them now: after writes by another service
on the same index (as another process's), after a media object changes a specimen's
hasMedia, after a tombstone, after `fdo rebuild-index` made the tables anew, and on an
index made before the bitmaps' `changed` column existed. On SQLite and PostgreSQL,
through the app and the real S3 server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from repository import build_service
from repository.config import Config
from repository.integrity import rebuild_index, reconcile, verify
from repository.search_request import FACETS
from repository.services import FDOService
from storage.search_tables import POSTED_FIELDS
from tests.records import media, specimen
from tests.test_search_api import (
    AGENT,
    SPECIMENS,
    bee_in_kenya,
    carabus_in_belgium,
    oak_in_fiji,
    pids,
    place,
    search,
    taxon,
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


def test_reconcile_writes_the_entries_of_what_was_written_with_search_off(
        service, client, config):
    """Writes with FDO_SEARCH_INDEX=off keep no search entry and set no hasMedia: `fdo
    verify` names what disagrees, and `fdo reconcile` (search on) writes it all."""
    beetle = service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    off = build_service(replace(config, search_index=False))
    try:
        relation = [{"@type": "ods:EntityRelationship",
                     "dwc:relationshipOfResource": "hasDigitalSpecimen",
                     "dwc:relatedResourceID": f"https://doi.org/{beetle.pid}"}]
        picture = off.create("digital-media",
                             media(**{"ods:hasEntityRelationships": relation}), AGENT)
        prefix, suffix = beetle.pid.split("/")
        off.replace(SPECIMENS, prefix, suffix, bee_in_kenya(), beetle.digest, AGENT)
    finally:
        off.close()

    assert pids(search(client, "country=Belgium&hasMedia=false")) == {beetle.pid}  # as it was
    problems = verify(service.reader, service.index).problems
    assert any(beetle.pid in line and "shows version 1" in line for line in problems)
    assert any(picture.pid in line and "no search entry" in line for line in problems)
    assert any(beetle.pid in line and "hasMedia" in line for line in problems)

    report = reconcile(service)
    assert set(report.searched) == {beetle.pid, picture.pid}
    assert verify(service.reader, service.index).problems == []
    assert pids(search(client, "country=Kenya&hasMedia=true")) == {beetle.pid}
    assert pids(search(client, "country=Belgium")) == set()
    assert pids(search(client, "", kind="digital-media")) == {picture.pid}
    assert reconcile(service).searched == []


def test_a_value_written_two_ways_is_one_facet_value_as_loaded_and_as_caught_up(
        client, other):
    upper = other.create(SPECIMENS, carabus_in_belgium(), AGENT)
    document = carabus_in_belgium()
    document["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] = "BELGIUM"
    other.create(SPECIMENS, document, AGENT)
    loaded = search(client, "facet=country")  # this process reads the bitmaps whole
    assert loaded["facets"]["country"] == [{"value": "BELGIUM", "count": 2}]
    other.create(SPECIMENS, carabus_in_belgium(), AGENT)
    prefix, suffix = upper.pid.split("/")
    other.tombstone(SPECIMENS, prefix, suffix, "duplicate", None, None, AGENT)
    caught_up = search(client, "country=belgium&facet=country")
    assert caught_up["total"] == 2
    assert caught_up["facets"]["country"] == [{"value": "BELGIUM", "count": 2}]


def test_an_index_that_kept_posted_terms_as_rows_moves_them_into_its_entries(
        config, make_app):
    """Before the entries' `posted` and `has_media` columns, the posted fields' terms were
    rows of search_terms: on start they move into the entries, and searches, facets and
    `fdo verify` read them there."""
    service = build_service(config)
    beetle = service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    relation = [{"@type": "ods:EntityRelationship",
                 "dwc:relationshipOfResource": "hasDigitalSpecimen",
                 "dwc:relatedResourceID": f"https://doi.org/{beetle.pid}"}]
    service.create("digital-media", media(**{"ods:hasEntityRelationships": relation}), AGENT)
    bee = service.create(SPECIMENS, bee_in_kenya(), AGENT)
    insert_term = text("INSERT INTO search_terms (field, kind, status, key, entry_id, value) "
                       "VALUES (:field, :kind, :status, :key, :entry, :value)")
    with service.index.engine.begin() as connection:  # the layout before
        for entry, kind, status, posted, has_media in connection.execute(text(
                "SELECT id, kind, status, posted, has_media FROM search_entries")).all():
            terms = json.loads(posted) + ([] if has_media is None else
                                          [["hasMedia", "true" if has_media else "false"]])
            for field, value in terms:
                connection.execute(insert_term, {"field": field, "kind": kind, "status": status,
                                                 "key": value.casefold(), "entry": entry,
                                                 "value": value})
        connection.execute(text("ALTER TABLE search_entries DROP COLUMN posted"))
        connection.execute(text("ALTER TABLE search_entries DROP COLUMN has_media"))
    service.close()

    client = make_app(config).test_client()  # moves them
    body = search(client, "facet=country&facet=hasMedia")
    assert counts(body, "country") == {"Belgium": 1, "Kenya": 1}
    assert counts(body, "hasMedia") == {"true": 1, "false": 1}
    assert pids(search(client, "hasMedia=false&country=Kenya")) == {bee.pid}
    fdo = client.application.extensions["fdo"]
    assert verify(fdo.reader, fdo.index).problems == []
    with fdo.index.engine.connect() as connection:
        fields = set(connection.scalars(text("SELECT DISTINCT field FROM search_terms")))
    assert fields and not fields & set(POSTED_FIELDS)


OLD_SQLITE_TEXT = (  # free text before it had the name column
    "DROP TABLE search_text", "DROP TRIGGER search_text_insert",
    "DROP TRIGGER search_text_delete", "DROP TRIGGER search_text_update",
    "CREATE VIRTUAL TABLE search_text USING fts5(text, content='search_entries', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER search_text_insert AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_text(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_text_delete AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER search_text_update AFTER UPDATE OF text ON search_entries BEGIN "
    "INSERT INTO search_text(search_text, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO search_text(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO search_text(search_text) VALUES ('rebuild')")


def test_an_index_without_the_names_free_text_gains_it_on_start(config, make_app):
    """Relevance asks which words a name holds: SQLite's free text gains its name column
    (made again from the entries), PostgreSQL's entries `name_vector`."""
    service = build_service(config)
    beetle = service.create(SPECIMENS, carabus_in_belgium(), AGENT)
    noted = service.create(SPECIMENS, specimen(
        **taxon("Apis mellifera", "L.", "Apidae"),
        **place("Belgium", "BE", "Carabus Valley", 50.1, 4.1)), AGENT)
    with service.index.engine.begin() as connection:  # the layout before
        for statement in (["ALTER TABLE search_entries DROP COLUMN name_vector"]
                          if service.index.search.postgresql else OLD_SQLITE_TEXT):
            connection.execute(text(statement))
    service.close()

    client = make_app(config).test_client()
    assert [hit["pid"] for hit in search(client, "q=carabus")["hits"]] == [
        beetle.pid, noted.pid]
    later = client.application.extensions["fdo"].create(SPECIMENS, carabus_in_belgium(), AGENT)
    assert [hit["pid"] for hit in search(client, "q=carabus")["hits"]] == [
        later.pid, beetle.pid, noted.pid]


def test_a_worker_reads_the_bitmaps_before_its_first_search(config, make_app, other):
    """wsgi.py has each gunicorn worker read them as it starts, in the background."""
    other.create(SPECIMENS, carabus_in_belgium(), AGENT)
    client = make_app(config).test_client()
    searching = client.application.extensions["search"]
    postings = searching.reads.postings
    assert not postings.read
    thread = searching.read_bitmaps_in_background()
    thread.join(60)
    assert postings.read and not thread.is_alive()
    assert counts(search(client, "facet=country"), "country") == {"Belgium": 1}
    off = make_app(replace(config, search_index=False)).extensions["search"]
    assert off.read_bitmaps_in_background() is None
