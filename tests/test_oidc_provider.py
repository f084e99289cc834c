"""The local OpenID provider itself: what the sign-in and access-token tests rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import servers  # scripts/ is on sys.path (conftest)
from joserfc import jws

from tests.oidc import (
    RESOURCE,
    USERS,
    SignInRefused,
    discovery,
    provider_key,
    sign_in_tokens,
)

pytest_plugins = ("tests.oidc",)

OIDC = Path(__file__).resolve().parents[1] / "oidc"
# What a JWK may hold of a private key (RFC 7518 6.3.2, 6.2.2, 6.4): none of it is published.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def published_keys(server: servers.OidcServer) -> list[dict[str, object]]:
    response = requests.get(discovery(server)["jwks_uri"], timeout=10)
    response.raise_for_status()
    return list(response.json()["keys"])


def test_discovery_names_the_issuer_and_its_endpoints(oidc_server: servers.OidcServer) -> None:
    metadata = discovery(oidc_server)
    assert metadata["issuer"] == oidc_server.issuer
    assert oidc_server.issuer.startswith("http://127.0.0.1:")
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                     "end_session_endpoint"):
        assert metadata[endpoint].startswith(oidc_server.issuer + "/")
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_jwks_publishes_public_keys_only(oidc_server: servers.OidcServer) -> None:
    keys = published_keys(oidc_server)
    assert keys and all(key["kty"] == "RSA" for key in keys)
    assert [set(key) & PRIVATE_MEMBERS for key in keys] == [set()] * len(keys)
    assert keys[0]["kid"] == oidc_server.signing_kid()


def test_the_code_flow_gives_tokens_with_orcid_and_roles(oidc_server: servers.OidcServer
                                                         ) -> None:
    access, identity = sign_in_tokens(oidc_server, "ada", USERS["ada"]["password"])
    key = provider_key(oidc_server)
    header = jws.extract_compact(access.encode()).protected
    claims = json.loads(jws.deserialize_compact(access, key).payload)
    assert header["typ"] == "at+jwt" and header["kid"] == key.kid
    assert claims["aud"] == RESOURCE and claims["iss"] == oidc_server.issuer
    assert claims["orcid"] == USERS["ada"]["orcid"] and claims["roles"] == USERS["ada"]["roles"]
    id_claims = json.loads(jws.deserialize_compact(identity, key).payload)
    assert id_claims["aud"] == oidc_server.client_id and id_claims["name"] == "Ada Curator"


def test_a_wrong_password_gets_no_code(oidc_server: servers.OidcServer) -> None:
    with pytest.raises(SignInRefused, match="401"):
        sign_in_tokens(oidc_server, "ada", "not-her-password")


def test_restart_with_rotation_signs_with_a_new_key_and_keeps_the_old(
        own_oidc_server: servers.OidcServer) -> None:
    before = [key["kid"] for key in published_keys(own_oidc_server)]
    issuer = own_oidc_server.issuer
    own_oidc_server.restart(rotate=True)
    after = [key["kid"] for key in published_keys(own_oidc_server)]
    assert own_oidc_server.issuer == issuer  # same port: tokens out name the same issuer
    assert after[0] not in before and after[1:] == before
    assert own_oidc_server.signing_kid() == after[0]
    own_oidc_server.restart(rotate=False)
    assert [key["kid"] for key in published_keys(own_oidc_server)] == after


def test_the_lock_names_no_registry() -> None:
    """oidc/.npmrc keeps npm from writing where each package was downloaded: the lock pins
    versions and integrity hashes only. The only URLs left are packages' funding pages."""
    text = (OIDC / "package-lock.json").read_text()
    lock = json.loads(text)
    assert '"resolved"' not in text
    assert lock["packages"]["node_modules/oidc-provider"]["version"] == "9.13.3"
    assert all(entry.get("integrity", "").startswith("sha512-")
               for name, entry in lock["packages"].items() if name)
    urls = [line.strip() for line in text.splitlines() if "://" in line]
    funding = [json.dumps(entry["funding"]) for entry in lock["packages"].values()
               if "funding" in entry]
    assert all(any(url in page for page in funding) for url in urls)
    assert "omit-lockfile-registry-resolved=true" in (OIDC / ".npmrc").read_text()
