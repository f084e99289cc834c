"""JWT access tokens checked against the real local OpenID provider (tests/oidc.py): tokens
from the real sign-in flow, and tokens the provider would never issue signed with its own
key. Each refusal is InvalidAccessToken (401) with a reason; an issuer that cannot be
reached for an unknown key is IssuerUnavailable (503)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import servers  # scripts/ is on sys.path (conftest)
from flask import Flask

from repository.config import Config
from repository.errors import register_error_handlers
from repository.identity import (
    AccessTokenVerifier,
    InvalidAccessToken,
    IssuerUnavailable,
    allowed_algorithms,
    orcid_url,
    person_from_claims,
    verifier_from_config,
)
from tests.oidc import (
    RESOURCE,
    USERS,
    access_token_claims,
    provider_key,
    sign_in_tokens,
    sign_with_provider_key,
)

pytest_plugins = ("tests.oidc",)

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


def verifier_for(server: servers.OidcServer, refresh_interval: float = 0.0
                 ) -> AccessTokenVerifier:
    return AccessTokenVerifier(server.issuer, RESOURCE, ALGORITHMS,
                               refresh_interval=refresh_interval)


def signed_in(server: servers.OidcServer, user: str = "ada") -> str:
    return sign_in_tokens(server, user, USERS[user]["password"])[0]


def refused(verifier: AccessTokenVerifier, token: str) -> str:
    with pytest.raises(InvalidAccessToken) as caught:
        verifier.verify(token)
    assert caught.value.reason and caught.value.reason in caught.value.message
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def test_a_token_from_the_sign_in_flow_verifies(oidc_server: servers.OidcServer) -> None:
    claims = verifier_for(oidc_server).verify(signed_in(oidc_server))
    assert claims["iss"] == oidc_server.issuer and claims["aud"] == RESOURCE
    assert claims["orcid"] == USERS["ada"]["orcid"]
    assert claims["roles"] == USERS["ada"]["roles"]
    person = person_from_claims(claims, "orcid", "roles")
    assert person == (USERS["ada"]["orcid"], "Ada Curator", tuple(USERS["ada"]["roles"]))


@pytest.mark.parametrize(("claims", "reason"), [
    (lambda now: {"iss": "http://127.0.0.1:9/other"}, "'iss'"),
    (lambda now: {"aud": "http://other.test"}, "'aud'"),
    (lambda now: {"exp": now - 120}, "expired"),
    (lambda now: {"nbf": now + 600}, "not yet valid"),
    (lambda now: {"iat": now + 600}, "issued in the future"),
    (lambda now: {"exp": None}, "'exp'"),
    (lambda now: {"sub": None}, "'sub'"),
], ids=["wrong-issuer", "wrong-audience", "expired", "not-yet-valid", "issued-later",
        "no-exp", "no-sub"])
def test_claims_the_provider_key_signed_but_we_refuse(
        oidc_server: servers.OidcServer, claims: Callable[[int], dict[str, Any]],
        reason: str) -> None:
    """The times are taken when the test runs, not when it is collected: a long run
    would otherwise turn "ten minutes ahead" into the past."""
    verifier = verifier_for(oidc_server)
    verifier.verify(sign_with_provider_key(oidc_server, access_token_claims(oidc_server)))
    token = sign_with_provider_key(oidc_server, access_token_claims(
        oidc_server, **claims(int(time.time()))))
    assert reason in refused(verifier, token)


def test_a_small_clock_difference_is_tolerated(oidc_server: servers.OidcServer) -> None:
    now = int(time.time())
    token = sign_with_provider_key(oidc_server, access_token_claims(
        oidc_server, exp=now - 5, nbf=now + 5, iat=now + 5))
    assert verifier_for(oidc_server).verify(token)["sub"] == "ada"


def test_a_tampered_token_is_refused(oidc_server: servers.OidcServer) -> None:
    header, payload, signature = signed_in(oidc_server, "ben").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["administrator"]
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert "signature" in refused(verifier_for(oidc_server), tampered).lower()


def test_alg_none_is_refused(oidc_server: servers.OidcServer) -> None:
    kid = provider_key(oidc_server).kid
    token = unsigned({"alg": "none", "typ": "at+jwt", "kid": kid},
                     access_token_claims(oidc_server, roles=["administrator"])) + "."
    assert "'none'" in refused(verifier_for(oidc_server), token)


def test_hmac_signed_with_the_public_key_is_refused(oidc_server: servers.OidcServer) -> None:
    """The classic confusion: HS256 "verified" with the published RSA key as the secret."""
    key = provider_key(oidc_server)
    public_pem = key.as_pem(private=False)
    signing_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": key.kid},
                             access_token_claims(oidc_server, roles=["administrator"]))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert "'HS256'" in refused(verifier_for(oidc_server), f"{signing_input}.{b64(signature)}")


def test_an_id_token_is_not_an_access_token(oidc_server: servers.OidcServer) -> None:
    _, id_token = sign_in_tokens(oidc_server, "ada", USERS["ada"]["password"])
    assert "at+jwt" in refused(verifier_for(oidc_server), id_token)


@pytest.mark.parametrize("value", ["", "not-a-jwt", "a.b.c", "a.b", "x" * 20000])
def test_garbage_is_refused(oidc_server: servers.OidcServer, value: str) -> None:
    refused(verifier_for(oidc_server), value)


def test_none_and_hmac_cannot_be_configured() -> None:
    for algorithms in (["RS256", "none"], ["HS256"], ["RS256", "hs512"], ["ROT13"], [""]):
        with pytest.raises(ValueError, match="FDO_OIDC_ALGORITHMS"):
            allowed_algorithms(algorithms)
    with pytest.raises(ValueError):
        verifier_from_config(replace(Config(), oidc_issuer="http://127.0.0.1:9",
                                     oidc_algorithms="RS256,HS256"))
    assert verifier_from_config(Config()) is None


def test_the_configured_audience_defaults_to_the_base_url() -> None:
    config = replace(Config(), base_url="http://fdo.test", oidc_issuer="http://127.0.0.1:9/")
    verifier = verifier_from_config(config)
    assert verifier is not None and verifier.audience == "http://fdo.test"
    assert verifier.issuer == "http://127.0.0.1:9"
    other = verifier_from_config(replace(config, oidc_audience="urn:fdo"))
    assert other is not None and other.audience == "urn:fdo"


# -- keys: rotation, rate limit, issuer down ----------------------------------------------

def rotated(server: servers.OidcServer, verifier: AccessTokenVerifier) -> tuple[str, str]:
    """(a token the verifier has seen, one signed with a new key after a rotation)."""
    seen = signed_in(server)
    verifier.verify(seen)
    server.restart(rotate=True)
    return seen, signed_in(server)


def test_a_rotated_key_is_fetched_and_the_old_one_still_verifies(
        own_oidc_server: servers.OidcServer) -> None:
    verifier = verifier_for(own_oidc_server)
    old, new = rotated(own_oidc_server, verifier)
    assert json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))["kid"] \
        == own_oidc_server.signing_kid() != provider_key(own_oidc_server, 1).kid
    assert verifier.verify(new)["sub"] == "ada"
    assert verifier.verify(old)["sub"] == "ada"


def test_unknown_kids_fetch_the_keys_at_most_once_per_interval(
        own_oidc_server: servers.OidcServer) -> None:
    """Within the interval a new kid is refused (401) without asking the issuer, which
    is why real issuers publish a key before they sign with it."""
    verifier = verifier_for(own_oidc_server, refresh_interval=3600)
    _, new = rotated(own_oidc_server, verifier)
    assert "no key" in refused(verifier, new)


def test_with_the_issuer_down_cached_keys_verify_and_unknown_kids_are_503(
        own_oidc_server: servers.OidcServer) -> None:
    verifier = verifier_for(own_oidc_server)
    cached, unknown = rotated(own_oidc_server, verifier)
    own_oidc_server.stop()
    assert verifier.verify(cached)["sub"] == "ada"
    for _ in range(2):  # and again, while the last fetch is the failed one
        with pytest.raises(IssuerUnavailable):
            verifier.verify(unknown)
    assert verifier.verify(cached)["sub"] == "ada"


def test_the_verifier_starts_while_the_issuer_is_down(own_oidc_server: servers.OidcServer
                                                      ) -> None:
    token = signed_in(own_oidc_server)
    own_oidc_server.stop()
    verifier = verifier_for(own_oidc_server)
    with pytest.raises(IssuerUnavailable):
        verifier.verify(token)
    own_oidc_server.restart(rotate=False)
    assert verifier.verify(token)["sub"] == "ada"


def test_issuer_unavailable_is_a_503_with_retry_after() -> None:
    app = Flask(__name__)
    register_error_handlers(app)

    @app.get("/")
    def unavailable() -> str:
        raise IssuerUnavailable("the identity provider is not reachable right now")

    response = app.test_client().get("/")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["code"] == "identity_provider_unavailable"


# -- who the claims name ------------------------------------------------------------------

def test_a_bare_orcid_id_in_sub_becomes_its_url() -> None:
    person = person_from_claims({"sub": "0000-0002-1694-233X", "name": "Cleo"}, "sub")
    assert person == ("https://orcid.org/0000-0002-1694-233X", "Cleo", ())


@pytest.mark.parametrize("value", [
    "0000-0002-1694-2331", "https://example.org/0000-0002-1694-233X", "ada", 42, None,
    "https://orcid.org/0000-0002-1694-233", "0000-0002-1694-233X-1", "00000002-1694-233X"])
def test_values_that_are_not_orcid_ids_are_refused(value: object) -> None:
    assert orcid_url(value) is None
    with pytest.raises(InvalidAccessToken, match="no ORCID iD"):
        person_from_claims({"orcid": value}, "orcid")


def test_a_token_without_orcid_id_verifies_but_names_no_person(
        oidc_server: servers.OidcServer) -> None:
    claims = verifier_for(oidc_server).verify(signed_in(oidc_server, "nemo"))
    with pytest.raises(InvalidAccessToken, match="'orcid' claim"):
        person_from_claims(claims, "orcid", "roles")


def test_roles_from_a_list_a_string_or_a_nested_claim() -> None:
    orcid = "https://orcid.org/0000-0002-1825-0097"
    assert person_from_claims({"orcid": orcid, "roles": "annotator administrator"},
                              roles_claim="roles").idp_roles == ("annotator", "administrator")
    nested = {"orcid": orcid, "realm_access": {"roles": ["annotator", 7]}}
    assert person_from_claims(nested, roles_claim="realm_access.roles").idp_roles \
        == ("annotator",)
    assert person_from_claims({"orcid": orcid, "roles": ["administrator"]}).idp_roles == ()


def test_a_verified_token_is_remembered_until_it_expires(
        oidc_server: servers.OidcServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client sends one token many times: it is verified once, then recognised until
    its `exp` (plus the leeway), after which it is refused like any expired token."""
    verifier = verifier_for(oidc_server)
    token = signed_in(oidc_server)
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # remembered, not verified again
    later = time.time() + 3600  # past the provider's five-minute tokens
    monkeypatch.setattr(time, "time", lambda: later)
    assert "expired" in refused(verifier, token)
