"""The real local OpenID provider (oidc/provider.mjs) for the sign-in and access-token tests.

Use it with `pytest_plugins = ("tests.oidc",)` in a test module: the session-scoped
`oidc_server` fixture is one provider for the whole run, issuing access tokens for the
test app's API (`RESOURCE`, as `aud`) and redirecting to a callback that is never loaded
(the API tests need only the tokens). Tests that restart or stop a provider start their
own with `start_test_provider`. Node.js 20+ and `make oidc` are needed; a missing one
fails the test with how to get it, it never skips (tests/needs.py).

`sign_in_tokens` goes through the real authorization code flow with PKCE, as a browser
would, with `requests`; `sign_with_provider_key` signs claims of the test's choosing with
the provider's own current key (its kid is at the real /jwks), for the expired, not yet
valid, wrong issuer and wrong audience cases that the provider would never issue.

Test modules both name this plugin and import its helpers, so it is imported before pytest
could rewrite its asserts (it has none): PYTEST_DONT_REWRITE says so, and spares the
"already imported" warning that the suite turns into an error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.needs import require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import servers  # noqa: E402
from launchers.oidc import PROVIDER_DIR  # noqa: E402

BASE_URL = "http://fdo.test"  # conftest's config.base_url
RESOURCE = BASE_URL  # the access tokens' audience: FDO_OIDC_AUDIENCE defaults to the base URL
CALLBACK = f"{BASE_URL}/auth/callback"
SCOPE = "openid profile orcid roles"
ORGANISATION = "https://ror.org/0566bfb96"
# Test people (the provider's users file): password, name, ORCID iD and roles claim.
USERS: dict[str, dict[str, Any]] = {
    "ada": {"password": "ada-secret", "name": "Ada Curator",
            "orcid": "https://orcid.org/0000-0002-1825-0097",
            "roles": [f"curator:{ORGANISATION}"]},
    "ben": {"password": "ben-secret", "name": "Ben Annotator",
            "orcid": "https://orcid.org/0000-0001-5109-3700", "roles": ["annotator"]},
    "cleo": {"password": "cleo-secret", "name": "Cleo Administrator",
             "orcid": "https://orcid.org/0000-0002-1694-233X", "roles": ["administrator"]},
    "nemo": {"password": "nemo-secret", "name": "Nemo Without ORCID", "roles": []},
}


class SignInRefused(Exception):
    """The provider did not hand out a code (wrong password, or an error page)."""


def provider_missing() -> str | None:
    """What is missing to run the provider, or None."""
    if shutil.which("node") is None:
        return "Node.js 20 or newer"
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider (oidc/node_modules)"
    return None


def start_test_provider(data_dir: Path, *, redirects: tuple[str, ...] = (CALLBACK,),
                        resource: str = RESOURCE, **options: Any) -> servers.OidcServer:
    """A provider with the test USERS; fails the test (never skips) when it cannot run."""
    missing = provider_missing()
    require(missing is None, str(missing), "install Node.js 20+, then run `make oidc`")
    return servers.start_oidc(data_dir, redirects=list(redirects), resource=resource,
                              users=USERS, **options)


@pytest.fixture(scope="session")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.OidcServer]:
    server = start_test_provider(tmp_path_factory.mktemp("oidc"))
    yield server
    server.stop()


@pytest.fixture
def own_oidc_server(tmp_path: Path) -> Iterator[servers.OidcServer]:
    """A provider of this test's own, to restart (key rotation) or stop."""
    server = start_test_provider(tmp_path / "oidc")
    yield server
    server.stop()


def discovery(server: servers.OidcServer) -> dict[str, Any]:
    response = requests.get(f"{server.issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def sign_in_tokens(server: servers.OidcServer, user: str, password: str, *,
                   resource: str = RESOURCE, redirect_uri: str = CALLBACK) -> tuple[str, str]:
    """(access token, ID token) for `user` through the authorization code flow with PKCE:
    authorize, the provider's login form, the redirect with the code, the token endpoint."""
    metadata = discovery(server)
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    with requests.Session() as browser:
        login_page = _follow(browser, browser.get(metadata["authorization_endpoint"], params={
            "client_id": server.client_id, "response_type": "code", "scope": SCOPE,
            "redirect_uri": redirect_uri, "state": state, "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256", "resource": resource},
            allow_redirects=False, timeout=10), redirect_uri)
        submitted = browser.post(f"{login_page.url}/login",
                                 data={"login": user, "password": password},
                                 allow_redirects=False, timeout=10)
        if submitted.status_code != 303 and submitted.status_code != 302:
            raise SignInRefused(f"{submitted.status_code}: {submitted.text[:200]}")
        callback = _follow(browser, submitted, redirect_uri)
    query = parse_qs(urlsplit(callback.headers["Location"]).query)
    if query.get("state") != [state] or "code" not in query:
        raise SignInRefused(f"callback without code or with another state: {query}")
    tokens = requests.post(metadata["token_endpoint"], data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": redirect_uri, "code_verifier": verifier},
        auth=(server.client_id, server.client_secret), timeout=10)
    tokens.raise_for_status()
    return str(tokens.json()["access_token"]), str(tokens.json()["id_token"])


def _follow(browser: requests.Session, response: requests.Response,
            redirect_uri: str) -> requests.Response:
    """Follow the provider's redirects; stop at a page (the login form) or at the redirect
    to the app's callback, which is not followed (the app may not run at all)."""
    for _ in range(10):
        location = response.headers.get("Location")
        if location is None or location.startswith(redirect_uri):
            return response
        response = browser.get(urljoin(response.url, location), allow_redirects=False,
                               timeout=10)
    raise SignInRefused("too many redirects")


def provider_key(server: servers.OidcServer, index: int = 0) -> RSAKey:
    """The provider's own private key (0: the one signing now) from its keys file."""
    keys = json.loads(server.keys_file.read_text())["keys"]
    return RSAKey.import_key(keys[index])


def access_token_claims(server: servers.OidcServer, user: str = "ada",
                        **overrides: Any) -> dict[str, Any]:
    """Claims like those of the provider's access tokens, valid for five minutes."""
    now = int(time.time())
    person = USERS[user]
    claims = {"iss": server.issuer, "aud": RESOURCE, "sub": user, "iat": now, "nbf": now,
              "exp": now + 300, "jti": secrets.token_urlsafe(12), "client_id": server.client_id,
              "scope": "fdo", "orcid": person.get("orcid"), "roles": person["roles"]}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign_with_provider_key(server: servers.OidcServer, claims: Mapping[str, Any],
                           header: Mapping[str, Any] | None = None, index: int = 0) -> str:
    """A JWT over `claims` signed with the provider's own key: a token it could have
    issued. `header` overrides the default {"alg": "RS256", "typ": "at+jwt", "kid": …}."""
    key = provider_key(server, index)
    fields = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
    return jwt.encode(fields, dict(claims), key, algorithms=[str(fields["alg"])])
