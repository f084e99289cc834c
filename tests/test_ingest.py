"""Ingesting Darwin Core Archives through the service, over real S3 and a real index
(SQLite and PostgreSQL): created, then unchanged on a re-run (no versions), then exactly
one version with exactly the changed fields; bad records reported, never stopping the
rest; the CLI."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from repository import cli
from repository.ingest import mapping
from repository.ingest.dwca import Archive, ArchiveError
from repository.ingest.report import (
    CREATED,
    MISSING,
    PID_ONLY,
    REJECTED,
    TOMBSTONED,
    UNCHANGED,
    UPDATED,
    Listing,
    Outcome,
)
from repository.ingest.run import run as run_ingest
from repository.records import client_part
from resolver.pids import find_pid
from tests.material import files
from tests.source_systems import NATURALIS, source_system

pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parents[1]
OCCURRENCE = "http://rs.tdwg.org/dwc/terms/Occurrence"
DWC = "http://rs.tdwg.org/dwc/terms/"
DCTERMS = "http://purl.org/dc/terms/"
COLUMNS = ("catalogNumber", "basisOfRecord", "scientificName", "locality", "decimalLatitude",
           "modified")
META = ('<archive xmlns="http://rs.tdwg.org/dwc/text/"><core fieldsTerminatedBy="," '
        f'ignoreHeaderLines="1" rowType="{OCCURRENCE}"><files><location>occ.csv</location>'
        '</files><id index="0"/>'
        + "".join(f'<field index="{n}" term="{DCTERMS if name == "modified" else DWC}{name}"/>'
                  for n, name in enumerate(COLUMNS, start=1))
        + "</core></archive>")
ROWS = [("r1", "RMNH.INS.1", "PreservedSpecimen", "Bombus terrestris", "Leiden", "52.1",
         "2020-01-01"),
        ("r2", "RMNH.INS.2", "PreservedSpecimen", "Apis mellifera", "Delft", "52.0",
         "2020-01-01"),
        ("r3", "RMNH.INS.3", "PreservedSpecimen", "Parus major", "Gouda", "52.0",
         "2020-01-01")]


def archive(path: Path, rows: list[tuple[str, ...]]) -> Path:
    lines = ["id," + ",".join(COLUMNS)] + [",".join(row) for row in rows]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", META)
        zipped.writestr("occ.csv", "\n".join(lines) + "\n")
    return path


def run(service, dataset, source: mapping.Source, **options):
    """The run's report and what it lists one by one (rejected, PID-only and missing)."""
    with Listing() as listing:
        return run_ingest(service, dataset, source, listing, **options), list(listing)


def source(service) -> mapping.Source:
    return source_system(service).ingest_source(None)


def ingest(service, path: Path, dry_run: bool = False):
    with Archive(path) as opened:
        return run(service, opened, source(service), dry_run=dry_run)


def test_a_re_run_changes_nothing_and_an_edit_makes_one_version(service, tmp_path):
    first, rejected = ingest(service, archive(tmp_path / "v1.zip", ROWS))
    assert rejected == [] and first.counts == {CREATED: 3}
    length = service.index.feed_length()

    again, _ = ingest(service, archive(tmp_path / "v1b.zip", ROWS))
    assert again.counts == {UNCHANGED: 3}
    assert service.index.feed_length() == length  # no version anywhere

    edited = [ROWS[0], (*ROWS[1][:4], "Rotterdam", *ROWS[1][5:6], "2024-05-05"), ROWS[2]]
    # The source's own timestamp (dcterms:modified) changed on the third row only:
    edited[2] = (*ROWS[2][:6], "2025-01-01")
    third, _ = ingest(service, archive(tmp_path / "v2.zip", edited))
    assert third.counts == {UPDATED: 1, UNCHANGED: 2}
    assert service.index.feed_length() == length + 1
    pid = service.index.pid_for_physical_id(
        f"RMNH.INS.2:{source(service).system_id.rsplit('/', 1)[-1]}")
    (latest,) = [row for row in service.index.versions(pid) if row.version == 2]
    prefix, suffix = pid.split("/")
    record = service.version("digital-specimens", prefix, suffix, 2)
    activity = record.provenance["prov:Activity"]
    assert activity["@type"] == "ods:Update"
    assert activity["ods:changeValue"] == [
        {"op": "replace", "path": "/ods:hasEvents/0/ods:hasLocation/dwc:locality",
         "value": "Rotterdam"}]
    assert latest.agent_id == source(service).system_id
    assert latest.agent_type == "schema:SoftwareApplication"


@pytest.mark.parametrize("sample", files("samples/dwca", "*.zip"))
def test_the_real_samples_ingest_and_re_ingest_unchanged(service, sample):
    first, rejected = ingest(service, sample)
    assert rejected == [] and first.counts[CREATED] > 0 and set(first.counts) == {CREATED}
    length = service.index.feed_length()
    again, _ = ingest(service, sample)
    assert again.counts == {UNCHANGED: first.counts[CREATED]}
    assert REJECTED not in first.media  # the Naturalis sample has an image per record
    assert again.media == ({UNCHANGED: first.media[CREATED]} if first.media else {})
    assert service.index.feed_length() == length


MEDIA_META = META.replace("</core></archive>", (
    '</core><extension fieldsTerminatedBy="," ignoreHeaderLines="1" '
    'rowType="http://rs.tdwg.org/ac/terms/Multimedia"><files><location>media.csv</location>'
    '</files><coreid index="0"/><field index="1" term="http://rs.tdwg.org/ac/terms/accessURI"/>'
    '<field index="2" term="http://purl.org/dc/elements/1.1/type"/>'
    '<field index="3" term="http://purl.org/dc/terms/format"/></extension></archive>'))


def media_archive(path: Path, media_rows: list[str]) -> Path:
    lines = ["id," + ",".join(COLUMNS)] + [",".join(row) for row in ROWS[:2]]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", MEDIA_META)
        zipped.writestr("occ.csv", "\n".join(lines) + "\n")
        zipped.writestr("media.csv", "\n".join(["coreid,accessURI,type,format", *media_rows]))
    return path


def test_media_rows_become_media_objects_linked_both_ways(service, tmp_path):
    rows = ["r1,https://img.example.org/1a.jpg,StillImage,image/jpeg",
            "r1,https://img.example.org/1b.jpg,http://purl.org/dc/dcmitype/StillImage,image/png",
            "r2,https://img.example.org/2a.tif,StillImage,image/tiff"]
    first, rejected = ingest(service, media_archive(tmp_path / "m1.zip", rows))
    assert rejected == [] and first.counts == {CREATED: 2} and first.media == {CREATED: 3}
    r1 = service.index.pid_for_physical_id(
        f"RMNH.INS.1:{source(service).system_id.rsplit('/', 1)[-1]}")
    prefix, suffix = r1.split("/")
    specimen = service.latest("digital-specimens", prefix, suffix).content
    assert specimen["ods:isKnownToContainMedia"] is True
    media_urls = [relation["dwc:relatedResourceID"]
                  for relation in specimen["ods:hasEntityRelationships"]]
    linked = {row.pid for relation, row in service.index.linked(r1, incoming_only=True)
              if relation == "hasDigitalSpecimen"}
    assert {find_pid(url) for url in media_urls} == linked and len(linked) == 2
    for pid in linked:
        content = service.latest("digital-media", *pid.split("/")).content
        assert content["dcterms:type"] == "StillImage"
        assert content["ods:hasEntityRelationships"][0]["dwc:relatedResourceID"] == (
            f"{service.base_url}/{r1}")
    length = service.index.feed_length()

    again, _ = ingest(service, media_archive(tmp_path / "m1b.zip", rows))
    assert (again.counts, again.media) == ({UNCHANGED: 2}, {UNCHANGED: 3})
    assert service.index.feed_length() == length

    rows[2] = "r2,https://img.example.org/2a.tif,StillImage,image/x-tiff"
    third, _ = ingest(service, media_archive(tmp_path / "m2.zip", rows))
    assert (third.counts, third.media) == ({UNCHANGED: 2}, {UNCHANGED: 2, UPDATED: 1})
    assert service.index.feed_length() == length + 1  # the media object only

    rows.append("r2,,StillImage,image/jpeg")  # no access URI: the row is reported
    fourth, _ = ingest(service, media_archive(tmp_path / "m3.zip", rows))
    assert (fourth.counts, fourth.media) == ({UNCHANGED: 2}, {UNCHANGED: 3, REJECTED: 1})
    assert fourth.warnings == {"media-without-access-uri": 1}


def test_bad_records_are_reported_and_the_rest_ingested(service, tmp_path):
    rows = [ROWS[0],
            ("r2", "", "PreservedSpecimen", "Apis mellifera", "Delft", "52.0", "2020-01-01"),
            ("r3", "RMNH.INS.3", "PreservedSpecimen", "Parus major", "Gouda", "north",
             "2020-01-01"),
            ("r4", "RMNH.INS.4", "PreservedSpecimen", "Parus major", "Go\u0007uda", "52.0",
             "2020-01-01"),
            ("r5", "RMNH.INS.1", "PreservedSpecimen", "Bombus lucorum", "Leiden", "52.1",
             "2020-01-01"),
            ("r6", "RMNH.INS.6", "Pressed", "Quercus robur", "Ede", "52.0", "2020-01-01")]
    report, rejected = ingest(service, archive(tmp_path / "bad.zip", rows))
    assert report.counts == {CREATED: 2, REJECTED: 4}
    assert report.warnings == {"unknown-basis-of-record": 1}  # r6: ingested, with a warning
    found = {outcome.row_id: (outcome.code, outcome.line, [problem["path"] for problem
                                                           in outcome.problems])
             for outcome in rejected}
    assert found == {
        "r2": ("missing-physical-id", 3, [""]),
        "r3": ("bad-coordinates", 4, ["/dwc:decimalLatitude"]),
        "r4": ("schema", 5, ["/ods:hasEvents/0/ods:hasLocation/dwc:locality"]),
        "r5": ("duplicate-physical-id", 6, ["/ods:physicalSpecimenID"]),
    }


def test_a_dry_run_says_what_would_happen_and_writes_nothing(service, tmp_path):
    ingest(service, archive(tmp_path / "v1.zip", ROWS[:2]))
    length = service.index.feed_length()
    edited = [ROWS[0], (*ROWS[1][:4], "Rotterdam", *ROWS[1][5:]), ROWS[2]]
    report, _ = ingest(service, archive(tmp_path / "v2.zip", edited), dry_run=True)
    assert report.counts == {UNCHANGED: 1, UPDATED: 1, CREATED: 1}
    assert service.index.feed_length() == length


def test_the_cli_ingests_and_reports(service, config, tmp_path, monkeypatch, capsys):
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    path = archive(tmp_path / "v1.zip", ROWS)
    arguments = ["ingest", "dwca", str(path), "--source-system", source_system(service).pid,
                 "--organisation", NATURALIS, "--license", "CC-BY-4.0"]
    assert cli.main(arguments) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {
        CREATED: 3, UPDATED: 0, UNCHANGED: 0, PID_ONLY: 0, REJECTED: 0, MISSING: 0,
        TOMBSTONED: 0}
    assert cli.main(arguments) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["counts"][UNCHANGED] == 3
    assert printed.err.strip() == "Test CMS: 3 unchanged"
    not_an_archive = tmp_path / "x.csv"
    not_an_archive.write_text("id\n")
    system = source_system(service).pid_url
    assert cli.main(["ingest", "dwca", str(not_an_archive), "--source-system", system]) == 2
    assert "neither a zip file nor a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["ingest", "dwca", str(path), "--source-system", system,
                  "--organisation", "Naturalis"])


def test_records_under_other_licences_get_a_pid_record_only(service, tmp_path):
    closed = mapping.Source(source(service).system_id, "Test CMS", NATURALIS, "CC BY-NC 4.0")
    rows = ["r1,https://img.example.org/1a.jpg,StillImage,image/jpeg"]
    with Archive(media_archive(tmp_path / "closed.zip", rows)) as opened:
        report, _ = run(service, opened, closed)
    assert report.counts == {PID_ONLY: 2} and report.media == {}
    pid = service.index.pid_for_physical_id(
        f"RMNH.INS.1:{closed.system_id.rsplit('/', 1)[-1]}")
    content = service.latest("digital-specimens", *pid.split("/")).content
    assert set(client_part(content)) <= {
        *mapping.PID_RECORD_TERMS, "ods:normalisedPhysicalSpecimenID"}
    assert "ods:hasEvents" not in content and content["dcterms:license"] == "CC BY-NC 4.0"
    # Relicensed under CC BY: the same specimen gets its content and its media.
    report, _ = ingest(service, media_archive(tmp_path / "open.zip", rows))
    assert report.counts == {UPDATED: 2} and report.media == {CREATED: 1}
    assert service.latest("digital-specimens", *pid.split("/")).content["ods:hasEvents"]


@pytest.mark.parametrize(("licence", "full"), [
    ("https://creativecommons.org/publicdomain/zero/1.0/", True), ("CC0 1.0", True),
    ("CC BY 4.0", True), ("http://creativecommons.org/licenses/by/3.0/", True),
    ("https://creativecommons.org/publicdomain/mark/1.0/", True), ("Public domain", True),
    ("CC BY-NC 4.0", False), ("https://creativecommons.org/licenses/by-sa/4.0/", False),
    ("All rights reserved", False), (None, False),
])
def test_which_licences_allow_a_full_specimen(licence, full):
    assert mapping.open_licence(licence) is full


def test_specimens_the_dataset_no_longer_has_are_reported_or_tombstoned(service, tmp_path):
    ingest(service, archive(tmp_path / "v1.zip", ROWS))
    scope = source(service).system_id.rsplit("/", 1)[-1]
    gone = service.index.pid_for_physical_id(f"RMNH.INS.3:{scope}")
    report, kept = ingest(service, archive(tmp_path / "v2.zip", ROWS[:2]))
    assert report.counts == {UNCHANGED: 2, MISSING: 1}
    assert [(outcome.status, outcome.pid) for outcome in kept] == [(MISSING, gone)]
    assert service.index.current(gone).status == "Active"  # only reported
    with Archive(archive(tmp_path / "v3.zip", ROWS[:2])) as opened:
        # One of three is past the share (tests/test_source_systems.py): forced.
        report, kept = run(service, opened, source(service), tombstone_missing=True,
                           force=True)
    assert report.counts == {UNCHANGED: 2, TOMBSTONED: 1}
    assert (report.guard or {})["missing"] == 1 and (report.guard or {})["forced"]
    tombstone = service.version("digital-specimens", *gone.split("/"), 2).content
    assert tombstone["ods:status"] == "Tombstone"
    assert "no longer in the dataset of Test CMS" in (
        tombstone["ods:hasTombstoneMetadata"]["ods:tombstoneText"])
    again, _ = ingest(service, archive(tmp_path / "v4.zip", ROWS[:2]))
    assert again.counts == {UNCHANGED: 2}  # a tombstone is missing no more


def test_an_archive_unreadable_half_way_writes_nothing(service, tmp_path):
    path = tmp_path / "late.zip"
    lines = ["id," + ",".join(COLUMNS)] + [",".join(row) for row in ROWS]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", META)
        zipped.writestr("occ.csv", ("\n".join(lines) + "\n").encode() + b"r9,caf\xe9\n")
    system = source(service)
    length = service.index.feed_length()
    with pytest.raises(ArchiveError, match="is not UTF-8"), Archive(path) as opened:
        run(service, opened, system)
    assert service.index.feed_length() == length


ID_META = ('<archive xmlns="http://rs.tdwg.org/dwc/text/"><core fieldsTerminatedBy="," '
           f'ignoreHeaderLines="1" rowType="{OCCURRENCE}"><files><location>occ.csv</location>'
           '</files><id index="0"/>'
           + "".join(f'<field index="{n}" term="{DWC}{name}"/>' for n, name in enumerate(
               ("occurrenceID", "catalogNumber", "otherCatalogNumbers"), start=1))
           + "</core></archive>")


def id_archive(path: Path, rows: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", ID_META)
        zipped.writestr("occ.csv", "\n".join(["id,occurrenceID,catalogNumber,other", *rows]))
    return path


def test_a_changed_physical_id_with_the_doi_updates_without_it_is_flagged(service, tmp_path):
    first, _ = ingest(service, id_archive(tmp_path / "v1.zip", [
        "a,https://data.example.org/old/1,RMNH.1,", "b,https://data.example.org/old/2,RMNH.2,"]))
    assert first.counts == {CREATED: 2}
    one = service.index.pid_for_physical_id("https://data.example.org/old/1")
    two = service.index.pid_for_physical_id("https://data.example.org/old/2")
    report, kept = ingest(service, id_archive(tmp_path / "v2.zip", [
        f"a,https://data.example.org/new/1,RMNH.1,ZMA 77 | doi:{one}",
        "b,https://data.example.org/new/2,RMNH.2,"]))
    assert report.counts == {UPDATED: 1, CREATED: 1, MISSING: 1}
    assert service.index.pid_for_physical_id("https://data.example.org/new/1") == one
    assert service.index.pid_for_physical_id("https://data.example.org/old/1") is None
    (flagged,) = kept
    new_two = service.index.pid_for_physical_id("https://data.example.org/new/2")
    assert (flagged.status, flagged.pid, flagged.code) == (MISSING, two, "possible-duplicate")
    assert new_two in flagged.problems[0]["message"]


@pytest.mark.parametrize("ci", [False, True])
def test_a_terminal_shows_progress_and_ci_does_not(service, config, tmp_path, ci):
    """Through a real pseudo-terminal, as a person runs it."""
    path = archive(tmp_path / "v1.zip", ROWS)
    main, terminal = os.openpty()
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env |= config.to_environment() | ({"CI": "true"} if ci else {})
    process = subprocess.run(
        [sys.executable, "-m", "repository.cli", "ingest", "dwca", str(path),
         "--source-system", source_system(service).pid, "--license", "CC0"],
        stderr=terminal, stdout=subprocess.PIPE, env=env, cwd=ROOT, timeout=120, check=True)
    os.close(terminal)
    shown = b""
    while select.select([main], [], [], 0.2)[0]:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert json.loads(process.stdout)["counts"][CREATED] == 3
    assert (b"3/3 records" in shown and b"ETA" in shown) is not ci
    assert shown.endswith(b"Test CMS: 3 created\r\n")  # the summary, for people


def test_the_report_lists_rejected_and_pid_only_records_and_unmapped_terms(
        service, config, tmp_path, monkeypatch, capsys):
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    columns = ("catalogNumber", "basisOfRecord", "decimalLatitude", "license", "bed")
    terms = {"license": DCTERMS}
    meta = ('<archive xmlns="http://rs.tdwg.org/dwc/text/"><core fieldsTerminatedBy="," '
            f'ignoreHeaderLines="1" rowType="{OCCURRENCE}"><files><location>occ.csv'
            '</location></files><id index="0"/>'
            + "".join(f'<field index="{n}" term="{terms.get(name, DWC)}{name}"/>'
                      for n, name in enumerate(columns, start=1)) + "</core></archive>")
    rows = ["r1,RMNH.1,PreservedSpecimen,52.1,CC0-1.0,Bed 4",
            "r2,RMNH.2,PreservedSpecimen,52.1,CC-BY-NC-4.0,",
            "r3,RMNH.3,PreservedSpecimen,north,CC0-1.0,"]
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", meta)
        zipped.writestr("occ.csv", "\n".join(["id," + ",".join(columns), *rows]) + "\n")
    assert cli.main(["ingest", "dwca", str(path), "--source-system",
                     source_system(service, licence=None).pid]) == 0
    printed = capsys.readouterr()
    report = json.loads(printed.out)
    assert report["counts"][CREATED] == 1 and report["counts"][PID_ONLY] == 1
    assert report["unmappedTerms"] == ["dwc:bed"]
    (pid_only,) = report["pidOnly"]
    assert (pid_only["line"], pid_only["id"], pid_only["licence"]) == (3, "r2", "CC-BY-NC-4.0")
    assert service.index.current(pid_only["pid"]).kind == "digital-specimens"
    assert [(entry["id"], entry["code"]) for entry in report["rejected"]] == [
        ("r3", "bad-coordinates")]
    assert report["missing"] == []
    assert printed.err.startswith("Test CMS: 1 created, 1 pid-only, 1 rejected")


def test_a_listing_keeps_outcomes_on_disk_and_gives_them_back_in_order():
    outcomes = [Outcome(n, f"r{n}", REJECTED, code="schema",
                        problems=({"path": "/x", "message": "m"},), media=(CREATED,),
                        unmapped=("dwc:bed",))
                for n in range(2000)]
    with Listing() as listing:
        for outcome in outcomes[:1000]:
            listing.add(outcome)
        assert list(listing) == outcomes[:1000]
        for outcome in outcomes[1000:]:  # adding after reading appends
            listing.add(outcome)
        assert list(listing) == outcomes
