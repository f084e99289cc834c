"""Who may change what (repository/access.py), through the app on real S3 and a real index:
every write route for every kind of principal, and for each refusal nothing written (no
version, feed entry, S3 object, job, grant or token)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from repository.tokens import create_token, token_hash
from storage.models import GrantRow, IngestJobRow, TokenRow
from tests.oidc import ORGANISATION, USERS, sign_in_tokens
from tests.records import annotation, specimen
from tests.test_ingest import COLUMNS, META, ROWS
from tests.test_ingest_jobs import finished

pytest_plugins = ("tests.oidc",)
pytestmark = pytest.mark.s3
ORG_A, ORG_B = ORGANISATION, "https://ror.org/039zvsn29"  # ada of tests.oidc curates A
SOURCE_A_PID = "20.500.14920/SRC-AAA-AAA"
SOURCE_A = f"https://hdl.handle.net/{SOURCE_A_PID}"
SOURCE_B = "https://hdl.handle.net/20.500.14920/SRC-BBB-BBB"
OTHER = trusted(Agent(id="https://orcid.org/0000-0001-5109-3700", name="Someone Else",
                      role="annotator"))
SPECIMENS = "/api/v1/digital-specimens"
# Who asks: the token's grant (None: no token; "expired"/"revoked": a refused token; a
# person of tests.oidc signed in at the local provider, roles by its roles claim).
PRINCIPALS: dict[str, tuple[str, dict[str, str]] | str | None] = {
    "anonymous": None,
    "expired": "expired",
    "revoked": "revoked",
    "annotator": ("annotator", {}),
    "curator of A": ("curator", {"organisation": ORG_A}),
    "curator of B": ("curator", {"organisation": ORG_B}),
    "machine of A": ("machine", {"source_system": SOURCE_A}),
    "machine of B": ("machine", {"source_system": SOURCE_B}),
    "administrator": ("administrator", {}),
    "signed-in curator of A": ("person", {"user": "ada"}),
    "signed-in annotator": ("person", {"user": "ben"}),
}
REFUSED = {"anonymous": 401, "expired": 401, "revoked": 401}


@pytest.fixture
def app(config, make_app, oidc_server, tmp_path):
    """The app taking the local provider's access tokens besides API tokens, with the
    source system A of ORG_A as an object (at SOURCE_A's PID) for its ingest jobs."""
    made = make_app(replace(config, oidc_issuer=oidc_server.issuer, oidc_roles_claim="roles",
                            ingest_spool=str(tmp_path / "spool")))
    writes = made.extensions["fdo"].writes
    system = {"schema:name": "Matrix CMS", "ods:organisationID": ORG_A,
              "ods:translatorType": "dwca"}
    written_system = writes.write(writes.draft("source-systems", SOURCE_A_PID, system,
                                               OTHER.agent))
    assert written_system.written
    return made


def headers_for(service: FDOService, who: str, provider: Any = None) -> dict[str, str]:
    held = PRINCIPALS[who]
    if held is None:
        return {}
    index = service.index
    if isinstance(held, str):  # a token that once worked
        token = create_token(index, who, "administrator")
        if held == "revoked":
            index.access.revoke(who, "2026-01-01T00:00:00.000Z")
        else:
            with index.engine.begin() as connection:
                connection.execute(update(TokenRow).where(
                    TokenRow.token_hash == token_hash(token)).values(
                        expires="2026-01-01T00:00:00.000Z"))
        return {"Authorization": f"Bearer {token}"}
    role, scope = held
    if role == "person":
        user = scope["user"]
        access, _ = sign_in_tokens(provider, user, USERS[user]["password"])
        return {"Authorization": f"Bearer {access}"}
    return {"Authorization": f"Bearer {create_token(index, who, role, **scope)}"}


@dataclass(frozen=True)
class Written:
    """Everything a write could leave behind."""

    feed: int
    keys: frozenset[str]
    rows: tuple[int, ...]


def written(service: FDOService) -> Written:
    with service.index.sessions() as session:
        rows = tuple(session.query(table).count() for table in (IngestJobRow, GrantRow,
                                                                   TokenRow))
    return Written(service.index.feed_length(), frozenset(service.store.keys("")), rows)


@dataclass(frozen=True)
class Route:
    """One write: `send(client, headers, target)` and who may make it (status if so)."""

    send: Callable[[FlaskClient, dict[str, str], Any], Any]
    allowed: dict[str, int]


def _object_path(target: Any) -> str:
    return f"{SPECIMENS}/{target.pid}"


def _match(target: Any) -> dict[str, str]:
    return {"If-Match": f'"{target.digest}"'}


ROUTES = {
    "create specimen": Route(
        lambda client, headers, _: client.post(SPECIMENS, headers=headers, json=specimen(
            **{"ods:organisationID": ORG_A, "ods:sourceSystemID": SOURCE_A})),
        {"curator of A": 201, "machine of A": 201, "administrator": 201,
         "signed-in curator of A": 201}),
    "replace specimen": Route(
        lambda client, headers, target: client.put(
            _object_path(target), headers={**headers, **_match(target)},
            json={**target.content, "dwc:preparations": "pinned"}),
        {"curator of A": 200, "machine of A": 200, "administrator": 200,
         "signed-in curator of A": 200}),
    "patch specimen": Route(
        lambda client, headers, target: client.patch(
            _object_path(target), headers={**headers, **_match(target),
                                           "Content-Type": "application/json-patch+json"},
            json=[{"op": "add", "path": "/dwc:preparations", "value": "pinned"}]),
        {"curator of A": 200, "machine of A": 200, "administrator": 200,
         "signed-in curator of A": 200}),
    "tombstone specimen": Route(
        lambda client, headers, target: client.delete(
            _object_path(target), headers={**headers, **_match(target)},
            json={"reason": "a duplicate"}),
        {"curator of A": 200, "administrator": 200, "signed-in curator of A": 200}),
    "annotate": Route(
        lambda client, headers, target: client.post(
            "/api/v1/annotations", headers=headers,
            json=annotation(target.content["@id"])),
        {who: 201 for who in PRINCIPALS if who not in REFUSED}),
    "add a grant": Route(
        lambda client, headers, _: client.post("/api/v1/grants", headers=headers, json={
            "agent": "0000-0002-9079-593X", "role": "curator", "organisation": ORG_B}),
        {"administrator": 201}),
    "create a token": Route(
        lambda client, headers, _: client.post("/api/v1/tokens", headers=headers, json={
            "name": "new robot", "role": "machine", "sourceSystem": SOURCE_B}),
        {"administrator": 201}),
    "submit an ingest job": Route(
        lambda client, headers, _: client.post(
            "/api/v1/ingest-jobs", headers=headers, content_type="multipart/form-data",
            data={"sourceSystem": SOURCE_A_PID, "archive": (io.BytesIO(DATASET), "occ.zip")}),
        {"curator of A": 202, "machine of A": 202, "administrator": 202,
         "signed-in curator of A": 202}),
    "create a source system": Route(
        lambda client, headers, _: client.post("/api/v1/source-systems", headers=headers,
                                               json={"schema:name": "Another CMS",
                                                     "ods:organisationID": ORG_A}),
        {"curator of A": 201, "administrator": 201, "signed-in curator of A": 201}),
    "revoke a token": Route(
        lambda client, headers, _: client.delete("/api/v1/tokens/bystander", headers=headers),
        {"administrator": 204}),
}


def _dataset() -> bytes:
    """A three-record Darwin Core Archive (tests/test_ingest.py's)."""
    lines = ["id," + ",".join(COLUMNS)] + [",".join(row) for row in ROWS]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("meta.xml", META)
        zipped.writestr("occ.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()


DATASET = _dataset()


def _stored_specimen(service: FDOService) -> Any:
    if not service.index.access.live_token("bystander"):  # the token "revoke" aims at
        create_token(service.index, "bystander", "annotator")
    return service.create("digital-specimens", specimen(**{
        "ods:organisationID": ORG_A, "ods:sourceSystemID": SOURCE_A}), OTHER)


def _check(service: FDOService, client: FlaskClient, route: Route, who: str,
           provider: Any) -> None:
    headers = headers_for(service, who, provider)
    target = _stored_specimen(service)
    before = written(service)
    response = route.send(client, headers, target)
    expected = route.allowed.get(who) or REFUSED.get(who, 403)
    assert response.status_code == expected, (who, response.get_json())
    if expected == 202:  # let the job end before the next principal's snapshot
        assert finished(client, headers, response.headers["Location"])["status"] == "succeeded"
    if expected >= 400:
        assert written(service) == before, f"{who}: a refused write left something behind"
        body = response.get_json()
        if expected == 403:
            assert body["code"] == "forbidden" and body["permission"], body
        else:
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="fdo"')


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.usefixtures("job_worker")  # runs the ingest jobs it submits
def test_every_write_route_for_every_principal(app, oidc_server, route: str) -> None:
    """The whole matrix on SQLite: each principal against a fresh object."""
    service: FDOService = app.extensions["fdo"]
    for who in PRINCIPALS:
        _check(service, app.test_client(), ROUTES[route], who, oidc_server)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("route", "who"), [
    ("replace specimen", "curator of B"), ("replace specimen", "machine of A"),
    ("tombstone specimen", "machine of A"), ("create specimen", "revoked"),
    ("create a token", "curator of A"), ("annotate", "annotator"),
    ("patch specimen", "signed-in curator of A"), ("create specimen", "signed-in annotator"),
    ("submit an ingest job", "machine of B"), ("submit an ingest job", "machine of A"),
    ("create a source system", "machine of A")])
@pytest.mark.usefixtures("job_worker")  # runs the ingest jobs it submits
def test_the_matrix_holds_on_postgresql(app, oidc_server, route: str, who: str) -> None:
    _check(app.extensions["fdo"], app.test_client(), ROUTES[route], who, oidc_server)


def test_a_403_names_the_missing_permission_and_the_objects_scope(app, client) -> None:
    service: FDOService = app.extensions["fdo"]
    target = _stored_specimen(service)
    response = client.delete(_object_path(target), json={"reason": "mine now"},
                             headers={**_match(target), **headers_for(service, "machine of A")})
    assert response.status_code == 403
    body = response.get_json()
    assert body["permission"] == "digital-specimens:tombstone"
    assert body["organisation"] == ORG_A and body["sourceSystem"] == SOURCE_A
    assert body["allowedRoles"] == [f"curator of {ORG_A}", "administrator"]


@pytest.mark.parametrize("change", [{"ods:organisationID": ORG_B},
                                    {"ods:sourceSystemID": SOURCE_B}])
def test_nobody_moves_an_object_out_of_their_scope(app, client, change) -> None:
    """An object is checked as it is and as it would become: a curator of A cannot give
    it to B, a machine of A cannot hand it to another source system."""
    service: FDOService = app.extensions["fdo"]
    who = "curator of A" if "ods:organisationID" in change else "machine of A"
    headers = {**headers_for(service, who)}
    target = _stored_specimen(service)
    before = written(service)
    response = client.put(_object_path(target), json={**target.content, **change},
                          headers={**_match(target), **headers})
    assert response.status_code == 403, response.get_json()
    assert written(service) == before


def test_an_annotation_is_changed_only_by_its_creator_or_an_administrator(app, client):
    service: FDOService = app.extensions["fdo"]
    target = _stored_specimen(service)
    mine = headers_for(service, "annotator")
    created = client.post("/api/v1/annotations", json=annotation(target.content["@id"]),
                          headers=mine)
    path = created.headers["Location"].replace("http://fdo.test", "/api/v1/annotations")
    changed = {**created.get_json(), "oa:motivation": "oa:assessing"}
    for who, expected in (("curator of A", 403), ("annotator", 200)):
        current = client.get(path)
        response = client.put(path, json=changed, headers={
            **(mine if who == "annotator" else headers_for(service, who)),
            "If-Match": current.headers["ETag"]})
        assert response.status_code == expected, (who, response.get_json())
    theirs = service.create("annotations", annotation(target.content["@id"]), OTHER)
    refused = client.delete(f"/api/v1/annotations/{theirs.pid}", json={"reason": "spam"},
                            headers={**mine, **_match(theirs)})
    assert refused.status_code == 403 and refused.get_json()["creator"] == OTHER.agent.id


def test_an_organisation_granted_in_its_http_form_is_the_same_organisation(app, client):
    """openDS allows http and https organisation URLs; the index keeps the https form, and
    so does a grant, whichever form it was given in."""
    service: FDOService = app.extensions["fdo"]
    token = create_token(service.index, "http curator", "curator",
                         organisation=ORG_A.replace("https://", "http://"))
    created = client.post(SPECIMENS, json=specimen(**{"ods:organisationID": ORG_A}),
                          headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.get_json()
