"""Browser sign-in with OpenID Connect: the authorization code flow with PKCE (S256),
`state` and `nonce` checked, through Authlib's Flask client (docs/access.md, "Browser
sign-in").

- `GET /auth/login?next=/path` sends the browser to the identity provider. The login's
  state, nonce and PKCE verifier wait in Flask's signed cookie `fdo_login` (HttpOnly,
  SameSite=Lax, Secure over https), signed with a key of its own derived from the secret.
- `GET /auth/callback` checks state and nonce, exchanges the code, reads the ORCID iD,
  name and roles from the ID token, starts a server-side session (repository/
  web_sessions.py) and goes on to `next` when that is a path on this site.
- `POST /auth/logout` (CSRF checked) ends the session, then leaves through the provider's
  end_session_endpoint when it has one, so the provider's own session ends too.

Without FDO_OIDC_ISSUER none of this is registered and /auth/* answers 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, Request, current_app, redirect, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from repository import errors
from repository.config import Config
from repository.csrf import check_form, check_origin
from repository.identity import InvalidAccessToken, Person, person_from_claims
from repository.keys import purpose_key
from repository.web_sessions import SignedIn, WebSessions
from resolver.responses import base_url
from storage.index import Index
from storage.session_table import SessionTable

signin = Blueprint("signin", __name__)
signin_off = Blueprint("signin_off", __name__)
LOGIN_COOKIE = "fdo_login"
CLIENT = "identity_provider"
AFTER_SIGN_IN = "/account"
# Seconds to connect to the identity provider and to wait for its answer.
TIMEOUTS = (2, 5)


def register_signin(app: Flask, config: Config, index: Index, secret: bytes) -> None:
    """The sign-in routes and the session store when an issuer is configured; else
    /auth/* answers that sign-in is not configured."""
    if not config.oidc_issuer:
        app.register_blueprint(signin_off)
        return
    secure = urlsplit(config.base_url).scheme == "https"
    app.secret_key = purpose_key(secret, "flask-session")
    app.session_interface = LoginCookie()
    app.config.update(SESSION_COOKIE_NAME=LOGIN_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure)
    app.config["FDO_CSRF_KEY"] = purpose_key(secret, "csrf")
    app.extensions["web_sessions"] = WebSessions(SessionTable(index.engine),
                                                 config.session_hours, secure)
    oauth = OAuth(app)
    app.extensions[CLIENT] = oauth.register(
        CLIENT, client_id=config.oidc_client_id, client_secret=config.oidc_client_secret,
        server_metadata_url=f"{config.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": config.oidc_scopes, "code_challenge_method": "S256",
                       "default_timeout": TIMEOUTS})
    app.config["FDO_OIDC_CLAIMS"] = (config.oidc_orcid_claim, config.oidc_roles_claim)
    app.register_blueprint(signin)


class LoginCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, holding only a login under way, opened only on /auth/*:
    no other request (the API's, the landing pages') reads or verifies it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith("/auth/"):
            return None  # Flask's null session: nothing to read, nothing written
        return super().open_session(app, request)


def web_sessions() -> WebSessions | None:
    """The session store, or None when sign-in is not configured."""
    found: WebSessions | None = current_app.extensions.get("web_sessions")
    return found


def signed_in() -> SignedIn | None:
    """The person signed in on this request's session cookie (HTML routes only)."""
    sessions = web_sessions()
    return sessions.current(request) if sessions else None


def current_session_agent() -> tuple[str, str, list[str]] | None:
    """(ORCID iD URL, name, roles from the identity provider) of the person signed in on
    this request, or None. For HTML routes only: the JSON API never reads cookies."""
    person = signed_in()
    return (person.agent, person.name, list(person.idp_roles)) if person else None


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site (below FDO_BASE_URL), else the account page:
    a sign-in link must not send anyone on to another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return AFTER_SIGN_IN
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(c < " " for c in target):
        return AFTER_SIGN_IN
    return target


@signin.get("/auth/login")
def login() -> Response:
    client = current_app.extensions[CLIENT]
    redirect_uri = f"{base_url()}/auth/callback"
    with _provider_call():
        authorization = client.create_authorization_url(redirect_uri)
    for key in [key for key in session if key.startswith(f"_state_{CLIENT}_")]:
        session.pop(key)  # an earlier login left unfinished: keep the cookie small
    client.save_authorize_data(redirect_uri=redirect_uri,
                               next=local_path(request.args.get("next")), **authorization)
    return redirect(authorization["url"])


@signin.get("/auth/callback")
def callback() -> Response:
    client = current_app.extensions[CLIENT]
    pending = client.framework.get_state_data(session, request.args.get("state")) or {}
    with _provider_call():
        try:
            token = client.authorize_access_token()
        except (AuthlibBaseError, JoseError) as error:
            raise errors.SignInFailed(f"sign-in failed: {_reason(error)}") from error
    claims = token.get("userinfo")
    if not claims:
        raise errors.SignInFailed("sign-in failed: the identity provider sent no ID token")
    person = _person(claims)
    session.clear()  # the login is over: its cookie goes
    response = redirect(base_url() + local_path(pending.get("next")))
    sessions = _sessions()
    sessions.start(response, person.orcid, person.name, list(person.idp_roles),
                   replacing=sessions.current(request))
    return response


@signin.post("/auth/logout")
def logout() -> Response:
    sessions = _sessions()
    person = sessions.current(request)
    if person is None:
        check_origin(request, base_url())  # nothing to end; only the cookie to drop
    else:
        check_form(request, current_app.config["FDO_CSRF_KEY"], person.id_hash, base_url())
    response = redirect(_end_session_url())
    sessions.end(response, person)
    return response


@signin_off.route("/auth/<path:rest>", methods=["GET", "POST"])
def not_configured(rest: str) -> Response:
    raise errors.NotFound("sign-in is not configured on this repository (FDO_OIDC_ISSUER is "
                          "empty): write with an API token")


def _sessions() -> WebSessions:
    sessions = web_sessions()
    assert sessions is not None  # the blueprint is registered with the store
    return sessions


def _person(claims: dict[str, Any]) -> Person:
    """The ORCID iD, name and roles of the ID token's claims (as for access tokens)."""
    orcid_claim, roles_claim = current_app.config["FDO_OIDC_CLAIMS"]
    try:
        return person_from_claims(claims, orcid_claim, roles_claim)
    except InvalidAccessToken as error:
        raise errors.SignInFailed(f"sign-in failed: {error.reason}") from error


def _end_session_url() -> str:
    """Where the browser goes after sign-out: the provider's end_session_endpoint (which
    sends it back here), or this site's home page."""
    home = f"{base_url()}/"
    client = current_app.extensions[CLIENT]
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return home
        logout_url: str = client.create_logout_url(post_logout_redirect_uri=home,
                                                   client_id=client.client_id)["url"]
        return logout_url
    except requests.RequestException:  # our session is ended all the same
        return home


def _reason(error: Exception) -> str:
    code = getattr(error, "error", "") or type(error).__name__
    description = getattr(error, "description", "") or str(error)
    return f"{code}: {description}" if description else str(code)


@contextmanager
def _provider_call() -> Iterator[None]:
    """An identity provider that cannot be reached gives 503, not 500."""
    try:
        yield
    except requests.RequestException as error:
        raise errors.IssuerUnavailable(
            "the identity provider cannot be reached right now; retry later") from error


signin.register_error_handler(errors.FDOError, errors.page_error)
