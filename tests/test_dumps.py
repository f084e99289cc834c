"""Bulk dumps through real S3 and a real index: what a dump holds, file splitting, filters,
publishing at /dumps/, and an aggregator that loads a dump taken while writes go on and
then follows the change feed without missing or repeating anything."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from repository.access import trusted
from repository.dump_writer import DumpError, DumpOptions, export, publish
from repository.provenance import Agent
from tests.records import specimen
from tests.test_cli import fdo

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
KIND = "digital-specimens"
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
PAGE = 4


def lines(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in manifest["files"]:
        data = (folder / item["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert len(data) == item["bytes"]
        records = [json.loads(line) for line in gzip.decompress(data).splitlines()]
        assert len(records) == item["records"]
        found += records
    return found


def populate(service) -> tuple[Any, Any, Any]:
    """Three specimens: one updated, one tombstoned. Five versions."""
    kept, updated, gone = (service.create(KIND, specimen(), AGENT) for _ in range(3))
    prefix, suffix = updated.pid.split("/")
    service.replace(KIND, prefix, suffix, {**updated.content, "ods:specimenName": "B. lucorum"},
                    updated.digest, AGENT)
    prefix, suffix = gone.pid.split("/")
    service.tombstone(KIND, prefix, suffix, "duplicate", None, None, AGENT)
    return kept, updated, gone


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "dump"  # tmp_path itself holds the SQLite index


def test_a_dump_holds_each_objects_latest_version_at_its_feed_position(service, out):
    kept, updated, gone = populate(service)
    manifest = export(service.reader, service.index, BASE, out, DumpOptions())
    assert manifest["feedPosition"] == 5
    assert manifest["counts"] == {"records": 3, KIND: 3, "tombstones": 1}
    found = {record["@id"]: record for record in lines(out, manifest)}
    assert set(found) == {f"{BASE}/{record.pid}" for record in (kept, updated, gone)}
    assert found[f"{BASE}/{updated.pid}"]["ods:version"] == 2
    assert found[f"{BASE}/{updated.pid}"]["ods:specimenName"] == "B. lucorum"
    assert found[f"{BASE}/{gone.pid}"]["ods:status"] == "Tombstone"
    assert all(record["@context"] == f"{BASE}/contexts/opends-v1.0.0.jsonld"
               for record in found.values())


def test_an_all_versions_dump_has_every_version_with_its_provenance(service, out):
    populate(service)
    manifest = export(service.reader, service.index, BASE, out, DumpOptions(all_versions=True))
    found = lines(out, manifest)
    assert manifest["counts"]["records"] == len(found) == 5
    events = [record["@graph"][1] for record in found]
    assert {event["@type"] for event in events} == {"ods:CreateUpdateTombstoneEvent"}
    assert [event["prov:Activity"]["@type"] for event in events] == (
        ["ods:Create"] * 3 + ["ods:Update", "ods:Tombstone"])
    assert [record["@graph"][0]["ods:version"] for record in found] == [1, 1, 1, 2, 2]


def test_files_close_at_the_size_limit_and_filters_apply(service, tmp_path):
    kept, updated, gone = populate(service)
    manifest = export(service.reader, service.index, BASE, tmp_path / "split",
                      DumpOptions(all_versions=True, max_file_bytes=1))
    assert [item["records"] for item in manifest["files"]] == [1] * 5
    media = export(service.reader, service.index, BASE, tmp_path / "media",
                   DumpOptions(kind="digital-media"))
    assert media["counts"]["records"] == 0 and media["files"] == []
    since = str(gone.content["dcterms:modified"])
    recent = export(service.reader, service.index, BASE, tmp_path / "recent",
                    DumpOptions(all_versions=True, since=since))
    assert [record["@graph"][0]["@id"] for record in lines(tmp_path / "recent", recent)] == [
        f"{BASE}/{gone.pid}", f"{BASE}/{updated.pid}", f"{BASE}/{gone.pid}"]


def test_export_refuses_a_folder_that_is_not_empty(service, out):
    out.mkdir()
    (out / "something").write_text("x")
    with pytest.raises(DumpError, match="not empty"):
        export(service.reader, service.index, BASE, out, DumpOptions())


def test_published_dumps_are_listed_and_served_with_their_digests(service, config, make_app,
                                                                   out):
    populate(service)
    manifest = export(service.reader, service.index, BASE, out, DumpOptions())
    dump_id = publish(service.store, out)
    client = make_app(replace(config, feed_page_size=PAGE)).test_client()
    listing = client.get("/dumps/")
    assert listing.status_code == 200 and listing.content_type == "application/ld+json"
    [dataset] = listing.json["dataset"]
    assert dataset["@id"] == f"{BASE}/dumps/{dump_id}/" and dataset["feedPosition"] == 5
    assert dataset["followFeedAt"] == f"{BASE}/activity/page/1"
    download = dataset["distribution"][0]
    response = client.get(download["contentUrl"].removeprefix(BASE))
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    assert hashlib.sha256(response.data).hexdigest() == download["sha256"]
    assert download["contentSize"] == len(response.data) == manifest["files"][0]["bytes"]
    for path in (f"/dumps/{dump_id}/part-00009.ndjson.gz", f"/dumps/{dump_id}/../x",
                 "/dumps/nonsense/manifest.json"):
        missing = client.get(path)
        assert missing.status_code == 404, path
        assert missing.json["code"] in ("unknown_dump", "not_found")


def test_an_aggregator_loads_a_dump_then_follows_the_feed_exactly_once(service, config,
                                                                      make_app, out):
    client = make_app(replace(config, feed_page_size=PAGE)).test_client()
    records = [service.create(KIND, specimen(), AGENT) for _ in range(6)]
    stop = threading.Event()
    rounds = [0]

    def keep_writing() -> None:  # updates and creates, before, during and after the dump
        current = {record.pid: record for record in records}
        while not stop.is_set() and rounds[0] < 500:
            record = current[records[rounds[0] % len(records)].pid]
            prefix, suffix = record.pid.split("/")
            current[record.pid], _ = service.replace(
                KIND, prefix, suffix, {**record.content, "ods:specimenName": f"n{rounds[0]}"},
                record.digest, AGENT)
            service.create(KIND, specimen(), AGENT)
            rounds[0] += 1

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while rounds[0] < count and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        wait_for(1)
        manifest = export(service.reader, service.index, BASE, out, DumpOptions())
        wait_for(rounds[0] + 2)  # and more after it
    finally:
        stop.set()
        writer.join()
    state = {record["@id"]: record["ods:version"] for record in lines(out, manifest)}
    position = manifest["feedPosition"]
    url: str | None = f"/activity/page/{position // PAGE}"
    applied = 0
    while url:
        page = client.get(url.removeprefix(BASE)).json
        for item in page["orderedItems"]:
            if int(item["id"].rsplit("/", 1)[1]) <= position:
                continue
            pid_url, version = item["object"]["dcterms:isVersionOf"], int(
                item["object"]["id"].rsplit("/", 1)[1])
            assert version == state.get(pid_url, 0) + 1  # nothing missed, nothing repeated
            state[pid_url] = version
            applied += 1
        url = page.get("next", {}).get("id")
    assert applied == service.index.feed_length() - position > 0
    current = {f"{BASE}/{row.pid}": row.version for row in service.index.all_objects()}
    assert state == current


def test_the_export_command_writes_and_publishes(config, service, tmp_path):
    populate(service)
    result = fdo(config, "export", "--out", str(tmp_path / "dump"), "--all-versions",
                 "--publish")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["feedPosition"] == 5 and summary["counts"]["records"] == 5
    assert summary["published"]
    assert (tmp_path / "dump" / "manifest.json").exists()
    for args in (["--since", "yesterday"], ["--max-file-mb", "0"], ["--kind", "rocks"]):
        refused = fdo(config, "export", "--out", str(tmp_path / "other"), *args)
        assert refused.returncode == 2 and args[0] in refused.stderr
