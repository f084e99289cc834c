"""Browser sessions after sign-in, kept on the server.

The `fdo_session` cookie holds 32 random bytes; the index keeps only their SHA-256, with
the person's ORCID iD, name and the roles their identity provider sent
(storage/session_table.py). Server-side rather than Flask's signed cookie because a signed
cookie cannot be ended: a copy taken before sign-out would stay valid. Every request reads
the row, so sign-out holds in every worker at once.

The cookie is HttpOnly and SameSite=Lax, and Secure when FDO_BASE_URL is https. The JSON
API never reads it (Bearer tokens only), so only the HTML forms need CSRF checks
(repository/csrf.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import Request
from werkzeug.wrappers import Response

from storage.models import WebSessionRow, timestamp
from storage.session_table import SessionTable

SESSION_COOKIE = "fdo_session"


@dataclass(frozen=True)
class SignedIn:
    """Who a live session belongs to. `id_hash` names the session (CSRF tokens, sign-out)."""

    agent: str  # https://orcid.org/...
    name: str
    idp_roles: tuple[str, ...]
    id_hash: str


def session_hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


class WebSessions:
    """Start, find and end sessions; `secure` marks the cookie Secure (https)."""

    def __init__(self, table: SessionTable, hours: float, secure: bool) -> None:
        if hours <= 0:
            raise ValueError("FDO_SESSION_HOURS must be more than 0")
        self.table = table
        self.seconds = int(hours * 3600)
        self.secure = secure

    def start(self, response: Response, agent: str, name: str, idp_roles: list[str],
              replacing: SignedIn | None = None) -> SignedIn:
        """A new session for this person, its cookie set on `response`. Every sign-in gets
        a new value, and the session this browser had before (`replacing`) ends: no
        value outlives a new sign-in."""
        if replacing is not None:
            self.table.end(replacing.id_hash)
        value = secrets.token_urlsafe(32)
        row = WebSessionRow(id_hash=session_hash(value), agent=agent, name=name,
                            idp_roles=idp_roles, created=timestamp(),
                            expires=timestamp(-self.seconds), ended=None)
        self.table.add(row)
        response.set_cookie(SESSION_COOKIE, value, max_age=self.seconds, path="/",
                            secure=self.secure, httponly=True, samesite="Lax")
        return SignedIn(agent, name, tuple(idp_roles), row.id_hash)

    def current(self, request: Request) -> SignedIn | None:
        """The live session the request's cookie names, or None (no cookie, unknown,
        expired or ended)."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        row = self.table.live(session_hash(value))
        if row is None:
            return None
        return SignedIn(row.agent, row.name, tuple(row.idp_roles or ()), row.id_hash)

    def end(self, response: Response, signed_in: SignedIn | None) -> None:
        """Sign-out: the row is ended (a copy of the cookie is refused from now on) and
        the browser told to drop the cookie."""
        if signed_in is not None:
            self.table.end(signed_in.id_hash)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure, httponly=True,
                               samesite="Lax")
