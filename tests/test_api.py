"""The JSON API through Flask's client, over real S3 and a real index (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import jsonpatch
import pytest
from flask.testing import FlaskClient

from tests.material import files
from tests.records import annotation, media, specimen

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
SPECIMENS = "/api/v1/digital-specimens"


def api_path(kind: str, object_id: str) -> str:
    return f"/api/v1/{kind}/{object_id.removeprefix(BASE + '/')}"


def create(client: FlaskClient, auth: dict[str, str], record: dict[str, Any],
           kind: str = "digital-specimens") -> tuple[str, dict[str, Any], str]:
    response = client.post(f"/api/v1/{kind}", json=record, headers=auth)
    assert response.status_code == 201, response.json
    return api_path(kind, response.json["@id"]), response.json, response.headers["ETag"]


def test_create_returns_the_stored_object_with_pid_and_version_1(client, auth):
    response = client.post(SPECIMENS, json=specimen(), headers=auth)
    assert response.status_code == 201
    body = response.json
    assert re.fullmatch(rf"{BASE}/10\.82621/[A-Z0-9]{{3}}-[A-Z0-9]{{3}}-[A-Z0-9]{{3}}", body["@id"])
    assert response.headers["Location"] == body["@id"] == body["dcterms:identifier"]
    assert body["ods:version"] == 1 and body["ods:status"] == "Active"
    assert body["@type"] == "ods:DigitalSpecimen"
    assert body["ods:fdoType"] == "https://doi.org/21.T11148/894b1e6cad57e921764e"
    assert re.fullmatch(r'"[0-9a-f]{64}"', response.headers["ETag"])
    # A local physical ID is scoped by the organisation when no source system is given.
    assert body["ods:normalisedPhysicalSpecimenID"].endswith(":https://ror.org/0566bfb96")


def test_server_owned_fields_from_the_client_are_replaced(client, auth):
    sent = specimen(**{"@id": "https://doi.org/10.1/AAA-AAA-AAA", "ods:version": 7,
                       "ods:status": "Tombstone", "dcterms:created": "1999-01-01T00:00:00Z"})
    _, body, _ = create(client, auth, sent)
    assert body["@id"].startswith(BASE) and body["ods:version"] == 1
    assert body["ods:status"] == "Active" and body["dcterms:created"] != sent["dcterms:created"]


def test_annotations_get_handles_and_media_dois(client, auth):
    _, stored, _ = create(client, auth, specimen())
    _, image, _ = create(client, auth, media(), "digital-media")
    _, note, _ = create(client, auth, annotation(stored["@id"]), "annotations")
    assert image["@id"].startswith(f"{BASE}/10.82621/")
    assert note["@id"].startswith(f"{BASE}/20.500.14920/")


def test_get_latest_versions_and_one_version(client, auth):
    path, created, etag = create(client, auth, specimen())
    changed = {**created, "ods:specimenName": "Bombus lucorum"}
    updated = client.put(path, json=changed, headers={**auth, "If-Match": etag})
    assert updated.status_code == 200 and updated.json["ods:version"] == 2

    latest = client.get(path)
    assert latest.json["ods:specimenName"] == "Bombus lucorum"
    assert latest.headers["ETag"] == updated.headers["ETag"]

    listing = client.get(f"{path}/versions").json["versions"]
    assert [v["version"] for v in listing] == [1, 2]
    assert [v["activity"] for v in listing] == ["Create", "Update"]
    assert listing[0]["digest"] == etag.strip('"')
    assert listing[1]["agent"]["@id"] == "https://orcid.org/0000-0002-1825-0097"

    first = client.get(f"{path}/versions/1")
    assert first.json == created
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(f"{path}/versions/3").status_code == 404


def test_provenance_records_who_what_and_from_which_version(client, auth):
    path, created, etag = create(client, auth, specimen())
    client.put(path, json={**created, "dwc:preparations": "pinned"},
               headers={**auth, "If-Match": etag})
    latest = client.get(path)
    link = latest.headers["Link"]
    assert 'rel="http://www.w3.org/ns/prov#has_provenance"' in link
    assert link.startswith(f"<{BASE}{path}/versions/2/provenance>")
    event = client.get(f"{path}/versions/2/provenance").json
    activity = event["prov:Activity"]
    assert activity["@type"] == "ods:Update"
    assert activity["ods:changeValue"] == [
        {"op": "add", "path": "/dwc:preparations", "value": "pinned"}]
    assert event["prov:Entity"]["prov:wasRevisionOf"] == f"{created['@id']}/1"
    assert {"@id": "https://orcid.org/0000-0002-1825-0097", "prov:hadRole": "Requestor"} in \
        activity["prov:wasAssociatedWith"]
    assert event["ods:hasAgents"][0]["schema:name"] == "Ada Curator"


def test_replaying_the_provenance_patches_rebuilds_every_version(client, auth):
    path, created, etag = create(client, auth, specimen())
    edits = [{"dwc:preparations": "pinned"}, {"ods:specimenName": "Bombus sp."}]
    current = created
    for edit in edits:
        response = client.put(path, json={**current, **edit}, headers={**auth, "If-Match": etag})
        current, etag = response.json, response.headers["ETag"]
    replayed: dict[str, Any] = {}
    for number in (1, 2, 3):
        patch = client.get(f"{path}/versions/{number}/provenance").json
        replayed = jsonpatch.apply_patch(replayed, patch["prov:Activity"]["ods:changeValue"])
        stored = client.get(f"{path}/versions/{number}").json
        assert replayed == {k: v for k, v in stored.items()
                            if k not in ("ods:version", "dcterms:modified")}


def test_put_needs_if_match_and_refuses_a_stale_one(client, auth):
    path, created, etag = create(client, auth, specimen())
    assert client.put(path, json=created, headers=auth).status_code == 428
    first = client.put(path, json={**created, "dwc:preparations": "a"},
                       headers={**auth, "If-Match": etag})
    assert first.status_code == 200
    stale = client.put(path, json={**created, "dwc:preparations": "b"},
                       headers={**auth, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["code"] == "precondition_failed"
    assert client.get(path).json["dwc:preparations"] == "a"


def test_an_identical_change_creates_no_version(client, auth):
    path, created, etag = create(client, auth, specimen())
    same = client.put(path, json=created, headers={**auth, "If-Match": etag})
    assert same.status_code == 200 and same.headers["ETag"] == etag
    assert same.json["ods:version"] == 1
    assert len(client.get(f"{path}/versions").json["versions"]) == 1


def test_json_patch_updates_with_the_same_preconditions(client, auth):
    path, _, etag = create(client, auth, specimen())
    ops = [{"op": "replace", "path": "/ods:specimenName", "value": "Apis mellifera"}]
    patch_headers = {**auth, "Content-Type": "application/json-patch+json"}
    assert client.patch(path, json=ops, headers=patch_headers).status_code == 428
    response = client.patch(path, json=ops, headers={**patch_headers, "If-Match": etag})
    assert response.status_code == 200 and response.json["ods:specimenName"] == "Apis mellifera"
    wrong_type = client.patch(path, json=ops, headers={**auth, "If-Match": etag})
    assert wrong_type.status_code == 415
    broken = [{"op": "remove", "path": "/no-such-field"}]
    etag2 = response.headers["ETag"]
    assert client.patch(path, json=broken,
                        headers={**patch_headers, "If-Match": etag2}).status_code == 422


def test_tombstone_keeps_history_and_refuses_writes(client, auth):
    path, created, etag = create(client, auth, specimen())
    _, successor, _ = create(client, auth, specimen())
    gone = client.delete(path, json={"reason": "duplicate record", "replacedBy": successor["@id"]},
                         headers=auth)
    assert gone.status_code == 200
    assert gone.json["ods:status"] == "Tombstone" and gone.json["ods:version"] == 2
    metadata = gone.json["ods:hasTombstoneMetadata"]
    assert metadata["ods:tombstoneText"] == "duplicate record"
    assert metadata["ods:hasRelatedPIDs"][0]["dcterms:identifier"] == successor["@id"]

    latest = client.get(path)
    assert latest.status_code == 410
    assert latest.json["tombstone"]["ods:status"] == "Tombstone"
    assert client.get(f"{path}/versions/1").json == created
    assert client.get(f"{path}/versions/2/provenance").json["prov:Activity"]["@type"] == \
        "ods:Tombstone"
    write = client.put(path, json=created, headers={**auth, "If-Match": gone.headers["ETag"]})
    assert write.status_code == 409
    assert client.delete(path, json={"reason": "again"}, headers=auth).status_code == 409


def test_one_digital_specimen_per_physical_specimen(client, auth):
    record = specimen()
    path, created, _ = create(client, auth, record)
    duplicate = client.post(SPECIMENS, json=record, headers=auth)
    assert duplicate.status_code == 409
    assert duplicate.json["existing"] == created["@id"]
    # Once the first is tombstoned the physical specimen may get a new digital specimen.
    client.delete(path, json={"reason": "re-digitised"}, headers=auth)
    assert client.post(SPECIMENS, json=record, headers=auth).status_code == 201


def test_annotation_target_must_exist(client, auth):
    _, stored, _ = create(client, auth, specimen())
    missing = client.post("/api/v1/annotations", headers=auth,
                          json=annotation(f"{BASE}/10.82621/AAA-BBB-CCC"))
    assert missing.status_code == 422
    assert missing.json["errors"][0]["path"] == "/oa:hasTarget/@id"
    pinned = client.post("/api/v1/annotations", headers=auth,
                         json=annotation(f"{stored['@id']}/1"))
    assert pinned.status_code == 201
    future = client.post("/api/v1/annotations", headers=auth,
                         json=annotation(f"{stored['@id']}/2"))
    assert future.status_code == 422
    doi_form = client.post("/api/v1/annotations", headers=auth, json=annotation(
        "https://doi.org/" + stored["@id"].removeprefix(BASE + "/").lower()))
    assert doi_form.status_code == 201


def test_pids_resolve_case_insensitively(client, auth):
    path, _, _ = create(client, auth, specimen())
    assert client.get(path.lower().replace("/api/v1/digital-specimens", SPECIMENS)
                      ).status_code == 200


@pytest.mark.parametrize(("headers", "code", "challenge"), [
    ({}, "unauthorized", 'Bearer realm="fdo"'),
    ({"Authorization": "Basic Zm9vOmJhcg=="}, "unauthorized", 'Bearer realm="fdo"'),
    ({"Authorization": "Bearer nope"}, "invalid_token",
     'Bearer realm="fdo", error="invalid_token", '
     'error_description="the bearer token is not valid"'),
])
def test_writes_need_a_valid_token(client, headers, code, challenge):
    """RFC 6750 section 3: no credentials, the bare challenge; refused ones, the reason."""
    response = client.post(SPECIMENS, json=specimen(), headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == code
    assert response.headers["WWW-Authenticate"] == challenge


def test_schema_errors_list_every_violation_with_json_pointers(client, auth):
    bad = specimen(**{"ods:topicDiscipline": "Alchemy", "dwc:notATerm": 1})
    del bad["ods:organisationID"]
    response = client.post(SPECIMENS, json=bad, headers=auth)
    assert response.status_code == 422
    body = response.json
    assert set(body) == {"status", "code", "message", "errors"}
    paths = {error["path"] for error in body["errors"]}
    assert {"/ods:topicDiscipline", "/dwc:notATerm", "/ods:organisationID"} <= paths


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"{not json", "application/json", 400, "malformed_json"),
    (b'{"a": NaN}', "application/json", 400, "malformed_json"),
    (b"\xff\xfe", "application/json", 400, "malformed_json"),
    (b"[" * 100000 + b"]" * 100000, "application/json", 413, "request_entity_too_large"),
    (b"[1, 2]", "application/json", 422, "schema_invalid"),
    (b"{}", "text/plain", 415, "unsupported_media_type"),
    (b"{}", "", 415, "unsupported_media_type"),
])
def test_bad_bodies_get_clear_errors(client, auth, body, content_type, status, code):
    response = client.post(SPECIMENS, data=body, headers={**auth, "Content-Type": content_type})
    assert response.status_code == status
    assert response.json["code"] == code and response.json["status"] == status


def test_deeply_nested_json_is_a_client_error(client, auth):
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    response = client.post(SPECIMENS, data=body,
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code in (400, 422)


def test_unknown_kind_pid_and_malformed_pid(client, auth):
    assert client.get("/api/v1/rocks/10.82621/AAA-BBB-CCC").json["code"] == "not_found"
    assert client.post("/api/v1/rocks", json={}, headers=auth).status_code == 404
    assert client.get(f"{SPECIMENS}/10.82621/AAA-BBB-CCC").status_code == 404
    assert client.get(f"{SPECIMENS}/10.82621/nonsense").status_code == 400
    assert client.get("/no/such/path/at/all").status_code == 404


def test_an_object_is_not_found_under_another_kind(client, auth):
    path, _, _ = create(client, auth, specimen())
    assert client.get(path.replace("digital-specimens", "digital-media")).status_code == 404


def test_method_not_allowed_is_json(client):
    response = client.put(SPECIMENS)
    assert response.status_code == 405 and response.json["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", files("samples/opends-records/upstream-invalid"))
def test_real_records_that_break_opends_get_422_naming_each_problem(client, auth, path):
    response = client.post(SPECIMENS, data=path.read_bytes(),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors and all(error["path"].startswith("/ods:has") for error in errors)
    assert any("ods:isVerifiedIdentification" in error["message"] for error in errors)
