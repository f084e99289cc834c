"""Machine annotation services (repository/machine_services.py) through the real parts: the
app under gunicorn at its own address, a worker on the Redis queue, the example service
(scripts/services/country_check.py) as its own process, real S3 and both index engines.
Services that misbehave (never end a run, answer 500, or keep the token to try more) are
small HTTP servers on 127.0.0.1 in the test process: they stand for someone else's service.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
import servers
from sqlalchemy import select

from repository import build_service
from repository.access import trusted
from repository.config import Config
from repository.machine_services import MachineServices
from repository.provenance import Agent
from repository.services import FDOService
from repository.tokens import create_token
from resolver.pids import pid_url
from storage.models import IngestJobRow, timestamp
from tests.conftest import ROOT, serve_app
from tests.records import specimen

pytestmark = pytest.mark.s3
SERVICES = "/api/v1/machine-annotation-services"
IN_BELGIUM = {"dwc:decimalLatitude": 50.85, "dwc:decimalLongitude": 4.35}


@dataclass
class Repository:
    url: str
    fdo: FDOService
    admin: dict[str, str]
    annotator: dict[str, str]


@pytest.fixture
def repository(config: Config, start_worker: Callable[..., Any]) -> Iterator[Repository]:
    """The app under gunicorn whose base URL is its own address, and a worker."""
    port = servers.free_port()
    served = replace(config, base_url=f"http://127.0.0.1:{port}")
    fdo = build_service(served)
    process = serve_app(served, port, workers=1)
    start_worker(served, threads=2)
    admin = create_token(fdo.index, "admin", "administrator")
    annotator = create_token(fdo.index, "ann", "annotator", orcid="0000-0002-1825-0097")
    yield Repository(served.base_url, fdo, {"Authorization": f"Bearer {admin}"},
                     {"Authorization": f"Bearer {annotator}"})
    servers.stop_process(process)
    fdo.close()


@pytest.fixture
def country_check(tmp_path: Path) -> Iterator[str]:
    """The example service, as its own process on 127.0.0.1 (its log in tmp_path)."""
    port = servers.free_port()
    process = servers.start_process(
        [sys.executable, str(ROOT / "scripts" / "services" / "country_check.py"), "--port",
         str(port)], cwd=ROOT, ready_url=f"http://127.0.0.1:{port}/",
        log=tmp_path / "country-check.log")
    yield f"http://127.0.0.1:{port}/"
    servers.stop_process(process)


@dataclass
class Stub:
    """Someone else's service: answers every run with `status`, keeps what it was sent."""

    status: int
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Callable[[int], Stub]]:
    made: list[ThreadingHTTPServer] = []

    def start(status: int) -> Stub:
        found = Stub(status)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                found.received.append(json.loads(self.rfile.read(
                    int(self.headers["Content-Length"]))))
                body = b'{"error": "it broke"}' if status >= 500 else b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
        found.url = f"http://127.0.0.1:{server.server_address[1]}/run"
        return found

    yield start
    for server in made:
        server.shutdown()
        server.server_close()


def register(repo: Repository, endpoint: str, **fields: Any) -> str:
    answer = requests.post(f"{repo.url}{SERVICES}", headers=repo.admin, timeout=30, json={
        "schema:name": "Country check", "ods:serviceEndpoint": endpoint,
        "ods:hasTargetDigitalObjectFilter": {"$['@type']": ["ods:DigitalSpecimen"]},
        "ods:batchingPermitted": True, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["@id"])


def specimen_at(repo: Repository, country: str, point: dict[str, float] = IN_BELGIUM) -> str:
    record = specimen(**{"ods:hasEvents": [{"@type": "ods:Event", "ods:hasLocation": {
        "@type": "ods:Location", "dwc:country": country,
        "ods:hasGeoreference": {"@type": "ods:Georeference", **point}}}]})
    answer = requests.post(f"{repo.url}/api/v1/digital-specimens", json=record,
                           headers=repo.admin, timeout=30)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["@id"])


def run(repo: Repository, target: str, *services: str) -> list[str]:
    pid = target.removeprefix(f"{repo.url}/")
    answer = requests.post(f"{repo.url}/api/v1/digital-specimens/{pid}/mas",
                           json={"services": list(services)}, headers=repo.annotator, timeout=30)
    assert answer.status_code == 202, answer.text
    return list(answer.json()["jobs"])


def job_api(repo: Repository, job: str) -> str:
    return f"{repo.url}/api/v1/mas-jobs/{job.removeprefix(repo.url + '/')}"


def ended(repo: Repository, job: str, seconds: float = 60) -> dict[str, Any]:
    """The job record once its run has ended (polled; a bounded wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = requests.get(job_api(repo, job), timeout=30).json()
        if record["ods:jobState"] in ("Completed", "Failed", "TimedOut"):
            return dict(record)
        time.sleep(0.1)
    raise AssertionError(f"{job} did not end: {record}")


def test_the_example_service_annotates_a_specimen_whose_place_is_in_another_country(
        repository: Repository, country_check: str) -> None:
    service = register(repository, country_check)
    wrong = specimen_at(repository, "Netherlands")
    right = specimen_at(repository, "Belgium")
    [job] = run(repository, wrong, service)
    [fine] = run(repository, right, service)

    record = ended(repository, job)
    assert record["ods:jobState"] == "Completed", record
    assert record["ods:machineAnnotationServiceID"] == service
    assert record["ods:targetID"] == f"{wrong}/1"
    [annotation_url] = record["annotations"]
    annotation = requests.get(annotation_url, headers={"Accept": "application/json"},
                              timeout=30).json()
    assert annotation["oa:motivation"] == "oa:assessing"
    assert annotation["ods:jobID"] == job
    assert annotation["as:generator"]["@id"] == service
    assert annotation["dcterms:creator"]["@id"] == service
    assert annotation["oa:hasTarget"]["@id"] == wrong
    assert "lie in Belgium (BE), not in Netherlands (NL)" in annotation["oa:hasBody"][
        "oa:value"][0]
    quiet = ended(repository, fine)
    assert quiet["ods:jobState"] == "Completed" and quiet["annotations"] == []

    # The job record resolves like any object: versions with provenance, and RDF.
    pid = job.removeprefix(repository.url + "/")
    history = requests.get(f"{repository.url}/api/v1/mas-jobs/{pid}/versions", timeout=30)
    assert [v["version"] for v in history.json()["versions"]] == [1, 2, 3]
    states = [requests.get(f"{job}/{n}", headers={"Accept": "application/json"},
                           timeout=30).json()["ods:jobState"] for n in (1, 2, 3)]
    assert states == ["Scheduled", "Running", "Completed"]
    turtle = requests.get(job, headers={"Accept": "text/turtle"}, timeout=30)
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    assert any(str(value) == "Completed" for value in graph.objects(rdflib.URIRef(job)))
    handle = requests.get(f"{repository.url}/api/handles/{pid}", timeout=30).json()
    assert handle["responseCode"] == 1


def test_a_service_that_never_ends_its_run_is_timed_out(repository, stub) -> None:
    silent = stub(202)
    service = register(repository, silent.url, **{"ods:timeToLive": 1000})
    [job] = run(repository, specimen_at(repository, "Belgium"), service)
    record = ended(repository, job)
    assert record["ods:jobState"] == "TimedOut", record
    assert "time to live" in record["ods:errorMessage"]
    assert len(silent.received) == 1 and silent.received[0]["jobID"] == job


def test_a_service_answering_500_is_retried_and_the_run_fails_with_the_reason(
        repository, stub) -> None:
    broken = stub(500)
    service = register(repository, broken.url)
    [job] = run(repository, specimen_at(repository, "Belgium"), service)
    record = ended(repository, job)
    assert record["ods:jobState"] == "Failed", record
    assert record["ods:deliveryAttempts"] == len(broken.received) == 4
    assert "HTTP 500" in record["ods:errorMessage"] and "it broke" in record["ods:errorMessage"]


def test_a_job_token_makes_annotations_for_its_job_and_nothing_else(repository, stub) -> None:
    keeper = stub(202)
    service = register(repository, keeper.url)
    target = specimen_at(repository, "Belgium")
    [job, other] = run(repository, target, service, service)
    # Each run's time-out waits a day in the queue, and is not shown lost meanwhile: its
    # heartbeat is when it is due.
    with repository.fdo.index.engine.connect() as connection:
        waiting = connection.execute(select(IngestJobRow.status, IngestJobRow.heartbeat)
                                     .where(IngestJobRow.format == "mas-ttl")).all()
    assert len(waiting) == 2 and all(status == "queued" for status, _ in waiting)
    assert all(heartbeat > timestamp(-86_000) for _, heartbeat in waiting)
    deadline = time.monotonic() + 60
    while len(keeper.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = next(run for run in keeper.received if run["jobID"] == job)
    assert sent["object"]["@id"] == target and sent["callback"]["job"] == job_api(repository,
                                                                                  job)
    bearer = {"Authorization": f"Bearer {sent['callback']['token']}"}
    annotation = {"oa:motivation": "oa:commenting", "oa:hasTarget": {"@id": target},
                  "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["looked at"]}}
    url = repository.url

    def refused(answer: requests.Response) -> None:
        assert answer.status_code == 403, answer.text
        assert answer.json()["permission"] == "mas-jobs:token"

    refused(requests.post(f"{url}/api/v1/digital-specimens", json=specimen(),
                          headers=bearer, timeout=30))
    refused(requests.post(f"{url}/api/v1/annotations", json=annotation, headers=bearer,
                          timeout=30))  # no ods:jobID
    refused(requests.post(f"{url}/api/v1/annotations", json={**annotation, "ods:jobID": other},
                          headers=bearer, timeout=30))
    refused(requests.post(f"{url}/api/v1/digital-specimens/"
                          f"{target.removeprefix(url + '/')}/mas",
                          json={"services": [service]}, headers=bearer, timeout=30))
    other_end = requests.put(job_api(repository, other), json={"status": "Completed"},
                             headers=bearer, timeout=30)
    assert other_end.status_code == 403 and other_end.json()["permission"] == "mas-jobs:end"
    assert requests.post(f"{url}/api/v1/mas-jobs", json={}, headers=repository.admin,
                         timeout=30).status_code == 405

    made = requests.post(f"{url}/api/v1/annotations", json={**annotation, "ods:jobID": job},
                         headers=bearer, timeout=30)
    assert made.status_code == 201, made.text
    end = requests.put(job_api(repository, job), json={"status": "Completed"}, headers=bearer,
                       timeout=30)
    assert end.status_code == 200 and end.json()["ods:jobState"] == "Completed"
    assert ended(repository, job)["annotations"] == [made.json()["@id"]]
    spent = requests.post(f"{url}/api/v1/annotations", json={**annotation, "ods:jobID": job},
                          headers=bearer, timeout=30)
    assert spent.status_code == 401 and "spent" in spent.json()["message"]
    forged = requests.post(f"{url}/api/v1/annotations", json=annotation, timeout=30, headers={
        "Authorization": f"Bearer {sent['callback']['token'][:-4]}AAAA"})
    assert forged.status_code == 401


def test_registering_and_running_refuse_what_does_not_fit(repository, stub) -> None:
    url = repository.url
    body = {"schema:name": "x", "ods:serviceEndpoint": stub(202).url,
            "ods:hasTargetDigitalObjectFilter": {"$['ods:topicDiscipline']": ["Botany"]},
            "ods:batchingPermitted": False}
    assert requests.post(f"{url}{SERVICES}", json=body, headers=repository.annotator,
                         timeout=30).status_code == 403
    unreadable = {**body, "ods:hasTargetDigitalObjectFilter": {"$..x": ["*"]}}
    answer = requests.post(f"{url}{SERVICES}", json=unreadable, headers=repository.admin,
                           timeout=30)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "/ods:hasTargetDigitalObjectFilter/$..x"
    botany = requests.post(f"{url}{SERVICES}", json=body, headers=repository.admin, timeout=30)
    assert botany.status_code == 201
    target = specimen_at(repository, "Belgium").removeprefix(url + "/")
    for services, path in (([botany.json()["@id"]], "/services/0"),
                           ([f"{url}/20.500.14920/AAA-AAA-AAA"], "/services/0"),
                           (["not a PID"], "/services/0"), ([], "/services")):
        answer = requests.post(f"{url}/api/v1/digital-specimens/{target}/mas",
                               json={"services": services}, headers=repository.annotator,
                               timeout=30)
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["errors"][0]["path"] == path


def test_a_run_on_a_search_makes_a_run_per_object_and_made_again_finds_them(
        repository: Repository, country_check: str, stub) -> None:
    service = register(repository, country_check, **{"ods:maxObjectsPerRun": 3})
    wrong = [specimen_at(repository, "Netherlands") for _ in range(2)]
    specimen_at(repository, "Belgium")
    url = f"{repository.url}/api/v1/digital-specimens/search/mas"
    answer = requests.post(url, json={"services": [service], "search": ""},
                           headers=repository.annotator, timeout=30)
    assert answer.status_code == 202 and answer.json()["total"] == 3, answer.text
    deadline = time.monotonic() + 60
    while (run := requests.get(answer.json()["run"], headers=repository.annotator,
                               timeout=30).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    assert run["status"] == "succeeded", run
    assert run["summary"] == {"runID": run["id"], "objects": 3, "scheduled": 3, "found": 0,
                              "notAdmitted": 0}
    jobs = [pid_url(repository.url, row.pid) for row in repository.fdo.index.all_objects()
            if row.kind == "mas-jobs"]
    records = [ended(repository, job) for job in jobs]
    assert [record["ods:jobState"] for record in records] == ["Completed"] * 3
    annotated = sorted(requests.get(annotation, headers={"Accept": "application/json"},
                                    timeout=30).json()["oa:hasTarget"]["@id"]
                       for record in records for annotation in record["annotations"])
    assert annotated == sorted(wrong)

    # The same run made again (its worker died) finds its records and queues nothing.
    services = MachineServices(repository.fdo, b"k" * 32)
    found = [(place, row.pid, 3) for place, row in enumerate(
        (row for row in repository.fdo.index.all_objects() if row.kind == "digital-specimens"),
        start=1)]
    queued: list[Any] = []
    again = services.run_on_search(run["id"], found, [service.removeprefix(
        repository.url + "/")], trusted(Agent("x", "x", "machine")), queued.append,
        lambda *_: None)
    assert again["found"] == 3 and again["scheduled"] == 0 and queued == []

    for fields, why in (({"ods:batchingPermitted": False}, "does not run on searches"),
                        ({"ods:maxObjectsPerRun": 2}, "takes at most 2 objects")):
        narrow = register(repository, stub(202).url, **fields)
        refused = requests.post(url, json={"services": [narrow], "search": ""},
                                headers=repository.annotator, timeout=30)
        assert refused.status_code == 422 and why in refused.json()["message"]
        assert refused.json()["errors"][0]["path"] == "/services/0"


PLACES = ("catalogNumber", "basisOfRecord", "scientificName", "country", "decimalLatitude",
          "decimalLongitude")


def placed_archive(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """A Darwin Core Archive of occurrences with a country and coordinates."""
    meta = ('<archive xmlns="http://rs.tdwg.org/dwc/text/"><core fieldsTerminatedBy="," '
            'ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence"><files>'
            '<location>occ.csv</location></files><id index="0"/>'
            + "".join(f'<field index="{n}" term="http://rs.tdwg.org/dwc/terms/{name}"/>'
                      for n, name in enumerate(PLACES, start=1)) + "</core></archive>")
    lines = ["id," + ",".join(PLACES)] + [",".join(row) for row in rows]
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("meta.xml", meta)
        zipped.writestr("occ.csv", "\n".join(lines) + "\n")
    return path


def test_an_ingest_runs_its_source_systems_services_on_what_it_creates_or_changes(
        repository: Repository, country_check: str, tmp_path: Path) -> None:
    service = register(repository, country_check)
    system = requests.post(f"{repository.url}/api/v1/source-systems", headers=repository.admin,
                           timeout=30, json={
                               "schema:name": "Naturalis CMS",
                               "ods:organisationID": "https://ror.org/0566bfb96",
                               "ods:defaultLicense": "https://creativecommons.org/publicdomain/zero/1.0/",
                               "ods:specimenMachineAnnotationServices": [service]})
    assert system.status_code == 201, system.text
    rows = [("r1", "RMNH.1", "PreservedSpecimen", "Bombus terrestris", "Netherlands", "50.85",
             "4.35"),
            ("r2", "RMNH.2", "PreservedSpecimen", "Apis mellifera", "Belgium", "50.85", "4.35")]

    def ingest(path: Path) -> dict[str, Any]:
        with path.open("rb") as stream:
            answer = requests.post(f"{repository.url}/api/v1/ingest-jobs",
                                   headers=repository.admin, timeout=60,
                                   data={"sourceSystem": system.json()["@id"], "format": "dwca"},
                                   files={"archive": ("occ.zip", stream)})
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 120
        while (job := requests.get(answer.headers["Location"], headers=repository.admin,
                                   timeout=30).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "succeeded", job
        return dict(job)

    first = ingest(placed_archive(tmp_path / "first.zip", rows))
    assert first["summary"]["machineAnnotation"] == {
        "scheduled": 2, "found": 0, "notAdmitted": 0, "servicesGone": 0}
    records = [ended(repository, pid_url(repository.url, row.pid))
               for row in repository.fdo.index.all_objects() if row.kind == "mas-jobs"]
    assert sorted(record["ods:jobState"] for record in records) == ["Completed"] * 2
    assert sorted(len(record["annotations"]) for record in records) == [0, 1]
    # The same dataset again changes nothing, so nothing runs; a changed record runs again.
    again = ingest(placed_archive(tmp_path / "again.zip", rows))
    assert again["summary"]["machineAnnotation"]["scheduled"] == 0
    moved = [rows[0], (*rows[1][:4], "Netherlands", *rows[1][5:])]
    changed = ingest(placed_archive(tmp_path / "moved.zip", moved))
    assert changed["summary"]["machineAnnotation"]["scheduled"] == 1


@pytest.mark.parametrize("token", ["é.é", "a.b", ".", "eyJqb2IiOiJ4In0.c2ln"])
def test_a_credential_shaped_like_a_job_token_that_is_none_is_401(client, token) -> None:
    answer = client.post("/api/v1/annotations", json={},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and answer.json["code"] == "invalid_token"
