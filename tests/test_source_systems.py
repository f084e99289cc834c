"""Source systems as objects, over real S3 and a real index (SQLite and PostgreSQL):
created, updated and tombstoned through the API and `fdo source-systems create`, resolved
as HTML, JSON-LD (pyld) and Turtle (rdflib) from a real gunicorn; ingest jobs and `fdo
ingest` naming one by its PID, refused (422) for one that is unknown or tombstoned; and the
tombstone share guard: a re-check that would tombstone too many of a source system's
specimens stops before writing anything, unless forced."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
from flask import Flask
from flask.testing import FlaskClient
from rdflib.compare import isomorphic

from repository import cli
from repository.access import trusted
from repository.config import Config
from repository.ingest.dwca import Archive
from repository.ingest.report import CREATED, MISSING, REJECTED, TOMBSTONED, UNCHANGED
from repository.provenance import Agent
from repository.services import FDOService
from repository.source_systems import resolve_source_system
from repository.tokens import create_token
from schemas import HANDLE, SOURCE_SYSTEM
from tests.material import DATA
from tests.source_systems import NATURALIS, source_system
from tests.test_ingest import archive, run
from tests.test_ingest_jobs import finished, job_count, submit
from tests.test_linked_data_clients import pyld_graph

pytestmark = pytest.mark.s3
SYSTEMS = f"/api/v1/{SOURCE_SYSTEM.name}"
EXAMPLE = (DATA / "opends" / "examples" / "opends-examples" / "fdo-type" / "source-system"
           / "0.4.0" / "source-system-example.json")
COIMBRA = "https://ror.org/04z8k9a98"
SCHEMA_ORG = rdflib.Namespace("http://schema.org/")
ODS = rdflib.Namespace("https://github.com/DiSSCo/openDS/ods-ontology/terms/")
TEN = [(f"r{n}", f"RMNH.INS.{n}", "PreservedSpecimen", "Bombus terrestris", "Leiden", "52.1",
        "2020-01-01") for n in range(10)]
ADMIN = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))


@pytest.fixture
def config(config: Config, tmp_path: Path) -> Config:
    return replace(config, ingest_spool=str(tmp_path / "spool"))


@pytest.fixture
def curator(app: Flask) -> dict[str, str]:
    """A curator of the test source system's organisation: tombstoneMissing is theirs."""
    return {"Authorization": "Bearer " + create_token(app.extensions["fdo"].index,
                                                      "Naturalis curator", "curator",
                                                      organisation=NATURALIS)}


def from_example() -> dict[str, Any]:
    """What a client sends, from openDS's own example: its descriptive terms, and the
    organisation this repository requires."""
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    kept = ("schema:name", "schema:description", "schema:url",
            "ltc:collectionManagementSystem", "ods:translatorType")
    return {**{term: example[term] for term in kept}, "ods:organisationID": COIMBRA,
            "ods:organisationName": "University of Coimbra"}


def written(fdo: FDOService) -> tuple[int, int, list[str]]:
    """Versions indexed, the feed's length and every key in the bucket."""
    return (sum(1 for _ in fdo.index.all_versions()), fdo.index.feed_length(),
            sorted(fdo.store.keys("")))


def test_a_source_system_is_created_updated_and_tombstoned_like_any_object(
        app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    refused = client.post(SYSTEMS, json={"schema:name": "No organisation"}, headers=auth)
    assert refused.status_code == 422
    assert [error["path"] for error in refused.json["errors"]] == ["/ods:organisationID"]
    created = client.post(SYSTEMS, json=from_example(), headers=auth)
    assert created.status_code == 201, created.json
    document = created.json
    assert (document["@type"], document["ods:fdoType"]) == (
        "ods:SourceSystem", "https://doi.org/21.T11148/417a4f472f60f7974c12")
    pid = document["@id"].removeprefix("http://fdo.test/")
    assert SOURCE_SYSTEM.pid_scheme == HANDLE and pid.startswith(Config().handle_prefix + "/")
    fdo: FDOService = app.extensions["fdo"]
    assert fdo.index.current(pid).organisation_id == COIMBRA  # what access checks read

    html = client.get(f"/{pid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h1>Herbarium of University of Coimbra (COI)</h1>" in html
    assert '<p class="kind">Source system</p>' in html
    for shown in ("University of Coimbra", "http://ipt.gbif.pt/ipt/archive.do?r=coi", "dwca",
                  "Specify 7"):
        assert shown in html, shown
    handle = client.get(f"/api/handles/{pid}").json
    values = {value["type"]: value["data"]["value"] for value in handle["values"]}
    assert values["sourceSystemName"] == "Herbarium of University of Coimbra (COI)"
    assert values["digitalObjectName"] == "Source System"
    oai = client.get(f"/oai?verb=GetRecord&identifier=hdl:{pid}&metadataPrefix=oai_dc")
    assert "Herbarium of University of Coimbra" in oai.get_data(as_text=True)
    ET.fromstring(oai.data)
    assert fdo.index.feed(0, 10)[0].pid == pid  # in the change feed, as every object

    changed = {**from_example(), "ods:defaultLicense": "CC0-1.0"}
    updated = client.put(f"{SYSTEMS}/{pid}", json=changed,
                         headers={**auth, "If-Match": created.headers["ETag"]})
    assert updated.status_code == 200 and updated.json["ods:version"] == 2
    assert resolve_source_system(fdo, pid).default_licence == "CC0-1.0"
    gone = client.delete(f"{SYSTEMS}/{pid}", json={"reason": "moved to a new IPT"},
                         headers={**auth, "If-Match": updated.headers["ETag"]})
    assert gone.status_code == 200 and gone.json["ods:status"] == "Tombstone"
    assert client.get(f"/{pid}", headers={"Accept": "text/html"}).status_code == 410


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_source_system_resolves_for_linked_data_clients(live: FDOService) -> None:
    record = live.create(SOURCE_SYSTEM.name, from_example(), ADMIN)
    url = record.content["@id"]
    turtle = rdflib.Graph().parse(url, format="turtle")
    subject = rdflib.URIRef(url)
    assert (subject, rdflib.RDF.type, ODS.SourceSystem) in turtle
    assert (subject, SCHEMA_ORG.name,
            rdflib.Literal("Herbarium of University of Coimbra (COI)")) in turtle
    assert (subject, ODS.organisationID, rdflib.URIRef(COIMBRA)) in turtle
    assert isomorphic(turtle, pyld_graph(url))  # pyld reads the same graph
    page = requests.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "Herbarium of University of Coimbra" in page.text


def test_jobs_naming_no_live_source_system_are_422_and_queue_nothing(
        app: Flask, client: FlaskClient, auth: dict[str, str], tmp_path: Path) -> None:
    fdo: FDOService = app.extensions["fdo"]
    path = archive(tmp_path / "occ.zip", TEN[:3])
    specimen = fdo.create("digital-specimens", {
        "ods:physicalSpecimenID": "RMNH.X.1", "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": NATURALIS}, ADMIN).pid
    retired = source_system(fdo, "Retired CMS")
    fdo.tombstone(SOURCE_SYSTEM.name, *retired.pid.split("/"), "retired", None, None, ADMIN)
    unknown = f"{Config().handle_prefix}/ZZZ-ZZZ-ZZZ"
    cases = {unknown: "names no source system", f"http://fdo.test/{unknown}":
             "names no source system", specimen: "names no source system",
             "Test CMS": "is not a source system's PID", retired.pid: "was tombstoned",
             f"{retired.pid_url}/1": "names one version"}
    for value, message in cases.items():
        response = submit(client, auth, path, sourceSystem=value)
        assert response.status_code == 422, (value, response.json)
        assert [error["path"] for error in response.json["errors"]] == ["/sourceSystem"]
        assert message in response.json["message"], value
    other = submit(client, auth, path, organisation="https://ror.org/04z8k9a98")
    assert other.status_code == 422
    assert [error["path"] for error in other.json["errors"]] == ["/organisation"]
    assert job_count(app) == 0


def test_the_run_gives_its_specimens_the_source_systems_pid_name_and_organisation(
        service: FDOService, tmp_path: Path) -> None:
    system = source_system(service, "Naturalis Entomology")
    with Archive(archive(tmp_path / "occ.zip", TEN[:2])) as opened:
        report, _ = run(service, opened, system.ingest_source(None))
    assert report.counts == {CREATED: 2}
    for row in service.index.all_objects():
        if row.kind == "digital-specimens":
            content = service.latest(row.kind, *row.pid.split("/")).content
            assert content["ods:sourceSystemID"] == system.pid_url
            assert content["ods:sourceSystemName"] == "Naturalis Entomology"
            assert content["ods:organisationID"] == NATURALIS
            assert row.source_system == system.pid_url
            assert service.index.versions(row.pid)[0].agent_id == system.pid_url


@pytest.mark.usefixtures("job_worker")
def test_a_re_check_past_the_share_stops_before_writing_unless_forced(
        app: Flask, client: FlaskClient, curator: dict[str, str], tmp_path: Path) -> None:
    fdo: FDOService = app.extensions["fdo"]
    first = submit(client, curator, archive(tmp_path / "all.zip", TEN))
    assert finished(client, curator, first.headers["Location"])["summary"]["counts"][
        CREATED] == 10
    before = written(fdo)
    one = archive(tmp_path / "one.zip", TEN[:1])

    refused = finished(client, curator, submit(
        client, curator, one, tombstoneMissing="true").headers["Location"])
    assert refused["status"] == "failed" and refused["summary"] is None
    for said in ("would tombstone 9 of the 10 live specimens of Test CMS (90%)",
                 "more than the 20% FDO_TOMBSTONE_MAX_SHARE allows", "nothing was written",
                 "force=true"):
        assert said in refused["error"], said
    assert written(fdo) == before  # no version, feed entry, S3 object or report

    dry = finished(client, curator, submit(
        client, curator, one, tombstoneMissing="true", dryRun="true").headers["Location"])
    assert dry["status"] == "succeeded"
    guard = dry["summary"]["tombstoneGuard"]
    assert (guard["missing"], guard["live"], guard["share"], guard["stops"]) == (
        9, 10, 0.9, True)
    assert "nothing was written" in guard["message"] and dry["summary"]["counts"][MISSING] == 9
    assert written(fdo)[:2] == before[:2]  # the dry run's report is its only write

    forced = finished(client, curator, submit(
        client, curator, one, tombstoneMissing="true", force="true").headers["Location"])
    assert forced["status"] == "succeeded", forced
    assert forced["summary"]["counts"][TOMBSTONED] == 9
    assert forced["summary"]["tombstoneGuard"]["forced"] is True


def test_a_re_check_within_the_share_tombstones_what_is_missing(
        service: FDOService, tmp_path: Path) -> None:
    system = source_system(service).ingest_source(None)
    with Archive(archive(tmp_path / "all.zip", TEN)) as opened:
        run(service, opened, system)
    with Archive(archive(tmp_path / "nine.zip", TEN[1:])) as opened:
        report, listed = run(service, opened, system, tombstone_missing=True)
    assert report.counts == {UNCHANGED: 9, TOMBSTONED: 1}
    assert {**(report.guard or {}), "seconds": 0} == {
        "missing": 1, "live": 10, "share": 0.1, "maxShare": 0.2, "forced": False,
        "stops": False, "seconds": 0}  # and how long the count took
    assert [outcome.status for outcome in listed] == [TOMBSTONED]


def test_records_rejected_past_the_share_are_reported_and_not_tombstoned(
        service: FDOService, tmp_path: Path) -> None:
    """The guard counts a record in the dataset as present; should the run reject it, its
    specimen is missing after all, and past the share it is kept."""
    system = source_system(service).ingest_source(None)
    with Archive(archive(tmp_path / "all.zip", TEN)) as opened:
        run(service, opened, system)
    bad = [(*row[:5], "north", row[6]) if n < 3 else row for n, row in enumerate(TEN)]
    with Archive(archive(tmp_path / "bad.zip", bad)) as opened:
        report, listed = run(service, opened, system, tombstone_missing=True)
    assert report.counts == {UNCHANGED: 7, REJECTED: 3, MISSING: 3}
    assert (report.guard or {})["missing"] == 0  # the count found all ten named
    held = [outcome for outcome in listed if outcome.status == MISSING]
    assert len(held) == 3 and all("none was tombstoned" in outcome.problems[-1]["message"]
                                  for outcome in held)
    assert all(service.index.current(outcome.pid).status == "Active" for outcome in held)


def test_the_cli_creates_a_source_system_and_its_guard_exits_non_zero(
        service: FDOService, config: Config, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    assert cli.main(["source-systems", "create", "--name", "Naturalis Vermes",
                     "--organisation", NATURALIS, "--url", "https://ipt.example.org/vermes",
                     "--format", "dwca", "--license", "CC0-1.0"]) == 0
    made = capsys.readouterr().out.strip().splitlines()[-1]  # the PID, last
    system = resolve_source_system(service, made)
    assert (system.pid_url, system.name, system.organisation_id, system.dataset_format,
            system.default_licence) == (made, "Naturalis Vermes", NATURALIS, "dwca", "CC0-1.0")
    bare = system.pid  # without the resolver's URL
    assert cli.main(["ingest", "dwca", str(archive(tmp_path / "all.zip", TEN)),
                     "--source-system", bare]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][CREATED] == 10
    before = written(service)
    one = ["ingest", "dwca", str(archive(tmp_path / "one.zip", TEN[:1])), "--source-system",
           made, "--tombstone-missing"]
    assert cli.main(one) == 1
    printed = capsys.readouterr()
    assert printed.out == "" and "9 of the 10 live specimens" in printed.err
    assert "--force" in printed.err and written(service) == before
    assert cli.main([*one, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][TOMBSTONED] == 9
    assert cli.main(["ingest", "dwca", str(tmp_path / "one.zip"), "--source-system",
                     f"{Config().handle_prefix}/ZZZ-ZZZ-ZZZ"]) == 2
    assert "names no source system" in capsys.readouterr().err
    assert cli.main(["ingest", "dwca", str(tmp_path / "one.zip"), "--source-system", made,
                     "--organisation", "https://ror.org/04z8k9a98"]) == 2
    assert "belongs to https://ror.org/0566bfb96" in capsys.readouterr().err
    assert cli.main(["ingest", "dwca", str(tmp_path / "one.zip"), "--source-system", made,
                     "--organisation", "http://ror.org/0566bfb96", "--dry-run"]) == 0  # the same
