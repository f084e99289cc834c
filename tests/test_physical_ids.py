"""One digital specimen per physical specimen, arbitrated by S3: a refused create leaves
nothing in S3, so an index rebuilt from S3 alone equals the live one, table by table."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from repository import errors
from repository.access import trusted
from repository.config import Config
from repository.provenance import Agent
from repository.services import FDOService, normalised_physical_id
from repository.tokens import create_token
from storage.models import FEED, OBJECT_TABLES, Base
from storage.search_tables import SearchEntryRow, SearchTermRow
from storage.versions import KEY_ROOT, VersionRecord, version_key
from tests.conftest import ROOT
from tests.records import annotation, media, specimen

pytestmark = pytest.mark.s3
RACERS = 12
SPECIMENS = "/api/v1/digital-specimens"
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
# S3 holds neither the order in which the index committed versions nor when: a rebuild
# numbers the feed by version time (`renumber_feed`), so these columns differ after
# concurrent writes and are checked for consistency instead (`assert_feed_consistent`).
# `linked_modified` only keys the resolver's caches; a rebuild stamps it in replay order.
@pytest.fixture
def config(config: Config) -> Config:
    """Racing writers queue for S3 instead of being shed: SeaweedFS answers the losers of
    a conditional race after about a second, and these tests are about who wins, not about
    load shedding (tests/test_hung_store.py tests that). 503s here would hide the answer."""
    return replace(config, s3_queue_timeout=60.0)


ORDER_COLUMNS = {"fdo_objects": {"linked_modified", "sequence"},
                 "fdo_versions": {"sequence", "recorded"}, "fdo_counters": {"stamp"}}


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on their own threads, released at once by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def poster(base: str, token: str, document: dict[str, Any],
           path: str = SPECIMENS) -> Callable[[], requests.Response]:
    session = requests.Session()  # its own connection, as separate clients have
    session.headers["Authorization"] = f"Bearer {token}"
    return lambda: session.post(base + path, json=document, timeout=60)


def holders_in_s3(service: FDOService, physical_id: str) -> list[str]:
    """The PIDs whose stored version 1 claims this normalised physical ID."""
    return [key for key in service.store.keys(KEY_ROOT) if key.endswith("/v00000001.json")
            and VersionRecord.from_bytes(service.store.get(key)).content.get(
                "ods:normalisedPhysicalSpecimenID") == physical_id]


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table rebuild-index is responsible for, in key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {name: [tuple(row) for row in connection.execute(
                select(*table.columns).order_by(*table.primary_key.columns))]
                for name in OBJECT_TABLES for table in [Base.metadata.tables[name]]}
    finally:
        engine.dispose()


def search_rows(url: str) -> dict[str, tuple[Any, ...]]:
    """Every search entry by PID, with its terms: as a rebuild must make them again (entry
    ids and search positions differ, since a rebuild meets the objects in another order
    and in other transactions)."""
    engine = create_engine(url)
    entries, terms = SearchEntryRow.__table__, SearchTermRow.__table__
    try:
        with engine.connect() as connection:
            rows = {row.pid: row for row in connection.execute(select(entries))}
            held: dict[int, list[tuple[str, str, str, str]]] = {}
            for term in connection.execute(select(terms)):
                held.setdefault(term.entry_id, []).append(
                    (term.field, term.key, term.value, term.status))
    finally:
        engine.dispose()
    return {pid: (*(value for name, value in row._mapping.items()
                    if name not in ("id", "changed")),
                  sorted(held.get(row.id, []))) for pid, row in rows.items()}


def without_order(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The tables without what depends on the order of writes and transactions: and of
    the counters only the feed's (the generation is drawn per index, the search position
    counts transactions)."""
    kept = {name: [index for index, column in enumerate(Base.metadata.tables[name].columns)
                   if column.name not in ORDER_COLUMNS.get(name, set())]
            for name in tables}
    return {name: [tuple(row[i] for i in kept[name]) for row in rows
                   if name != "fdo_counters" or row[0] == FEED]
            for name, rows in tables.items()}


def assert_feed_consistent(tables: dict[str, list[tuple[Any, ...]]]) -> None:
    """The feed numbers every version once, 1..n; each object sits at its current
    version's position; `recorded` never decreases along the feed."""
    versions = {(row[0], row[1]): row for row in tables["fdo_versions"]}
    columns = [column.name for column in Base.metadata.tables["fdo_versions"].columns]
    sequence, recorded = columns.index("sequence"), columns.index("recorded")
    feed = sorted(versions.values(), key=lambda row: row[sequence])
    assert [row[sequence] for row in feed] == list(range(1, len(feed) + 1))
    assert [row[recorded] for row in feed] == sorted(row[recorded] for row in feed)
    object_columns = [column.name for column in Base.metadata.tables["fdo_objects"].columns]
    at = object_columns.index("sequence")
    for row in tables["fdo_objects"]:
        assert row[at] == versions[(row[0], row[2])][sequence]
    feed_counter = [row for row in tables["fdo_counters"] if row[0] == "feed"]
    assert feed_counter == [("feed", len(feed), feed[-1][recorded] if feed else None)]


def fresh_database(request: pytest.FixtureRequest, config: Config) -> str:
    if config.database_url.startswith("sqlite"):
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'rebuilt.sqlite3'}"
    return request.getfixturevalue("postgres_server").create_database(
        f"r_{uuid.uuid4().hex[:12]}")


def assert_rebuild_equals_live(request: pytest.FixtureRequest, config: Config) -> None:
    """`fdo rebuild-index` from S3 alone into an empty database: exit 0, and every table
    it rebuilds equal to the live index's."""
    rebuilt = fresh_database(request, config)
    env = {**os.environ, **replace(config, database_url=rebuilt).to_environment()}
    done = subprocess.run([sys.executable, "-m", "repository.cli", "rebuild-index"],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    live, again = table_rows(config.database_url), table_rows(rebuilt)
    assert_feed_consistent(live)
    assert_feed_consistent(again)
    for name in OBJECT_TABLES:
        assert without_order(again)[name] == without_order(live)[name], name
    assert search_rows(rebuilt) == search_rows(config.database_url)


def test_racing_creates_of_one_physical_specimen_leave_one_object_in_s3(
        gunicorn, service, config, request):
    token = create_token(service.index, "racer", "administrator")
    record = specimen()
    documents = [{**record, "dwc:preparations": f"racer {n}"} for n in range(RACERS)]
    responses = together([poster(gunicorn, token, document) for document in documents])

    assert Counter(response.status_code for response in responses) == {201: 1,
                                                                       409: RACERS - 1}
    (won,) = [response.json() for response in responses if response.status_code == 201]
    refused = [response.json() for response in responses if response.status_code == 409]
    assert {body["code"] for body in refused} == {"duplicate_specimen"}
    assert {body["existing"] for body in refused} == {won["@id"]}
    pid = won["@id"].removeprefix(config.base_url + "/")
    assert list(service.store.keys(KEY_ROOT)) == [version_key(pid, 1)]
    stored = VersionRecord.from_bytes(service.store.get(version_key(pid, 1)))
    assert stored.content["dwc:preparations"] == won["dwc:preparations"]
    assert_rebuild_equals_live(request, config)


def test_after_a_tombstone_racing_creates_make_exactly_one_new_specimen(service):
    record = specimen()
    first = service.create("digital-specimens", record, AGENT)
    prefix, suffix = first.pid.split("/")
    service.tombstone("digital-specimens", prefix, suffix, "re-digitised", None, None, AGENT)

    def create(number: int) -> VersionRecord | errors.FDOError:
        try:
            return service.create("digital-specimens",
                                  {**record, "dwc:preparations": f"racer {number}"}, AGENT)
        except errors.FDOError as error:
            return error

    results = together([lambda n=n: create(n) for n in range(RACERS)])
    created = [result for result in results if isinstance(result, VersionRecord)]
    assert len(created) == 1 and created[0].pid != first.pid
    assert {type(result) for result in results if result not in created} == {
        errors.DuplicateSpecimen}
    physical_id = normalised_physical_id(record)
    assert service.index.pid_for_physical_id(physical_id) == created[0].pid
    assert len(holders_in_s3(service, physical_id)) == 2  # the tombstoned one and the new


def updater(base: str, token: str, path: str, rounds: int) -> Callable[[], list[int]]:
    """Read the ETag, PUT a change with If-Match; again. Losers of the race get 412."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def run() -> list[int]:
        statuses = []
        for number in range(rounds):
            current = session.get(base + path, timeout=60)
            document = {**current.json(), "dwc:preparations": f"{uuid.uuid4()} #{number}"}
            statuses.append(session.put(base + path, json=document, timeout=60, headers={
                "If-Match": current.headers["ETag"]}).status_code)
        return statuses

    return run


def test_after_a_mixed_workload_an_index_rebuilt_from_s3_equals_the_live_one(
        gunicorn, service, config, request):
    """Racing duplicate creates, racing updates of one object, a tombstone and racing
    creates after it, media and an annotation (links), and refused writes of every kind."""
    token = create_token(service.index, "racer", "administrator")
    target = service.create("digital-specimens", specimen(), AGENT)
    gone_record = specimen()
    gone = service.create("digital-specimens", gone_record, AGENT)
    target_path = f"{SPECIMENS}/{target.pid}"
    gone_path = f"{SPECIMENS}/{gone.pid}"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.delete(gunicorn + gone_path, json={"reason": "re-digitised"},
                   timeout=60).raise_for_status()

    duplicates = [specimen() for _ in range(3)]
    linked = media(**{"ods:hasEntityRelationships": [{
        "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
        "dwc:relatedResourceID": target.content["@id"],
        "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]})
    calls = [poster(gunicorn, token, {**record, "dwc:preparations": str(n)})
             for record in duplicates for n in range(4)]
    calls += [poster(gunicorn, token, {**gone_record, "dwc:preparations": str(n)})
              for n in range(4)]
    calls += [updater(gunicorn, token, target_path, 6) for _ in range(4)]
    calls += [poster(gunicorn, token, linked, "/api/v1/digital-media"),
              poster(gunicorn, token, annotation(target.content["@id"]), "/api/v1/annotations"),
              poster(gunicorn, token, {"ods:physicalSpecimenID": 7}),  # schema-invalid
              poster(gunicorn, token, {**gone_record}),  # racing the re-creates above
              lambda: session.put(gunicorn + gone_path, json=gone_record, timeout=60,
                                  headers={"If-Match": gone.digest}),  # tombstoned
              lambda: session.put(gunicorn + target_path, json=target.content, timeout=60,
                                  headers={"If-Match": "0" * 64})]  # stale
    results = together(calls)

    statuses = Counter(status for result in results for status in (
        result if isinstance(result, list) else [result.status_code]))
    assert statuses[201] == 3 + 1 + 2  # one per physical specimen, the media, the annotation
    assert statuses[409] == 3 * 3 + 4 + 1  # the duplicates, and the PUT on a tombstone
    assert statuses[422] == 1 and statuses[200] >= 1 and statuses[412] >= 1
    assert set(statuses) == {200, 201, 409, 412, 422}
    for record in [*duplicates, gone_record]:
        holders = holders_in_s3(service, normalised_physical_id(record))
        assert len(holders) == (2 if record is gone_record else 1)
    assert_rebuild_equals_live(request, config)
