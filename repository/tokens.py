"""API tokens: bearer tokens for machines and local use. Only the SHA-256 of a token is
stored; what it may do is its grants (agent `token:<name>`, repository/access.py)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from repository import errors
from repository.access import ANNOTATOR, Grant, Principal, checked_grant, primary_role
from repository.identity import orcid_url
from repository.provenance import Agent, now_iso
from storage.access_table import TokenHolder, token_agent
from storage.index import Index
from storage.models import GrantRow, TokenRow

LAST_USED_EVERY = timedelta(seconds=60)  # `last_used` is written at most this often


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_orcid(value: str) -> str:
    """`https://orcid.org/<iD>` from an iD as people write it (its check digit checked,
    as the identity provider's are: `identity.orcid_url`), or ValueError."""
    url = orcid_url(value)
    if url is None:
        raise ValueError(f"'{value}' is not an ORCID iD (0000-0000-0000-0000)")
    return url


def expiry(value: str | None, today: date | None = None) -> str | None:
    """When a token stops working, from an ISO 8601 date (the end of that day, UTC) or a
    number of days from now; None for never."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        moment = datetime.now(UTC) + timedelta(days=int(text))
    else:
        try:
            day = date.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"expires must be a date (2027-01-31) or a number of days, "
                             f"not '{value}'") from error
        moment = datetime.combine(day, datetime.max.time(), tzinfo=UTC)
    if moment <= datetime.now(UTC):
        raise ValueError(f"expires {value} is already past")
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_token(index: Index, name: str, role: str = ANNOTATOR, *,
                 organisation: str | None = None, source_system: str | None = None,
                 expires: str | None = None, orcid: str | None = None,
                 created_by: str = "fdo tokens create") -> str:
    """Store a new token's hash and its grant; return the token, the only time it is
    ever shown. ValueError for a bad name, role, scope, expiry or ORCID iD; a live
    token of the same name is refused."""
    name = name.strip()
    if not name or len(name) > 256:
        raise ValueError("a token needs a name of 1 to 256 characters")
    grant = checked_grant(role, organisation, source_system)
    token = secrets.token_urlsafe(32)
    row = TokenRow(token_hash=token_hash(token), name=name, role=role, created=now_iso(),
                   orcid=checked_orcid(orcid) if orcid else None, expires=expiry(expires))
    grant_row = None if role == ANNOTATOR else GrantRow(
        agent=token_agent(name), role=grant.role, organisation_id=grant.organisation,
        source_system=grant.source_system, created=row.created, created_by=created_by)
    index.access.add_token(row, grant_row)
    return token


def token_principal(index: Index, token: str, base_url: str) -> Principal:
    """The principal behind an API token, or `InvalidToken` saying why it is refused."""
    hashed = token_hash(token)
    holder = index.access.holder(hashed)
    now = now_iso()
    if holder is None:
        raise errors.InvalidToken("the bearer token is not valid")
    if holder.revoked:
        raise errors.InvalidToken(f"the token '{holder.name}' was revoked")
    if holder.expires and holder.expires <= now:
        raise errors.InvalidToken(f"the token '{holder.name}' expired at {holder.expires}")
    if _stale(holder.last_used, now):
        index.access.touch(hashed, now)
    return _principal(holder, base_url)


def _principal(holder: TokenHolder, base_url: str) -> Principal:
    grants = frozenset(Grant(role.role, role.organisation_id, role.source_system)
                       for role in holder.roles) | {Grant(ANNOTATOR)}
    role = primary_role(grants)
    agent_id = holder.orcid or f"{base_url}/agents/{quote(holder.name, safe='')}"
    return Principal(Agent(id=agent_id, name=holder.name, role=role), grants)


def _stale(last_used: str | None, now: str) -> bool:
    if last_used is None:
        return True
    then = datetime.fromisoformat(last_used.replace("Z", "+00:00"))
    return datetime.fromisoformat(now.replace("Z", "+00:00")) - then >= LAST_USED_EVERY

