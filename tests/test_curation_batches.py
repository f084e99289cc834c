"""Annotation batches (repository/batches.py): one annotation for each object a search
finds, made by a background job, resumable without duplicates, and decided as a whole;
through the app on real S3 and both index engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from flask.testing import FlaskClient

from repository.services import FDOService
from tests.conftest import ROOT
from tests.test_curation import OTHER_ORG
from tests.test_curation import people as people  # noqa: F401 - the fixture, used by name
from tests.test_ingest_jobs import finished

pytestmark = [pytest.mark.s3, pytest.mark.usefixtures("job_worker")]
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"
SPECIMENS = 12


def _specimens(client: FlaskClient, owner: dict[str, str], count: int = SPECIMENS,
               family: str = "Carabidae", organisation: str | None = None) -> list[str]:
    made = []
    for number in range(count):
        record = {
            "ods:physicalSpecimenID": f"RMNH.COL.{family}.{number:04d}",
            "ods:physicalSpecimenIDType": "Local",
            "ods:organisationID": organisation or "https://ror.org/0566bfb96",
            "ods:hasIdentifications": [{"@type": "ods:Identification",
                                        "ods:isVerifiedIdentification": True,
                                        "ods:hasTaxonIdentifications": [{
                                            "@type": "ods:TaxonIdentification",
                                            "dwc:scientificName": "Carabus auratus",
                                            "dwc:family": family}]}],
            "ods:hasEvents": [{"@type": "ods:Event", "ods:hasLocation": {
                "@type": "ods:Location", "dwc:locality": "Leiden"}}]}
        response = client.post("/api/v1/digital-specimens", json=record, headers=owner)
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json()["@id"])
    return made


def _batch(**extra: Any) -> dict[str, Any]:
    return {"search": "family=Carabidae", "annotation": {
        "oa:motivation": "oa:editing",
        "oa:hasTarget": {"oa:hasSelector": {"@type": "ods:TermSelector", "ods:term": LOCALITY}},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Leiden, Hortus"]}}, **extra}


def _listed(client: FlaskClient, batch_id: str) -> list[dict[str, Any]]:
    service: FDOService = client.application.extensions["fdo"]
    return [record.content for record in service.current_records(
        [row[0] for row in service.index.annotations.all_rows() if row[5] == batch_id])]


def test_a_dry_run_counts_and_shows_a_sample_and_writes_nothing(client, people):
    made = _specimens(client, people["owner"])
    _specimens(client, people["owner"], 3, family="Apidae")
    planned = client.post("/api/v1/annotations/batches", json=_batch(dryRun=True),
                          headers=people["annotator"])
    assert planned.status_code == 200, planned.get_json()
    body = planned.get_json()
    assert body["total"] == SPECIMENS and len(body["sample"]) == 10
    assert set(body["sample"]) <= set(made)
    assert body["annotation"]["ods:mergingDecisionStatus"] == "Pending"
    assert body["annotation"]["ods:placeInBatch"] == 1
    assert _listed(client, body["batchID"]) == []
    nothing = client.post("/api/v1/annotations/batches", headers=people["annotator"],
                          json=_batch(search="family=Nonexistidae", dryRun=True))
    assert nothing.status_code == 422 and nothing.get_json()["errors"][0]["path"] == "/search"
    wrong = client.post("/api/v1/annotations/batches", headers=people["annotator"], json={
        **_batch(dryRun=True), "annotation": {**_batch()["annotation"],
                                              "oa:hasBody": {"@type": "oa:TextualBody",
                                                             "oa:value": ["a", "b"]}}})
    assert wrong.status_code == 422


def test_a_batch_makes_one_annotation_per_target_and_sent_again_makes_none(client, people):
    made = _specimens(client, people["owner"])
    started = client.post("/api/v1/annotations/batches", json=_batch(),
                          headers=people["annotator"])
    assert started.status_code == 202, started.get_json()
    batch_id = started.get_json()["batchID"]
    job_path = started.get_json()["job"].removeprefix("http://fdo.test")
    job = finished(client, people["annotator"], job_path)
    assert job["status"] == "succeeded", job
    assert job["summary"]["created"] == SPECIMENS
    # Its maker and administrators see the job; another curator does not.
    assert client.get(job_path, headers=people["owner"]).status_code == 200
    assert client.get(job_path, headers=people["curator"]).status_code == 403
    annotations = _listed(client, batch_id)
    assert sorted(a["oa:hasTarget"]["@id"] for a in annotations) == sorted(made)
    assert sorted(a["ods:placeInBatch"] for a in annotations) == list(range(1, SPECIMENS + 1))
    status = client.get(started.headers["Location"].removeprefix("http://fdo.test")).get_json()
    assert status == {"batchID": batch_id, "total": SPECIMENS,
                      "annotations": {"Pending": SPECIMENS}}
    again = client.post("/api/v1/annotations/batches", json=_batch(batchID=batch_id),
                        headers=people["annotator"])
    job = finished(client, people["annotator"], again.get_json()["job"].removeprefix(
        "http://fdo.test"))
    assert job["summary"].get("created", 0) == 0 and job["summary"]["found"] == SPECIMENS
    assert len(_listed(client, batch_id)) == SPECIMENS


KILLED_RUN = """
import json, os, sys
from repository import build_service
from repository.access import trusted
from repository.batches import Batches, parsed_request
from repository.config import Config
from repository.decisions import Decisions
from repository.keys import purpose_key
from repository.provenance import Agent
from repository.search import Search
config = Config.from_environment()
fdo = build_service(config)
search = Search(fdo.index, config.base_url, purpose_key(b"k" * 32, "search-cursor"))
batches = Batches(fdo, search, Decisions(fdo.index, fdo.reader, fdo.writes, fdo.base_url))
actor = trusted(Agent(**json.loads(sys.argv[1])))
work = batches.making(parsed_request(json.loads(sys.argv[2])), actor)
def killed(done, total):  # the process dies half-way through the batch
    if done == int(sys.argv[3]):
        os._exit(137)
work(killed)
"""


def test_a_batch_killed_half_way_and_run_again_completes_once(client, people, config):
    made = _specimens(client, people["owner"])
    request = _batch(batchID="6f1c2f8e-1d2b-4c5a-9e7f-0a1b2c3d4e5f")
    agent = {"id": "https://orcid.org/0000-0002-1825-0097", "name": "Ann Otator",
             "role": "annotator"}
    env = {**os.environ, **config.to_environment()}
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, json.dumps(agent),
                             json.dumps(request), str(SPECIMENS // 2)],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137, killed.stderr
    assert len(_listed(client, request["batchID"])) == SPECIMENS // 2
    again = client.post("/api/v1/annotations/batches", json=request,
                        headers=people["annotator"])
    job = finished(client, people["annotator"], again.get_json()["job"].removeprefix(
        "http://fdo.test"))
    assert job["summary"] == {"batchID": request["batchID"], "targets": SPECIMENS,
                              "created": SPECIMENS // 2, "found": SPECIMENS // 2}
    annotations = _listed(client, request["batchID"])
    assert sorted(a["oa:hasTarget"]["@id"] for a in annotations) == sorted(made)
    assert len({a["@id"] for a in annotations}) == SPECIMENS


def test_a_batch_decided_as_a_whole_gives_each_target_its_own_version(client, people):
    ours = _specimens(client, people["owner"], 4)
    theirs = _specimens(client, people["owner"], 2, organisation=OTHER_ORG)
    started = client.post("/api/v1/annotations/batches", json=_batch(),
                          headers=people["annotator"])
    finished(client, people["annotator"], started.get_json()["job"].removeprefix(
        "http://fdo.test"))
    batch_id = started.get_json()["batchID"]
    refused = client.post(f"/api/v1/annotations/batches/{batch_id}/decision",
                          json={"ods:mergingDecisionStatus": "Approved"},
                          headers=people["annotator"])
    assert refused.status_code == 403
    decided = client.post(f"/api/v1/annotations/batches/{batch_id}/decision",
                          json={"ods:mergingDecisionStatus": "Approved"},
                          headers=people["curator"])
    assert decided.status_code == 202
    job = finished(client, people["curator"], decided.get_json()["job"].removeprefix(
        "http://fdo.test"))
    assert job["summary"] == {"batchID": batch_id, "approved": 4, "Forbidden": 2}
    status = client.get(f"/api/v1/annotations/batches/{batch_id}").get_json()
    assert status["annotations"] == {"Approved": 4, "Pending": 2}
    for url in ours:
        latest = client.get("/api/v1/digital-specimens/" + url.removeprefix("http://fdo.test/"))
        location = latest.get_json()["ods:hasEvents"][0]["ods:hasLocation"]
        assert (latest.get_json()["ods:version"], location["dwc:locality"]) == (2, "Leiden, Hortus")
    for url in theirs:
        latest = client.get("/api/v1/digital-specimens/" + url.removeprefix("http://fdo.test/"))
        assert latest.get_json()["ods:version"] == 1


def test_a_batch_goes_on_past_targets_it_does_not_fit_and_is_its_makers(client, people):
    _specimens(client, people["owner"], 3)
    bare = client.post("/api/v1/digital-specimens", headers=people["owner"], json={
        "ods:physicalSpecimenID": "RMNH.COL.zzz", "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": "https://ror.org/0566bfb96",
        "ods:hasIdentifications": [{"@type": "ods:Identification",
                                    "ods:isVerifiedIdentification": True,
                                    "ods:hasTaxonIdentifications": [{
                                        "@type": "ods:TaxonIdentification",
                                        "dwc:scientificName": "Carabus", "dwc:family":
                                        "Carabidae"}]}]})
    assert bare.status_code == 201  # no event: the locality edit does not fit it
    started = client.post("/api/v1/annotations/batches", json=_batch(),
                          headers=people["annotator"])
    job = finished(client, people["annotator"], started.get_json()["job"].removeprefix(
        "http://fdo.test"))
    assert job["status"] == "succeeded", job
    assert (job["summary"]["created"], job["summary"]["Unprocessable"]) == (3, 1)
    batch_id = started.get_json()["batchID"]
    hijack = client.post("/api/v1/annotations/batches", json=_batch(batchID=batch_id),
                         headers=people["curator"])
    assert hijack.status_code == 403
