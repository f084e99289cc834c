"""The pieces of `make bench-api` (bench/api.py, bench/api_load.py) do what its figures
claim, through the real load process, SeaweedFS and gunicorn: the raw baseline is signed
conditional PUTs and GETs of the given bytes, the API requests create, update and read
what they say, and a run stops when an answer is not the one expected. Timings are
measured, never asserted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench import api
from repository.config import Config
from repository.services import FDOService
from repository.validation import Validator
from storage.objects import S3ObjectStore, S3Settings
from storage.versions import version_key


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The benchmark's own index: SQLite."""
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


@pytest.fixture
def config(config: Config) -> Config:
    """The load process's eight threads queue for S3 instead of being shed: on a busy
    machine a request may wait more than the default second for an in-flight slot, and
    these tests are about what the benchmark sends, not about load shedding
    (tests/test_hung_store.py tests that)."""
    return replace(config, s3_queue_timeout=60.0)


@pytest.fixture
def run(tmp_path: Path, config: Config, token: str) -> api.Run:
    return api.Run(tmp_path, config, token)


def test_the_raw_baseline_is_signed_conditional_puts_and_gets_of_the_given_bytes(
        run: api.Run) -> None:
    body = json.dumps({"n": 1, "pad": "é" * 100})
    store = S3ObjectStore(S3Settings(**run.s3))
    target = {"s3": run.s3}
    puts = [{"method": "PUT", "path": "raw/a.json", "body": body}]
    result = api.measure(run, target, puts, 200)
    assert result["requests"] == 1 and result["per_s"] > 0
    assert store.get("raw/a.json") == body.encode()
    with pytest.raises(RuntimeError, match="412"):  # If-None-Match: *, as versions are
        api.measure(run, target, puts, 200)
    assert api.measure(run, target, api.raw_gets(["raw/a.json"] * 20), 200)["requests"] == 20
    with pytest.raises(RuntimeError, match="404"):
        api.measure(run, target, api.raw_gets(["raw/none.json"]), 200)


def test_the_api_requests_create_update_and_read_through_gunicorn(
        run: api.Run, gunicorn: str, service: FDOService) -> None:
    http = {"http": gunicorn}
    created = api.measure(run, http, api.writes(run, "POST", ["/api/v1/digital-specimens"] * 6,
                                                [api.specimen(n) for n in range(6)]), 201)
    pids = [api.pid_of(location) for _, location in created["answers"]]
    assert len(set(pids)) == 6
    objects = [f"/api/v1/digital-specimens/{pid}" for pid in pids]
    etags = [etag for etag, _ in created["answers"]]
    api.measure(run, http, api.writes(run, "PUT", objects, [api.revised(n) for n in range(6)],
                                      etags), 200)
    for pid in pids:
        latest = service.latest("digital-specimens", *pid.split("/"))
        assert latest.version == 2 and latest.content["dwc:disposition"] == "in collection"
    api.measure(run, http, api.gets(objects + [f"{o}/versions/1" for o in objects]), 200)
    for accept in api.FORMATS.values():
        api.measure(run, http, api.gets([f"/{pid}" for pid in pids], accept), 200)
    # The raw PUTs copy the very bytes the app stored.
    copies = api.raw_puts(run, [version_key(pid, 2) for pid in pids])
    store = S3ObjectStore(S3Settings(**run.s3))
    assert [copy["body"].encode() for copy in copies] == [
        store.get(version_key(pid, 2)) for pid in pids]


def test_an_update_with_a_stale_etag_stops_the_run(run: api.Run, gunicorn: str) -> None:
    http = {"http": gunicorn}
    created = api.measure(run, http, api.writes(run, "POST", ["/api/v1/digital-specimens"],
                                                [api.specimen(0)]), 201)
    [(etag, location)] = created["answers"]
    path = f"/api/v1/digital-specimens/{api.pid_of(location)}"
    api.measure(run, http, api.writes(run, "PUT", [path], [api.revised(0)], [etag]), 200)
    with pytest.raises(RuntimeError, match="412"):
        api.measure(run, http, api.writes(run, "PUT", [path], [api.specimen(0)], [etag]), 200)


def test_each_format_is_first_resolved_on_objects_of_its_own() -> None:
    pids = [f"10.1/{n}" for n in range(1500)]
    groups = api.thirds(pids)
    assert set(groups) == set(api.FORMATS)
    assert sorted(pid for group in groups.values() for pid in group) == sorted(pids)
    assert all(len(group) == 500 for group in groups.values())


def test_a_revised_specimen_is_valid_and_differs_from_the_created_one() -> None:
    assert Validator().violations("digital-specimens", api.revised(3)) == []
    assert api.revised(3) != api.specimen(3)
    assert api.revised(3)["ods:physicalSpecimenID"] == api.specimen(3)["ods:physicalSpecimenID"]
