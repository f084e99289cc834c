"""GET /health reports on the real S3 and index, and names the failing part."""

from __future__ import annotations

from dataclasses import replace

import pytest
import servers

from repository.access import trusted
from repository.provenance import Agent
from tests.records import specimen

pytestmark = pytest.mark.s3
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))


def test_health_is_ok_when_both_parts_answer(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "storage": "ok", "index": "ok"}


def test_health_names_an_unreachable_object_store(config, make_app):
    closed = f"http://127.0.0.1:{servers.free_port()}"
    response = make_app(replace(config, s3_endpoint=closed)).test_client().get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable" and response.json["index"] == "ok"
    assert response.json["storage"] == "unreachable: connection refused"
    assert response.headers["Retry-After"].isdigit()


def test_health_names_an_unreachable_index(config, tmp_path, make_app):
    missing = f"sqlite:///{tmp_path / 'no-such-dir' / 'index.sqlite3'}"
    response = make_app(replace(config, database_url=missing)).test_client().get("/health")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "storage": "ok",
                             "index": "unreachable: database error"}


def test_health_names_no_host_or_bucket_when_the_store_refuses_the_credentials(config, make_app):
    response = make_app(replace(config, s3_secret_key="wrong-secret")).test_client().get("/health")
    assert response.status_code == 503
    assert response.json["storage"] == "unreachable: HTTP 403"
    assert "127.0.0.1" not in response.text and config.s3_bucket not in response.text


def test_reads_answer_503_not_500_when_the_store_is_down(config, auth, make_app):
    closed = f"http://127.0.0.1:{servers.free_port()}"
    client = make_app(replace(config, s3_endpoint=closed)).test_client()
    response = client.post("/api/v1/digital-specimens", headers=auth, json={
        "ods:physicalSpecimenID": "X1", "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": "https://ror.org/0566bfb96"})
    assert response.status_code == 503 and response.json["code"] == "storage_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert "127.0.0.1" not in response.text and config.s3_bucket not in response.text


def test_a_read_answers_503_when_the_store_goes_down(config, auth, make_app, service):
    made = service.create("digital-specimens", specimen(), CURATOR)
    closed = f"http://127.0.0.1:{servers.free_port()}"
    client = make_app(replace(config, s3_endpoint=closed)).test_client()
    response = client.get(f"/{made.pid}", headers={"Accept": "application/ld+json"})
    assert response.status_code == 503 and response.json["code"] == "storage_unavailable"
    api = client.get(f"/api/v1/digital-specimens/{made.pid}", headers=auth)
    assert api.status_code == 503 and api.json["code"] == "storage_unavailable"
