"""People acting through the API with access tokens of the real local OpenID provider:
their roles come from the provider's roles claim and from grants in the index, their ORCID
iD goes into the provenance, and a refused token changes nothing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from repository.config import Config
from tests.oidc import (
    ORGANISATION,
    USERS,
    access_token_claims,
    sign_in_tokens,
    sign_with_provider_key,
)
from tests.records import annotation, specimen
from tests.test_access import written

pytest_plugins = ("tests.oidc",)
pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parents[1]
OTHER_ORGANISATION = "https://ror.org/039zvsn29"
SPECIMENS = "/api/v1/digital-specimens"


@pytest.fixture
def signed_in_app(config, make_app, oidc_server):
    return make_app(replace(config, oidc_issuer=oidc_server.issuer, oidc_roles_claim="roles"))


def bearer(oidc_server, user: str) -> dict[str, str]:
    access, _ = sign_in_tokens(oidc_server, user, USERS[user]["password"])
    return {"Authorization": f"Bearer {access}"}


def test_a_curator_signed_in_writes_their_organisations_specimens_only(signed_in_app,
                                                                      oidc_server):
    client = signed_in_app.test_client()
    ada = bearer(oidc_server, "ada")  # curator of ORGANISATION by the roles claim
    created = client.post(SPECIMENS, json=specimen(**{"ods:organisationID": ORGANISATION}),
                          headers=ada)
    assert created.status_code == 201, created.get_json()
    provenance = client.get(created.headers["Location"].replace(
        "http://fdo.test", SPECIMENS) + "/versions/1/provenance").get_json()
    agent = provenance["ods:hasAgents"][0]
    assert agent["@id"] == USERS["ada"]["orcid"] and agent["@type"] == "schema:Person"
    assert agent["schema:name"] == "Ada Curator"
    refused = client.post(SPECIMENS, headers=ada,
                          json=specimen(**{"ods:organisationID": OTHER_ORGANISATION}))
    assert refused.status_code == 403
    assert refused.get_json()["organisation"] == OTHER_ORGANISATION


def test_a_grant_in_the_index_adds_to_what_the_provider_says(config, signed_in_app,
                                                            oidc_server):
    client = signed_in_app.test_client()
    ada = bearer(oidc_server, "ada")
    body = specimen(**{"ods:organisationID": OTHER_ORGANISATION})
    assert client.post(SPECIMENS, json=body, headers=ada).status_code == 403
    granted = subprocess.run(
        [sys.executable, "-m", "repository.cli", "grants", "add", "--agent",
         USERS["ada"]["orcid"], "--role", "curator", "--organisation", OTHER_ORGANISATION],
        env=config.to_environment() | {"PATH": "/usr/bin:/bin"}, cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert granted.returncode == 0, granted.stderr
    assert client.post(SPECIMENS, json=body, headers=ada).status_code == 201


def test_an_annotator_annotates_and_an_administrator_grants(signed_in_app, oidc_server):
    client = signed_in_app.test_client()
    cleo, ben = bearer(oidc_server, "cleo"), bearer(oidc_server, "ben")
    target = client.post(SPECIMENS, json=specimen(), headers=cleo)
    assert target.status_code == 201
    assert client.post(SPECIMENS, json=specimen(), headers=ben).status_code == 403
    note = client.post("/api/v1/annotations", json=annotation(target.headers["Location"]),
                       headers=ben)
    assert note.status_code == 201
    grant = {"agent": USERS["ben"]["orcid"], "role": "curator", "organisation": ORGANISATION}
    assert client.post("/api/v1/grants", json=grant, headers=ben).status_code == 403
    assert client.post("/api/v1/grants", json=grant, headers=cleo).status_code == 201


@pytest.mark.parametrize("claims", [{"exp": 1}, {"aud": "https://elsewhere.example"},
                                    {"iss": "https://impostor.example"}, {"orcid": None}])
def test_a_refused_access_token_is_401_invalid_token_and_writes_nothing(signed_in_app,
                                                                        oidc_server, claims):
    client = signed_in_app.test_client()
    token = sign_with_provider_key(oidc_server, access_token_claims(oidc_server, **claims))
    before = written(signed_in_app.extensions["fdo"])
    response = client.post(SPECIMENS, json=specimen(),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="fdo", error="invalid_token", error_description="')
    assert written(signed_in_app.extensions["fdo"]) == before


def test_without_an_issuer_a_jwt_is_refused_as_such(app, client, oidc_server):
    token, _ = sign_in_tokens(oidc_server, "ada", USERS["ada"]["password"])
    response = client.post(SPECIMENS, json=specimen(),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "no identity provider is configured" in response.get_json()["message"]


def test_an_unknown_key_while_the_provider_is_down_is_503(config: Config, make_app,
                                                          own_oidc_server):
    app = make_app(replace(config, oidc_issuer=own_oidc_server.issuer, oidc_jwks_refresh=0))
    client = app.test_client()
    known = bearer(own_oidc_server, "ada")
    assert client.post(SPECIMENS, json={}, headers=known).status_code == 422  # keys fetched
    own_oidc_server.restart(rotate=True)  # a new signing key the app has not seen
    unseen = sign_with_provider_key(own_oidc_server, access_token_claims(own_oidc_server))
    own_oidc_server.stop()
    assert client.post(SPECIMENS, json={}, headers=known).status_code == 422  # cached key
    response = client.post(SPECIMENS, json={}, headers={"Authorization": f"Bearer {unseen}"})
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["code"] == "identity_provider_unavailable"
    assert response.headers["Retry-After"]
