"""No request a client can send yields a 500: odd bodies, patches, headers and paths."""

from __future__ import annotations

import json

import pytest
import requests

from repository.tokens import create_token
from tests.records import annotation, specimen

pytestmark = pytest.mark.s3
PATCH = "application/json-patch+json"


@pytest.fixture
def stored(client, auth):
    response = client.post("/api/v1/digital-specimens", json=specimen(), headers=auth)
    path = "/api/v1/digital-specimens/" + response.json["@id"].split("/", 3)[3]
    return path, response.headers["ETag"]


@pytest.mark.parametrize(("ops", "status"), [
    ({}, 422),
    ([1, 2], 422),
    ([{"op": "frobnicate", "path": "/x"}], 422),
    ([{"op": "add"}], 422),
    ([{"op": "replace", "path": "", "value": [1]}], 422),
    ([{"op": "add", "path": "/dwc:notATerm", "value": 1}], 422),
    ([{"op": "remove", "path": "/ods:physicalSpecimenID"}], 422),
    ([{"op": "test", "path": "/ods:specimenName", "value": "wrong"}], 422),
    ([{"op": "add", "path": "/@id", "value": "http://elsewhere/x"}], 200),
    ([], 200),
])
def test_odd_patches_are_client_errors_or_no_ops(client, auth, stored, ops, status):
    path, etag = stored
    response = client.patch(path, json=ops,
                            headers={**auth, "Content-Type": PATCH, "If-Match": etag})
    assert response.status_code == status, response.json
    if status == 200:  # server-owned fields cannot be patched: nothing changed
        assert response.json["ods:version"] == 1 and response.headers["ETag"] == etag


@pytest.mark.parametrize("body", [
    {}, {"reason": ""}, {"reason": 5}, {"reason": "x", "replacedBy": 5},
    {"reason": "x", "replacedBy": "not a pid"}, {"reason": "x", "replacedBy": "10.1/AAA-AAA-AAA"},
    [], "reason",
])
def test_bad_tombstone_requests_change_nothing(client, auth, stored, body):
    path, etag = stored
    response = client.delete(path, json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["path"] in ("/reason", "/replacedBy")
    assert client.get(path).headers["ETag"] == etag


@pytest.mark.parametrize("if_match", ['W/"abc"', '"a", "b"', "garbage", '""'])
def test_odd_if_match_headers_are_412(client, auth, stored, if_match):
    path, _ = stored
    response = client.put(path, json=specimen(), headers={**auth, "If-Match": if_match})
    assert response.status_code == 412


@pytest.mark.parametrize("target", [None, 5, "", "not a pid", {"@id": 5}, ["x"]])
def test_odd_annotation_targets_are_422(client, auth, target):
    record = annotation("placeholder")
    record["oa:hasTarget"] = target
    response = client.post("/api/v1/annotations", json=record, headers=auth)
    assert response.status_code == 422


@pytest.mark.parametrize("path", [
    "/api/v1/digital-specimens/10.82621/AAA-BBB-CCC/versions/0",
    "/api/v1/digital-specimens/10.82621/AAA-BBB-CCC/versions/99999999999999999999",
    "/api/v1/digital-specimens/%00/%ff",
    "/api/v1/digital-specimens/10.82621/" + "A" * 5000,
    "/api/v1/annotations/20.x/AAA-BBB-CCC/versions",
])
def test_odd_paths_are_4xx(client, path):
    assert 400 <= client.get(path).status_code < 500


def test_documents_nested_too_deep_are_refused_with_the_path(client, auth):
    nested: dict = {}
    innermost = nested
    for _ in range(40):
        innermost["dwc:x"] = {}
        innermost = innermost["dwc:x"]
    response = client.post("/api/v1/digital-specimens", json=specimen(**{"dwc:deep": nested}),
                           headers=auth)
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["path"].startswith("/dwc:deep/dwc:x/") and "deeper than 32" in error["message"]


@pytest.mark.parametrize("raw", ['"ctl \\u0001"', '"nul \\u0000"', '"lone \\ud800"', '"\\uffff"'])
def test_characters_no_served_format_can_carry_are_refused(client, auth, raw):
    body = '{"ods:physicalSpecimenID": "X.1", "ods:physicalSpecimenIDType": "Local", ' \
           '"ods:organisationID": "https://ror.org/0566bfb96", ' \
           f'"dwc:basisOfRecord": "PreservedSpecimen", "dwc:preparations": {raw}}}'
    response = client.post("/api/v1/digital-specimens", data=body, headers={
        **auth, "Content-Type": "application/json"})
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["path"] == "/dwc:preparations" and "character U+" in error["message"]


def doubling_copies(count: int) -> list[dict]:
    """Each operation copies the whole of what the previous ones made: 2^count copies."""
    ops: list[dict] = [{"op": "add", "path": "/dwc:preparations", "value": "x" * 40}]
    ops += [{"op": "add", "path": "/ods:hasEvents",
             "value": [{"@type": "ods:Event", "dwc:eventRemarks": "a"}]}]
    for _ in range(count):
        ops.append({"op": "copy", "from": "/ods:hasEvents/0", "path": "/ods:hasEvents/-"})
        ops.append({"op": "copy", "from": "/ods:hasEvents", "path": "/ods:hasEvents/0/x"})
    return ops


def test_a_patch_that_doubles_the_document_is_refused_before_it_grows(client, auth, stored):
    path, etag = stored
    response = client.patch(path, json=doubling_copies(20),
                            headers={**auth, "Content-Type": PATCH, "If-Match": etag})
    assert response.status_code in (413, 422), response.json
    assert len(response.data) < 10_000  # it was 118 MB
    assert client.get(path).headers["ETag"] == etag


@pytest.mark.parametrize(("ops", "status", "where"), [
    ([{"op": "x"}] * 1001, 413, None),  # (an unknown operation otherwise: 422)
    ([{"op": "add", "path": "/dwc:preparations", "value": "x" * 50_000},
      *[{"op": "copy", "from": "/dwc:preparations", "path": f"/dwc:x{n}"} for n in range(50)]],
     413, "/41"),
    ([{"op": "add", "path": "/ods:hasEvents", "value": [{"@type": "ods:Event"}]},
      *[{"op": "copy", "from": "/ods:hasEvents", "path": "/ods:hasEvents/0/ods:hasEvents"}
        for _ in range(40)]], 422, "/15"),
])
def test_patches_are_bounded_in_operations_size_and_depth(client, auth, stored, ops, status,
                                                          where):
    path, etag = stored
    response = client.patch(path, json=ops,
                            headers={**auth, "Content-Type": PATCH, "If-Match": etag})
    assert response.status_code == status, response.json
    if where:  # names the operation at fault by its index in the patch
        assert response.json["errors"][0]["path"] == where
    assert len(response.data) < 10_000


def test_error_bodies_name_the_value_at_fault_without_repeating_it(client, auth):
    bad = {f"dwc:x{n}": "y" * 50 for n in range(300)}  # 300 terms, none allowed here
    response = client.post("/api/v1/digital-specimens",
                           json=specimen(**{"ods:specimenName": ["z" * 20_000]}, **bad),
                           headers=auth)
    assert response.status_code == 422
    body = response.json
    assert len(response.data) < 50_000 and len(body["errors"]) == 101
    assert body["errors"][-1]["message"] == "and 201 more"
    assert all(len(error["message"]) <= 300 for error in body["errors"])


def test_patch_amplification_is_refused_through_gunicorn(gunicorn, service):
    token = create_token(service.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    created = session.post(f"{gunicorn}/api/v1/digital-specimens", json=specimen(), timeout=30)
    path = f"{gunicorn}/api/v1/digital-specimens/" + created.json()["@id"].split("/", 3)[3]
    for count in (20, 30):
        response = session.patch(path, data=json.dumps(doubling_copies(count)), timeout=30,
                                 headers={"Content-Type": PATCH,
                                          "If-Match": created.headers["ETag"]})
        assert response.status_code in (413, 422) and len(response.content) < 10_000
    assert session.get(path, timeout=30).headers["ETag"] == created.headers["ETag"]
