"""API tokens: bearer tokens for writes. Only the SHA-256 of a token is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from urllib.parse import quote

from repository import errors
from repository.provenance import Agent, now_iso
from storage.index import Index
from storage.models import TokenRow

ROLES = ("curator", "machine")
_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(index: Index, name: str, role: str = "curator",
                 orcid: str | None = None) -> str:
    """Store a new token's hash and return the token: the only time it is ever shown."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    orcid_url = None
    if orcid:
        match = _ORCID.match(orcid.strip())
        if not match:
            raise ValueError(f"'{orcid}' is not an ORCID iD (0000-0000-0000-0000)")
        orcid_url = f"https://orcid.org/{match.group(1)}"
    token = secrets.token_urlsafe(32)
    index.add_token(TokenRow(token_hash=token_hash(token), name=name.strip(), orcid=orcid_url,
                             role=role, created=now_iso()))
    return token


def agent_for(index: Index, authorization: str | None, base_url: str) -> Agent:
    """The agent behind an `Authorization: Bearer <token>` header, or `Unauthorized`."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("send 'Authorization: Bearer <token>' to write")
    row = index.token(token_hash(token.strip()))
    if row is None:
        raise errors.Unauthorized("the bearer token is not valid")
    agent_id = row.orcid or f"{base_url}/agents/{quote(row.name, safe='')}"
    return Agent(id=agent_id, name=row.name, role=row.role)
