"""The ingest job API (`/api/v1/ingest-jobs`) through Flask's client and a real gunicorn,
over real S3 and a real index (SQLite and PostgreSQL): a dataset uploaded, run in the
background, its report the CLI's; re-submitted unchanged; a dry run writing nothing; ABCD;
every refusal; a failed read-through; jobs whose worker is gone. A worker (`fdo worker`'s,
on threads of the test process) runs the jobs; tests/test_workers.py kills real ones."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
import servers
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from repository import cli
from repository.config import Config
from repository.ingest.abcd import AbcdDocuments
from repository.ingest.report import CREATED, UNCHANGED
from repository.integrity import rebuild_index, verify
from repository.jobs import STALE_SECONDS, report_key
from repository.tokens import create_token
from storage.models import OBJECT_TABLES, IngestJobRow, timestamp
from tests.material import data_files
from tests.records import specimen
from tests.source_systems import source_system
from tests.test_ingest import COLUMNS, META, NATURALIS, ROWS, archive
from tests.test_ingest_abcd import document

pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parents[1]
JOBS = "/api/v1/ingest-jobs"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
# and sourceSystem: the PID of the test's "Test CMS" source system (`submit`).
FIELDS = {"format": "dwca", "organisation": NATURALIS, "license": CC0}


@pytest.fixture
def config(config: Config, tmp_path: Path) -> Config:
    return replace(config, ingest_spool=str(tmp_path / "spool"), ingest_max_mb=1)


@pytest.fixture
def machine(app) -> dict[str, str]:
    token = create_token(app.extensions["fdo"].index, "Naturalis ingest", "administrator")
    return {"Authorization": f"Bearer {token}"}


def submit(client: FlaskClient, auth: dict[str, str], *paths: Path,
           **fields: str | None) -> Any:
    """POST the files as `archive` fields, with FIELDS changed by `fields` (None: left out)."""
    system = source_system(client.application.extensions["fdo"]).pid
    data: dict[str, Any] = {name: value for name, value in {
        "sourceSystem": system, **FIELDS, **fields}.items() if value is not None}
    if paths:
        data["archive"] = [(io.BytesIO(path.read_bytes()), path.name) for path in paths]
    return client.post(JOBS, data=data, headers=auth, content_type="multipart/form-data")


def finished(client: FlaskClient, auth: dict[str, str], url: str) -> dict[str, Any]:
    """The job once it has ended (polled; a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(url, headers=auth).json
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish: {job}")


def eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    """Whether `check` holds within `seconds` (polled: what a worker does after a job's
    end is seen a moment later)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ingested(client: FlaskClient, auth: dict[str, str], *paths: Path,
             **fields: str) -> dict[str, Any]:
    response = submit(client, auth, *paths, **fields)
    assert response.status_code == 202, response.json
    return finished(client, auth, response.headers["Location"])


def job_count(app) -> int:
    with app.extensions["fdo"].index.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(IngestJobRow)) or 0)


@pytest.mark.usefixtures("job_worker")
def test_a_dataset_is_ingested_and_reported_as_the_cli_reports_it(
        app, client, machine, config, tmp_path, monkeypatch, capsys):
    response = submit(client, machine, archive(tmp_path / "occ.zip", ROWS))
    assert response.status_code == 202
    job = response.json
    url = f"http://fdo.test{JOBS}/{job['id']}"
    assert response.headers["Location"] == job["links"]["self"] == url
    assert job["links"]["report"] == f"{url}/report"
    assert job["status"] in ("queued", "running", "succeeded")
    system = source_system(app.extensions["fdo"])
    assert (job["sourceSystem"], job["organisation"], job["format"], job["dryRun"],
            job["tombstoneMissing"]) == (system.pid_url, NATURALIS, "dwca", False, False)
    assert set(job["progress"]) == {"done", "total"} and job["created"]

    done = finished(client, machine, url)
    assert done["status"] == "succeeded" and done["error"] is None
    assert done["progress"] == {"done": 3, "total": 3}
    report = client.get(f"{url}/report", headers=machine)
    assert report.status_code == 200 and report.mimetype == "application/json"
    assert report.json["counts"] == done["summary"]["counts"]
    assert report.json["counts"][CREATED] == 3 and report.json["rejected"] == []
    fdo = app.extensions["fdo"]
    # Once a job has ended, its worker deletes its upload from S3 and from its spool.
    assert eventually(lambda: list(fdo.store.keys("ingest-jobs/")) == [report_key(job["id"])])
    assert eventually(lambda: not any(Path(config.ingest_spool).iterdir()))
    length = fdo.index.feed_length()

    # The same dataset through the CLI, then through the API again: the same report.
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    assert cli.main(["ingest", "dwca", str(tmp_path / "occ.zip"), "--source-system",
                     system.pid, "--organisation", NATURALIS, "--license", CC0]) == 0
    by_cli = json.loads(capsys.readouterr().out)
    again = ingested(client, machine, tmp_path / "occ.zip")
    assert again["summary"]["counts"][UNCHANGED] == 3
    assert client.get(again["links"]["report"], headers=machine).json == by_cli
    assert fdo.index.feed_length() == length  # nothing changed, no version written

    # Jobs are not objects: verify and rebuild-index see the versions only, and keep jobs.
    assert IngestJobRow.__tablename__ not in OBJECT_TABLES
    rebuilt = rebuild_index(fdo)
    assert rebuilt.problems == [] and verify(fdo.reader).problems == []
    assert client.get(url, headers=machine).json == done


@pytest.mark.usefixtures("job_worker")
def test_a_dry_run_writes_nothing(app, client, auth, tmp_path):
    job = ingested(client, auth, archive(tmp_path / "occ.zip", ROWS), dryRun="true")
    assert job["status"] == "succeeded" and job["dryRun"] is True
    assert job["summary"]["dryRun"] is True and job["summary"]["counts"][CREATED] == 3
    assert app.extensions["fdo"].index.feed_length() == 1  # the source system's version


@pytest.mark.parametrize("sample", data_files("samples/abcd", "*.xml")[:1],
                         ids=lambda path: path.name)
@pytest.mark.usefixtures("job_worker")
def test_abcd_documents_are_ingested_as_one_dataset(app, client, machine, tmp_path, sample):
    made = document(tmp_path / "made.xml", "RMNH.AVES.1", "RMNH.AVES.2")
    biocase = source_system(app.extensions["fdo"], "Test BioCASe", licence=None).pid
    job = ingested(client, machine, sample, made, format="abcd", sourceSystem=biocase,
                   license="")
    assert job["status"] == "succeeded", job
    units = AbcdDocuments([sample, made]).check()
    assert sum(job["summary"]["counts"].values()) == units == job["progress"]["total"]
    report = client.get(job["links"]["report"], headers=machine).json
    assert report["rejected"] == [] and report["counts"] == job["summary"]["counts"]
    again = ingested(client, machine, sample, made, format="abcd",
                     sourceSystem=biocase, license="")
    assert set(k for k, n in again["summary"]["counts"].items() if n) <= {UNCHANGED, "pid-only"}


@pytest.mark.usefixtures("job_worker")
def test_an_archive_that_fails_its_read_through_fails_and_writes_nothing(app, client, auth,
                                                                         tmp_path):
    path = tmp_path / "late.zip"
    lines = ["id," + ",".join(COLUMNS)] + [",".join(row) for row in ROWS]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", META)
        zipped.writestr("occ.csv", ("\n".join(lines) + "\n").encode() + b"r9,caf\xe9\n")
    job = ingested(client, auth, path)
    assert job["status"] == "failed" and "occ.csv is not UTF-8" in job["error"]
    assert job["summary"] is None
    assert app.extensions["fdo"].index.feed_length() == 1  # the source system's version
    report = client.get(job["links"]["report"], headers=auth)
    assert report.status_code == 404 and "it is failed" in report.json["message"]


@pytest.mark.usefixtures("job_worker")
def test_who_may_run_and_read_a_source_systems_jobs(app, client, auth, tmp_path):
    """A source system's jobs are run by its organisation's curators and its machines
    (tombstoneMissing by curators only) and read by them and their submitter; a refused
    job leaves no row."""
    path = archive(tmp_path / "occ.zip", ROWS)
    index = app.extensions["fdo"].index
    system = source_system(app.extensions["fdo"])

    def bearer(name: str, role: str, **scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(index, name, role, **scope)}"}

    own_machine = bearer("its robot", "machine", source_system=system.pid_url)
    refused = {
        "annotator": bearer("reader", "annotator"),
        "another organisation's curator": bearer("them", "curator",
                                                 organisation="https://ror.org/039zvsn29"),
        "another source system's machine": bearer(
            "their robot", "machine", source_system="20.500.14920/SRC-BBB-BBB")}
    assert submit(client, {}, path).status_code == 401
    for who, headers in refused.items():
        response = submit(client, headers, path)
        assert response.status_code == 403, who
        assert response.json["permission"] == "ingest-jobs:run", who
        assert response.json["sourceSystem"] == system.pid_url
    robot_tombstoning = submit(client, own_machine, path, tombstoneMissing="true")
    assert robot_tombstoning.status_code == 403
    assert robot_tombstoning.json["permission"] == "ingest-jobs:tombstone-missing"
    assert job_count(app) == 0
    job = ingested(client, own_machine, path)
    assert job["submittedBy"].endswith("/agents/its%20robot")
    curator = bearer("curator", "curator", organisation=system.organisation_id)
    assert ingested(client, curator, path, tombstoneMissing="true")["status"] == "succeeded"
    assert client.get(job["links"]["self"]).status_code == 401
    for headers, status in ((own_machine, 200), (curator, 200), (auth, 200),
                            (refused["another organisation's curator"], 403)):
        assert client.get(job["links"]["report"], headers=headers).status_code == status


@pytest.mark.parametrize(("fields", "with_archive", "path"), [
    ({}, False, "/archive"),
    ({"format": "csv"}, True, "/format"),
    ({"format": None}, True, "/format"),
    ({"sourceSystem": None}, True, "/sourceSystem"),
    ({"sourceSystem": " "}, True, "/sourceSystem"),
    ({"organisation": "Naturalis"}, True, "/organisation"),
    ({"dryRun": "yes"}, True, "/dryRun"),
    ({"tombstoneMissing": "maybe"}, True, "/tombstoneMissing"),
])
def test_bad_fields_are_400_naming_the_field(app, client, auth, tmp_path, fields,
                                             with_archive, path):
    paths = [archive(tmp_path / "occ.zip", ROWS)] if with_archive else []
    response = submit(client, auth, *paths, **fields)
    assert response.status_code == 400 and response.json["code"] == "bad_request"
    assert [error["path"] for error in response.json["errors"]] == [path]
    assert job_count(app) == 0


def test_two_archives_for_dwca_are_refused(app, client, auth, tmp_path):
    one, two = archive(tmp_path / "a.zip", ROWS), archive(tmp_path / "b.zip", ROWS)
    response = submit(client, auth, one, two)
    assert response.status_code == 400 and "takes one archive" in response.json["message"]


def test_what_cannot_be_opened_is_422_and_leaves_nothing(app, client, auth, config, tmp_path):
    text = tmp_path / "occ.csv"
    text.write_text("id\nr1\n")
    no_meta = tmp_path / "no-meta.zip"
    with zipfile.ZipFile(no_meta, "w") as zipped:
        zipped.writestr("occ.csv", "id\nr1\n")
    dtd = tmp_path / "dtd.xml"
    dtd.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>')
    for path, fields, message in ((text, {}, "occ.csv is neither a zip file nor a folder"),
                                  (no_meta, {}, "no-meta.zip has no meta.xml"),
                                  (dtd, {"format": "abcd"}, "dtd.xml declares a DTD")):
        response = submit(client, auth, path, **fields)
        assert response.status_code == 422, response.json
        assert response.json["code"] == "unprocessable"
        assert response.json["message"].startswith(message)
    assert job_count(app) == 0
    assert not any(Path(config.ingest_spool).iterdir())


def test_uploads_past_the_ingest_limit_are_413_and_other_bodies_415(client, auth, tmp_path):
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(100 * 1024))  # past FDO_MAX_BODY, within FDO_INGEST_MAX_MB
    assert submit(client, auth, big).status_code == 422
    # A raw body: the test client spools a large multipart body to a file it never closes.
    response = client.post(JOBS, data=b"-" * (1024 * 1024 + 1), headers=auth,
                           content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413 and response.json["code"] == "request_entity_too_large"
    as_json = client.post(JOBS, json=FIELDS, headers=auth)
    assert as_json.status_code == 415 and as_json.json["code"] == "unsupported_media_type"


def test_unknown_and_malformed_job_ids(client, auth):
    unknown = f"{JOBS}/{uuid.uuid4()}"
    for url in (unknown, f"{unknown}/report"):
        response = client.get(url, headers=auth)
        assert response.status_code == 404 and response.json["code"] == "not_found"
    malformed = client.get(f"{JOBS}/not-a-job/report", headers=auth)
    assert malformed.status_code == 400 and "not an ingest job ID" in malformed.json["message"]


def stale_job(app, job_id: str, status: str) -> None:
    old = timestamp(STALE_SECONDS + 60)
    app.extensions["jobs"].table.add(IngestJobRow(
        id=job_id, status=status, format="dwca", source_system="Gone CMS",
        organisation_id=None, licence=None, dry_run=False, tombstone_missing=False,
        submitted_by="https://orcid.org/0000-0002-1825-0097", created=old, done=0,
        worker="elsewhere:0", heartbeat=old))


def test_a_job_no_worker_runs_is_shown_interrupted(app, client, auth):
    job_id = str(uuid.uuid4())
    stale_job(app, job_id, "running")
    job = client.get(f"{JOBS}/{job_id}", headers=auth).json
    assert job["status"] == "interrupted" and "submit it again" in job["error"]
    assert client.get(f"{JOBS}/{job_id}/report", headers=auth).status_code == 404


def test_a_worker_starting_deletes_the_files_of_ended_jobs(app, config, start_worker):
    spool = Path(config.ingest_spool)
    ended, running, unknown = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    stale_job(app, ended, "failed")
    app.extensions["jobs"].table.add(IngestJobRow(
        id=running, status="running", format="dwca", source_system="Gone CMS",
        organisation_id=None, licence=None, dry_run=False, tombstone_missing=False,
        submitted_by="https://orcid.org/0000-0002-1825-0097", created=timestamp(), done=0,
        worker="another:0", heartbeat=timestamp()))
    for job_id in (ended, running, unknown):
        (spool / job_id / "0").mkdir(parents=True)
    start_worker(config)
    # Another worker's running job, and a folder with no row (not ours), stay.
    assert sorted(item.name for item in spool.iterdir()) == sorted([running, unknown])


@pytest.mark.usefixtures("job_worker")
def test_any_gunicorn_worker_answers_for_any_job(gunicorn, service, tmp_path):
    token = create_token(service.index, "Naturalis ingest", "administrator")
    headers = {"Authorization": f"Bearer {token}"}
    with archive(tmp_path / "occ.zip", ROWS).open("rb") as stream:
        response = requests.post(f"{gunicorn}{JOBS}", headers=headers, data={
            **FIELDS, "sourceSystem": source_system(service).pid},
                                 files={"archive": ("occ.zip", stream)}, timeout=30)
    assert response.status_code == 202, response.text
    url = f"{gunicorn}{JOBS}/{response.json()['id']}"
    deadline = time.monotonic() + 120
    while (job := requests.get(url, headers=headers, timeout=30).json())["status"] in (
            "queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["summary"]["counts"][CREATED] == 3
    report = requests.get(f"{url}/report", headers=headers, timeout=30)
    assert report.json()["counts"] == job["summary"]["counts"]


@pytest.mark.usefixtures("job_worker")
def test_the_provenance_names_the_source_system_and_the_person_it_acted_for(app, client, auth,
                                                                            tmp_path):
    """A job's writes are its source system's (the Requestor), on behalf of the person who
    submitted it: an agent of the event, and <system> prov:actedOnBehalfOf <person> in the
    event's RDF."""
    job = ingested(client, auth, archive(tmp_path / "occ.zip", ROWS))
    system = source_system(app.extensions["fdo"])
    pid = app.extensions["fdo"].index.live_objects_of_source(system.pid_url,
                                                             "digital-specimens")[0]
    event = client.get(f"/{pid}/1/provenance", headers={"Accept": "application/ld+json"})
    assert event.status_code == 200
    person = "https://orcid.org/0000-0002-1825-0097"  # conftest's token's holder
    assert job["submittedBy"] == person
    document = event.json
    associated = document["prov:Activity"]["prov:wasAssociatedWith"]
    assert associated[0] == {"@id": system.pid_url, "prov:hadRole": "Requestor"}
    assert [agent["@id"] for agent in document["ods:hasAgents"]][:2] == [system.pid_url, person]
    turtle = client.get(f"/{pid}/1/provenance", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=turtle.data, format="turtle")
    acted = rdflib.URIRef("http://www.w3.org/ns/prov#actedOnBehalfOf")
    assert list(graph.objects(rdflib.URIRef(system.pid_url), acted)) == [rdflib.URIRef(person)]


def test_a_queue_that_does_not_answer_is_503_and_leaves_no_job_or_upload(
        config, make_app, auth, tmp_path):
    """Redis down: the submission is refused with 503 in seconds, and neither the job's
    row nor its upload in S3 stays behind (the client may simply send it again)."""
    closed = make_app(replace(config, queue_url=f"redis://127.0.0.1:{servers.free_port()}/0"))
    client = closed.test_client()
    response = submit(client, auth, archive(tmp_path / "occ.zip", ROWS))
    assert response.status_code == 503 and response.json["code"] == "queue_unavailable"
    assert "nothing was queued" in response.json["message"]
    assert "Retry-After" in response.headers
    assert job_count(closed) == 0
    assert list(closed.extensions["fdo"].store.keys("ingest-jobs/")) == []
    assert client.post("/api/v1/digital-specimens", json=specimen(),
                       headers=auth).status_code == 201  # something for a batch to find
    batch = client.post("/api/v1/annotations/batches", headers=auth, json={
        "search": "", "annotation": {"oa:motivation": "oa:commenting",
                                     "oa:hasBody": {"@type": "oa:TextualBody",
                                                    "oa:value": ["seen"]}}})
    assert batch.status_code == 503 and batch.json["code"] == "queue_unavailable"
    assert job_count(closed) == 0
    # A machine annotation run: its job record says it failed, instead of waiting forever.
    service = client.post("/api/v1/machine-annotation-services", headers=auth, json={
        "schema:name": "x", "ods:serviceEndpoint": "http://127.0.0.1:9/",
        "ods:hasTargetDigitalObjectFilter": {}, "ods:batchingPermitted": False}).json["@id"]
    specimen_pid = next(row.pid for row in closed.extensions["fdo"].index.all_objects()
                        if row.kind == "digital-specimens")
    run = client.post(f"/api/v1/digital-specimens/{specimen_pid}/mas", headers=auth,
                      json={"services": [service]})
    assert run.status_code == 503 and run.json["code"] == "queue_unavailable"
    [job] = [row.pid for row in closed.extensions["fdo"].index.all_objects()
             if row.kind == "mas-jobs"]
    record = client.get(f"/api/v1/mas-jobs/{job}").json
    assert record["ods:jobState"] == "Failed" and "could not be queued" in record[
        "ods:errorMessage"]
    assert job_count(closed) == 0


def test_an_index_made_before_jobs_had_workers_gains_their_columns(config, make_app, auth,
                                                                    tmp_path, start_worker):
    app = make_app(config)
    with app.extensions["fdo"].index.engine.begin() as connection:
        for column in ("request", "attempts"):
            connection.execute(text(f"ALTER TABLE ingest_jobs DROP COLUMN {column}"))
    restarted = make_app(config)  # creates what is missing
    start_worker(config)
    job = ingested(restarted.test_client(), auth, archive(tmp_path / "occ.zip", ROWS))
    assert job["status"] == "succeeded" and job["attempts"] == 1
