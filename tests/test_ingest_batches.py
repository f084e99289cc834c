"""Ingest in batches, over real S3 and a real index (SQLite and PostgreSQL): records
spread over many batches (small ones here), an unchanged re-check that reads nothing
from S3, a run interrupted between S3 and the index (in-process, and a real process
killed), derived PIDs that turn out taken, and media rows that left the dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from repository.access import trusted
from repository.ingest import run as ingest_run
from repository.ingest.dwca import Archive
from repository.ingest.report import CREATED, MISSING, TOMBSTONED, UNCHANGED, UPDATED
from repository.provenance import Agent
from repository.records import TOMBSTONE, client_part
from resolver.pids import find_pid
from storage.versions import KEY_ROOT, VersionRecord
from tests.source_systems import source_system
from tests.test_ingest import NATURALIS, ROOT, run, source

pytestmark = pytest.mark.s3
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Someone", role="curator"))
MEDIA_TYPE = "http://rs.gbif.org/terms/1.0/Multimedia"
META = (
    '<archive xmlns="http://rs.tdwg.org/dwc/text/">'
    '<core fieldsTerminatedBy="\\t" ignoreHeaderLines="1" '
    'rowType="http://rs.tdwg.org/dwc/terms/Occurrence"><files><location>occ.txt</location>'
    '</files><id index="0"/>'
    '<field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/>'
    '<field index="2" term="http://rs.tdwg.org/dwc/terms/basisOfRecord"/>'
    '<field index="3" term="http://rs.tdwg.org/dwc/terms/scientificName"/>'
    '<field index="4" term="http://rs.tdwg.org/dwc/terms/locality"/></core>'
    f'<extension fieldsTerminatedBy="\\t" ignoreHeaderLines="1" rowType="{MEDIA_TYPE}">'
    '<files><location>media.txt</location></files><coreid index="0"/>'
    '<field index="1" term="http://purl.org/dc/terms/identifier"/>'
    '<field index="2" term="http://purl.org/dc/terms/type"/></extension></archive>')


def dataset(path: Path, count: int, locality: str = "Leiden",
            media: dict[int, int] | None = None) -> Path:
    """`count` specimens; record n has `media[n]` images (default: every third has 2)."""
    media = media if media is not None else {n: 2 for n in range(0, count, 3)}
    occurrences = ["id\tcatalogNumber\tbasisOfRecord\tscientificName\tlocality"]
    occurrences += [f"r{n}\tRMNH.INS.{n}\tPreservedSpecimen\tBombus terrestris\t{locality}"
                    for n in range(count)]
    images = ["coreid\tidentifier\ttype"]
    images += [f"r{n}\thttps://img.example.org/{n}/{k}.jpg\tStillImage"
               for n, k_count in media.items() for k in range(k_count)]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", META)
        zipped.writestr("occ.txt", "\n".join(occurrences) + "\n")
        zipped.writestr("media.txt", "\n".join(images) + "\n")
    return path


def ingest(service, path: Path, **options):
    with Archive(path) as opened:
        return run(service, opened, source(service), **options)


# Counts of what the ingest wrote: the source system's own version 1 left out.
def stored_versions(service) -> int:
    system = f"{KEY_ROOT}{source_system(service).pid}/"
    return sum(1 for key in service.store.keys(KEY_ROOT) if not key.startswith(system))


def indexed_versions(service) -> int:
    system = source_system(service).pid
    return sum(1 for row in service.index.all_versions() if row.pid != system)


def ingested_objects(service) -> int:
    return service.index.object_count() - 1


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(ingest_run, "BATCH", 7)


def test_many_batches_ingest_once_and_an_unchanged_re_check_reads_nothing(
        service, tmp_path, small_batches, monkeypatch):
    path = dataset(tmp_path / "d.zip", 50)  # 8 batches; 17 records with 2 images each
    report, rejected = ingest(service, path)
    assert rejected == [] and report.counts == {CREATED: 50} and report.media == {CREATED: 34}
    # One version per object: a new specimen is written with its media links at once.
    assert indexed_versions(service) == stored_versions(service) == 84
    assert ingested_objects(service) == 84
    specimen = service.index.pid_for_physical_id(
        f"RMNH.INS.3:{source(service).system_id.rsplit('/', 1)[-1]}")
    content = service.latest("digital-specimens", *specimen.split("/")).content
    linked = {find_pid(relation["dwc:relatedResourceID"])
              for relation in content["ods:hasEntityRelationships"]}
    assert linked == {row.pid for _, row in service.index.linked(specimen, incoming_only=True)}
    assert len(linked) == 2

    reads = Counter()
    get = service.store.get
    monkeypatch.setattr(service.store, "get", lambda key: reads.update([key]) or get(key))
    again, _ = ingest(service, path)
    assert again.counts == {UNCHANGED: 50} and again.media == {UNCHANGED: 34}
    assert reads == Counter()  # the index's client digests say "unchanged"
    assert indexed_versions(service) == 84

    edited, _ = ingest(service, dataset(tmp_path / "e.zip", 50, locality="Delft"))
    assert edited.counts == {UPDATED: 50} and edited.media == {UNCHANGED: 34}
    assert len(reads) == 50  # each changed specimen's current version, read once
    assert indexed_versions(service) == stored_versions(service) == 134


def test_an_ingest_interrupted_between_s3_and_the_index_resumes_without_duplicates(
        service, tmp_path, small_batches, monkeypatch):
    path = dataset(tmp_path / "d.zip", 30)
    record_versions = service.index.record_versions
    calls = Counter()

    def interrupted(entries):
        calls["batch"] += 1
        if calls["batch"] == 3:  # the third batch is in S3, and the process dies
            raise KeyboardInterrupt
        return record_versions(entries)

    monkeypatch.setattr(service.index, "record_versions", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest(service, path)
    assert stored_versions(service) > indexed_versions(service) > 0
    monkeypatch.setattr(service.index, "record_versions", record_versions)

    report, rejected = ingest(service, path)
    assert rejected == []
    assert report.counts[CREATED] + report.counts[UNCHANGED] == 30
    assert report.counts[UNCHANGED] == 14  # the two batches indexed before the interruption
    assert indexed_versions(service) == stored_versions(service) == 50  # nothing left over
    assert ingested_objects(service) == 50
    again, _ = ingest(service, path)
    assert again.counts == {UNCHANGED: 30}


def test_an_orphan_of_an_interrupted_run_is_adopted_even_when_the_record_changed(
        service, tmp_path, small_batches, monkeypatch):
    monkeypatch.setattr(service.index, "record_versions", lambda entries: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ingest(service, dataset(tmp_path / "d.zip", 5, media={}))
    assert indexed_versions(service) == 0 and stored_versions(service) == 5
    monkeypatch.undo()
    monkeypatch.setattr(ingest_run, "BATCH", 7)

    report, _ = ingest(service, dataset(tmp_path / "e.zip", 5, locality="Delft", media={}))
    assert report.counts == {UPDATED: 5}  # the orphans, indexed, then their update
    assert indexed_versions(service) == stored_versions(service) == 10
    assert ingested_objects(service) == 5


def test_a_real_process_killed_mid_ingest_is_resumed_by_running_it_again(config, service,
                                                                        tmp_path):
    path = dataset(tmp_path / "d.zip", 3000, media={})
    environment = {**os.environ, **config.to_environment()}
    command = [sys.executable, "-m", "repository.cli", "ingest", "dwca", str(path),
               "--source-system", source(service).system_id, "--license", "CC0"]
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while service.index.feed_length() < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    written = service.index.feed_length() - 1  # the source system's version left out
    assert 400 <= written < 3000  # killed part-way through

    finished = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True,
                              check=True, timeout=300)
    counts = json.loads(finished.stdout)["counts"]
    assert counts[CREATED] + counts[UNCHANGED] == 3000 and counts[UNCHANGED] >= written
    assert indexed_versions(service) == stored_versions(service) == 3000
    assert ingested_objects(service) == 3000


def test_a_derived_pid_that_is_taken_is_drawn_again(service, tmp_path, small_batches):
    path = dataset(tmp_path / "d.zip", 3, media={})
    first, _ = ingest(service, path)
    (pid,) = [row.pid for row in service.index.all_objects()
              if row.physical_id and row.physical_id.startswith("RMNH.INS.1:")]
    gone, _ = ingest(service, dataset(tmp_path / "e.zip", 1, media={}), tombstone_missing=True,
                     force=True)
    assert gone.counts == {UNCHANGED: 1, TOMBSTONED: 2}
    assert service.index.current(pid).status == TOMBSTONE
    back, _ = ingest(service, path)  # RMNH.INS.1 again: its first derived PID is taken
    assert back.counts == {UNCHANGED: 1, CREATED: 2}
    (again,) = [row.pid for row in service.index.all_objects()
                if row.physical_id and row.physical_id.startswith("RMNH.INS.1:")]
    assert again != pid

    # A version 1 in S3 that the index lacks and that is another object's: drawn again.
    with ingest_run._Run(service, source(service), False, False, False, 0.2) as runner:
        taken = runner.planner.derived("digital-specimens", 0, "RMNH.INS.9:" + runner.source
                                .system_id.rsplit("/", 1)[-1])
    stranger = service.writes.draft("digital-specimens", taken, {
        "ods:physicalSpecimenID": "OTHER", "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": NATURALIS, "ods:normalisedPhysicalSpecimenID": "OTHER:x"},
        CURATOR.agent)
    service.store.create(stranger.key, stranger.to_bytes())
    nine, rejected = ingest(service, dataset(tmp_path / "f.zip", 10, media={}))
    assert rejected == [] and nine.counts == {CREATED: 7, UNCHANGED: 3}
    holder = service.index.pid_for_physical_id(
        f"RMNH.INS.9:{source(service).system_id.rsplit('/', 1)[-1]}")
    assert holder is not None and holder != taken
    assert service.index.current(taken) is None  # the stranger stays unindexed, untouched
    assert VersionRecord.from_bytes(service.store.get(stranger.key)) == stranger


def test_media_rows_that_left_the_dataset_are_reported_or_tombstoned(service, tmp_path):
    first, _ = ingest(service, dataset(tmp_path / "d.zip", 2, media={0: 3}))
    assert first.media == {CREATED: 3}
    specimen = service.index.pid_for_physical_id(
        f"RMNH.INS.0:{source(service).system_id.rsplit('/', 1)[-1]}")

    dry, _ = ingest(service, dataset(tmp_path / "e.zip", 2, media={0: 1}), dry_run=True)
    assert (dry.counts, dry.media) == ({UPDATED: 1, UNCHANGED: 1}, {UNCHANGED: 1, MISSING: 2})

    fewer, _ = ingest(service, dataset(tmp_path / "e.zip", 2, media={0: 1}))
    assert (fewer.counts, fewer.media) == ({UPDATED: 1, UNCHANGED: 1},
                                           {UNCHANGED: 1, MISSING: 2})
    content = service.latest("digital-specimens", *specimen.split("/")).content
    assert len(content["ods:hasEntityRelationships"]) == 1  # the specimen links one now
    live = [row for _, row in service.index.linked(specimen, incoming_only=True)]
    assert len(live) == 3  # without --tombstone-missing the two others stay, unlinked

    ingest(service, dataset(tmp_path / "g.zip", 2, media={0: 3}))  # back to three
    gone, _ = ingest(service, dataset(tmp_path / "h.zip", 2, media={0: 1}),
                     tombstone_missing=True)
    assert gone.media == {UNCHANGED: 1, MISSING: 2}
    live = [row for _, row in service.index.linked(specimen, incoming_only=True)]
    assert len(live) == 1  # the two others tombstoned: their links are gone


def test_a_specimen_changed_meanwhile_is_put_off_to_the_next_batch_and_then_updated(
        service, tmp_path, small_batches, monkeypatch):
    ingest(service, dataset(tmp_path / "d.zip", 10, media={}))
    target = service.index.pid_for_physical_id(
        f"RMNH.INS.4:{source(service).system_id.rsplit('/', 1)[-1]}")
    draft = service.writes.draft
    raced = []

    def racing_draft(kind, pid, client, agent, current=None, **options):
        # A curator saves an edit just before the ingest (whose own write drafts too).
        if pid == target and not raced and agent != CURATOR.agent:
            edited = {**client_part(current.content), "dwc:preparations": "skin"}
            raced.append(service.replace("digital-specimens", *pid.split("/"), edited, "*",
                                         CURATOR)[0].version)
        return draft(kind, pid, client, agent, current, **options)

    monkeypatch.setattr(service.writes, "draft", racing_draft)
    report, rejected = ingest(service, dataset(tmp_path / "e.zip", 10, locality="Delft",
                                               media={}))
    assert rejected == [] and report.counts == {UPDATED: 10}
    assert raced == [2]
    versions = service.index.versions(target)
    assert [(row.version, row.agent_id) for row in versions] == [
        (1, source(service).system_id), (2, CURATOR.agent.id), (3, source(service).system_id)]
    latest = service.latest("digital-specimens", *target.split("/"))
    assert latest.previous_digest == versions[1].digest  # the chain runs through the edit
    activity = latest.provenance["prov:Activity"]
    assert {"op": "remove", "path": "/dwc:preparations"} in activity["ods:changeValue"]
    assert indexed_versions(service) == stored_versions(service) == 21


def test_a_media_row_that_comes_back_after_its_object_was_tombstoned_gets_a_new_object(
        service, tmp_path):
    ingest(service, dataset(tmp_path / "d.zip", 1, media={0: 2}))
    specimen = service.index.pid_for_physical_id(
        f"RMNH.INS.0:{source(service).system_id.rsplit('/', 1)[-1]}")
    before = {row.pid for _, row in service.index.linked(specimen, incoming_only=True)}
    gone, _ = ingest(service, dataset(tmp_path / "e.zip", 1, media={0: 1}),
                     tombstone_missing=True)
    assert gone.media == {UNCHANGED: 1, MISSING: 1}
    (tombstoned,) = [pid for pid in before if service.index.current(pid).status == TOMBSTONE]
    back, rejected = ingest(service, dataset(tmp_path / "f.zip", 1, media={0: 2}))
    assert rejected == [] and back.media == {UNCHANGED: 1, CREATED: 1}
    after = {row.pid for _, row in service.index.linked(specimen, incoming_only=True)}
    assert len(after) == 2 and tombstoned not in after  # a new object, the tombstone kept
    assert service.index.current(tombstoned).version == 2  # never changed again
    content = service.latest("digital-specimens", *specimen.split("/")).content
    assert {find_pid(link["dwc:relatedResourceID"])
            for link in content["ods:hasEntityRelationships"]} == after
