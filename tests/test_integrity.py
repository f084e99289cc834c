"""S3 is the source of truth: rebuild-index, verify and crash consistency, through real parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from repository.access import trusted
from repository.config import Config
from repository.decisions import Decision, Decisions
from repository.integrity import rebuild_index, reconcile, verify
from repository.provenance import Agent
from repository.services import FDOService
from storage.versions import KEY_ROOT, version_key
from tests.conftest import ROOT
from tests.records import annotation, media, specimen

pytestmark = pytest.mark.s3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))


def populate(fdo: FDOService) -> None:
    """A small repository with every kind, updates and a tombstone."""
    first = fdo.create("digital-specimens", specimen(), AGENT)
    second = fdo.create("digital-specimens", specimen(), AGENT)
    fdo.create("digital-media", media(), AGENT)
    fdo.create("annotations", annotation(first.content["@id"]), AGENT)
    prefix, suffix = first.pid.split("/")
    current = first
    for name in ("Bombus lucorum", "Bombus sp."):
        current, _ = fdo.replace("digital-specimens", prefix, suffix,
                                 {**current.content, "ods:specimenName": name},
                                 current.digest, AGENT)
    prefix, suffix = second.pid.split("/")
    fdo.tombstone("digital-specimens", prefix, suffix, "duplicate", None, None, AGENT)
    # a proposed change, approved: an annotation's decision and the version it made
    selector = {"@type": "ods:TermSelector", "ods:term": "$['ods:specimenName']"}
    proposal = fdo.create("annotations", {
        "oa:motivation": "oa:editing",
        "oa:hasTarget": {"@id": current.content["@id"], "oa:hasSelector": selector},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Bombus terrestris"]}}, AGENT)
    decisions = Decisions(fdo.index, fdo.reader, fdo.writes, fdo.base_url)
    decisions.decide(proposal.pid, Decision("Approved", "", False, False), "*", AGENT)


def snapshot(fdo: FDOService) -> tuple[list[dict], list[dict], list[tuple[str, str, str]],
                                       list[tuple[str, ...]]]:
    # linked_modified only keys the resolver's caches: a rebuild replays versions object by
    # object, not in time order, so it stamps differently (documented). `recorded` is when
    # the index took a version in; a rebuild has only the version's own time (documented,
    # and checked below to keep its order). All else must match.
    objects = [{k: v for k, v in vars(row).items()
                if not k.startswith("_") and k != "linked_modified"}
               for row in fdo.index.all_objects()]
    versions = [{k: v for k, v in vars(row).items() if not k.startswith("_") and k != "recorded"}
                for row in fdo.index.all_versions()]
    return objects, versions, fdo.index.all_links(), fdo.index.annotations.all_rows()


def test_rebuild_index_from_s3_alone_equals_the_lost_index(service):
    populate(service)
    before = snapshot(service)
    assert len(before[0]) == 5 and len(before[1]) == 10
    assert [relation for _, relation, _ in before[2]] == ["hasTarget"] * 2  # the annotations
    assert sorted(row[3] or "" for row in before[3]) == ["", "Approved"]
    report = rebuild_index(service)
    assert report.problems == [] and report.adopted == 10
    assert snapshot(service) == before
    in_feed_order = sorted(service.index.all_versions(), key=lambda row: row.sequence)
    assert [row.recorded for row in in_feed_order] == [row.created for row in in_feed_order]
    assert [row.recorded for row in in_feed_order] == sorted(row.created for row in in_feed_order)


def test_verify_passes_then_names_the_one_altered_version(service):
    populate(service)
    clean = verify(service.reader)
    assert clean.problems == [] and clean.checked == 10

    victim = next(row for row in service.index.all_versions() if row.version == 3)
    key = version_key(victim.pid, 2)
    client = service.store.client  # type: ignore[attr-defined]
    bucket = service.store.bucket  # type: ignore[attr-defined]
    body = bytearray(service.store.get(key))
    position = body.index(b"Bombus lucorum") + 1
    body[position] = ord("X")  # one byte, the JSON stays valid
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    report = verify(service.reader)
    assert len(report.problems) == 2  # its own digest, and the chain to version 3
    assert f"{victim.pid} version 2" in report.problems[0]
    assert "digest mismatch" in report.problems[0]
    assert f"{victim.pid} version 3" in report.problems[1] and "chain" in report.problems[1]


def test_verify_command_exits_non_zero_on_tampering(service, config):
    populate(service)
    env = {**os.environ, **config.to_environment()}
    command = [sys.executable, "-m", "repository.cli", "verify"]
    ok = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    key = next(service.store.keys(KEY_ROOT))
    body = bytearray(service.store.get(key))
    position = body.index(b'"dcterms:modified":"') + len(b'"dcterms:modified":"')
    body[position] ^= 0x01  # one bit of one byte; still valid JSON
    service.store.client.put_object(  # type: ignore[attr-defined]
        Bucket=config.s3_bucket, Key=key, Body=bytes(body))
    bad = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1
    first = bad.stdout.splitlines()[0]  # the altered version; a chain link may follow
    assert key in first and "digest mismatch" in first


CRASHING_WRITER = """
import json, os, sys
from repository import build_service
from repository.config import Config
from repository.access import trusted
from repository.provenance import Agent
fdo = build_service(Config.from_environment())
def crash(entry):  # the process dies after the S3 put, before the index commit
    os._exit(137)
fdo.index.record_version = crash
job = json.loads(sys.argv[1])
agent = trusted(Agent(**job["agent"]))
if job["op"] == "create":
    fdo.create("digital-specimens", job["document"], agent)
else:
    prefix, suffix = job["pid"].split("/")
    fdo.replace("digital-specimens", prefix, suffix, job["document"], job["etag"], agent)
"""


def run_crashing_writer(config: Config, job: dict) -> None:
    env = {**os.environ, **config.to_environment()}
    job = {**job, "agent": asdict(AGENT.agent)}
    result = subprocess.run([sys.executable, "-c", CRASHING_WRITER, json.dumps(job)],
                            env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 137, result.stderr


def test_a_crash_between_s3_and_index_is_adopted_on_retry(service, config):
    created = service.create("digital-specimens", specimen(), AGENT)
    changed = {**created.content, "ods:specimenName": "Bombus lucorum"}
    job = {"op": "replace", "pid": created.pid, "document": changed, "etag": created.digest}
    run_crashing_writer(config, job)
    assert service.index.current(created.pid).version == 1  # S3 has v2, the index does not

    prefix, suffix = created.pid.split("/")
    retried, _ = service.replace("digital-specimens", prefix, suffix, changed, created.digest,
                                 AGENT)
    assert retried.version == 2
    assert [row.version for row in service.index.versions(created.pid)] == [1, 2]
    keys = list(service.store.keys(f"{KEY_ROOT}{created.pid}/"))
    assert keys == [version_key(created.pid, 1), version_key(created.pid, 2)]
    before = snapshot(service)
    rebuild_index(service)
    assert snapshot(service) == before


def test_a_crash_loses_nothing_when_another_writer_comes_first(service, config):
    created = service.create("digital-specimens", specimen(), AGENT)
    crashed = {**created.content, "ods:specimenName": "from the crashed writer"}
    run_crashing_writer(config, {"op": "replace", "pid": created.pid, "document": crashed,
                                 "etag": created.digest})
    prefix, suffix = created.pid.split("/")
    other = {**created.content, "ods:specimenName": "from another writer"}
    with pytest.raises(Exception) as refused:
        service.replace("digital-specimens", prefix, suffix, other, created.digest, AGENT)
    assert type(refused.value).__name__ == "PreconditionFailed"
    assert service.latest("digital-specimens", prefix, suffix).content["ods:specimenName"] == \
        "from the crashed writer"


def test_reconcile_adopts_a_create_that_crashed(service, config):
    record = specimen()
    run_crashing_writer(config, {"op": "create", "document": record})
    assert service.index.object_count() == 0
    report = reconcile(service)
    assert report.adopted == 1 and report.problems == []
    row = next(service.index.all_objects())
    assert row.version == 1 and row.physical_id.startswith(record["ods:physicalSpecimenID"])


def test_a_minted_pid_that_exists_is_never_overwritten(service, monkeypatch):
    first = service.create("digital-media", media(), AGENT)
    suffixes = iter([first.pid.split("/")[1], "ZZZ-ZZZ-ZZ1"])
    monkeypatch.setattr("repository.services.mint_suffix", lambda: next(suffixes))
    second = service.create("digital-media", media(), AGENT)
    assert second.pid.endswith("/ZZZ-ZZZ-ZZ1")
    prefix, suffix = first.pid.split("/")
    assert service.latest("digital-media", prefix, suffix).digest == first.digest
    assert verify(service.reader).problems == []


def test_a_create_that_crashed_is_adopted_when_it_is_sent_again(service, config):
    """Its PID is derived from its physical ID, so sending it again meets the version the
    crash left in S3: indexed then, and named as the specimen's (409), not duplicated."""
    record = specimen()
    run_crashing_writer(config, {"op": "create", "document": record})
    assert service.index.object_count() == 0
    with pytest.raises(Exception) as refused:
        service.create("digital-specimens", {**record, "ods:specimenName": "again"}, AGENT)
    assert type(refused.value).__name__ == "DuplicateSpecimen"
    (key,) = service.store.keys(KEY_ROOT)
    row = next(service.index.all_objects())
    assert key == version_key(row.pid, 1) and refused.value.extra["existing"].endswith(row.pid)
    assert rebuild_index(service).problems == []


def test_a_physical_specimen_digitised_again_after_a_tombstone_rebuilds_without_problems(
        service):
    """The tombstoned specimen's version 1 claimed the physical ID too; a rebuild replays
    PIDs in key order, so for about half of these the new specimen comes first."""
    for _ in range(8):
        record = specimen()
        first = service.create("digital-specimens", record, AGENT)
        prefix, suffix = first.pid.split("/")
        service.tombstone("digital-specimens", prefix, suffix, "re-digitised", None, None,
                          AGENT)
        service.create("digital-specimens", record, AGENT)
    before = snapshot(service)
    report = rebuild_index(service)
    assert report.problems == [] and report.adopted == 24
    assert snapshot(service) == before
