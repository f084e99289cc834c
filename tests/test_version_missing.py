"""A version the index lists and S3 has lost: one error, one answer, from the API and the
resolver alike (real SeaweedFS, the key deleted behind the repository's back)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from storage.reader import VersionMissing
from storage.versions import version_key
from tests.records import specimen

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"


def _lose(app: Flask, pid: str, number: int) -> None:
    """Delete a version's key with the raw store: the index still lists it."""
    fdo: FDOService = app.extensions["fdo"]
    fdo.store.client.delete_object(Bucket=fdo.store.bucket, Key=version_key(pid, number))


def _assert_version_missing(response, pid: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.data
    body = response.json
    assert body["code"] == "version_missing" and body["status"] == 503
    assert pid in body["message"] and "fdo/" not in body["message"]  # names no key
    assert response.headers["Retry-After"].isdigit()


def test_a_version_missing_from_s3_answers_503_version_missing_from_api_and_resolver(
        app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    created = client.post("/api/v1/digital-specimens", json=specimen(), headers=auth)
    pid = created.json["@id"].removeprefix(BASE + "/")
    updated = client.put(f"/api/v1/digital-specimens/{pid}",
                         json={**specimen(), "ods:specimenName": "Bombus lapidarius"},
                         headers={**auth, "If-Match": created.headers["ETag"]})
    assert updated.status_code == 200
    _lose(app, pid, 1)
    json = {"Accept": "application/json"}
    _assert_version_missing(client.get(f"/api/v1/digital-specimens/{pid}/versions/1"), pid)
    _assert_version_missing(client.get(f"/{pid}/1", headers=json), pid)
    _assert_version_missing(client.get(f"/doi/{pid}/1", headers=json), pid)
    # The other version is still served (by the API: the resolver would cache it).
    assert client.get(f"/api/v1/digital-specimens/{pid}").status_code == 200
    _lose(app, pid, 2)
    _assert_version_missing(client.get(f"/api/v1/digital-specimens/{pid}"), pid)
    _assert_version_missing(client.get(f"/{pid}", headers=json), pid)


def test_the_reader_raises_version_missing_for_one_version_and_for_many(
        service: FDOService) -> None:
    agent = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada",
                          role="curator"))
    pids = [service.create("digital-specimens", specimen(), agent).pid for _ in range(3)]
    service.store.client.delete_object(Bucket=service.store.bucket,
                                       Key=version_key(pids[1], 1))
    reader = service.reader
    assert reader.version(pids[0], 1).pid == pids[0]
    with pytest.raises(VersionMissing):
        reader.version(pids[1], 1)
    read = reader.versions([(pid, 1) for pid in pids])
    assert next(read).pid == pids[0]  # in order, up to the missing one
    with pytest.raises(VersionMissing):
        next(read)
