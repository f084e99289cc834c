"""Grants and tokens through the API: `/api/v1/grants`, `/api/v1/tokens`. Administrators
only; the same rules as `fdo grants` and `fdo tokens` (repository/access_cli.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from repository import errors
from repository.access import ANNOTATOR, Grant, Principal, checked_grant, require_administrator
from repository.api import JSON_TYPES, actor, json_body, service
from repository.provenance import now_iso
from repository.tokens import checked_orcid, create_token
from storage.access_table import GrantExists, NameTaken, ScopedRole, token_agent
from storage.models import GrantRow, TokenRow

access_api = Blueprint("access", __name__, url_prefix="/api/v1")


def _administrator(permission: str) -> Principal:
    principal = actor()
    require_administrator(principal, permission)
    return principal


def _fields(body: Any, *names: str) -> dict[str, str | None]:
    """Optional string members of a JSON object body (400 naming any that is not one)."""
    if not isinstance(body, dict):
        raise errors.SchemaInvalid("the body must be a JSON object",
                                   [{"path": "", "message": "must be a JSON object"}])
    found: dict[str, str | None] = {}
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise errors.SchemaInvalid(f"{name} must be a string",
                                       [{"path": f"/{name}", "message": "must be a string"}])
        found[name] = value
    return found


def _grant(fields: dict[str, str | None]) -> Grant:
    try:
        return checked_grant(fields["role"] or "", fields["organisation"],
                             fields["sourceSystem"])
    except ValueError as error:
        raise errors.SchemaInvalid(str(error), [{"path": "/role", "message": str(error)}]
                                   ) from error


def _agent(value: str | None) -> str:
    """An agent as the body names it: an ORCID iD, or `token:<name>` of a live token."""
    text = (value or "").strip()
    if text.startswith("token:"):
        if not service().index.access.live_token(text.removeprefix("token:")):
            raise _invalid("/agent", f"no live token is named '{text.removeprefix('token:')}'")
        return text
    try:
        return checked_orcid(text)
    except ValueError as error:
        raise _invalid("/agent", f"{error}; or token:<name> for a token") from error


def _invalid(path: str, message: str) -> errors.SchemaInvalid:
    return errors.SchemaInvalid(message, [{"path": path, "message": message}])


def _grant_json(row: GrantRow) -> dict[str, Any]:
    return {"id": row.id, "agent": row.agent, "role": row.role,
            "organisation": row.organisation_id or None,
            "sourceSystem": row.source_system or None,
            "created": row.created, "createdBy": row.created_by}


@access_api.get("/grants")
def list_grants() -> Response:
    _administrator("grants:read")
    return jsonify({"grants": [_grant_json(row) for row in service().index.access.grants()]})


@access_api.post("/grants")
def add_grant() -> Response:
    principal = _administrator("grants:write")
    fields = _fields(json_body(*JSON_TYPES), "agent", "role", "organisation", "sourceSystem")
    agent, grant = _agent(fields["agent"]), _grant(fields)
    try:
        row = service().index.access.add_grant(GrantRow(
            agent=agent, role=grant.role, organisation_id=grant.organisation,
            source_system=grant.source_system, created=now_iso(),
            created_by=principal.agent.id))
    except GrantExists as error:
        raise errors.Conflict(f"{agent} already holds {grant.describe()}") from error
    response = jsonify(_grant_json(row))
    response.status_code = 201
    return response


@access_api.delete("/grants")
def remove_grant() -> Response:
    _administrator("grants:write")
    fields = _fields(json_body(*JSON_TYPES), "agent", "role", "organisation", "sourceSystem")
    agent, grant = _agent(fields["agent"]), _grant(fields)
    role = ScopedRole(grant.role, grant.organisation, grant.source_system)
    if not service().index.access.remove_grant(agent, role):
        raise errors.NotFound(f"{agent} holds no grant {grant.describe()}")
    return Response(status=204)


def _token_json(row: TokenRow, grants: list[GrantRow]) -> dict[str, Any]:
    return {"name": row.name, "orcid": row.orcid, "created": row.created,
            "lastUsed": row.last_used, "expires": row.expires, "revoked": row.revoked,
            "grants": [_grant_json(grant) for grant in grants]}


@access_api.get("/tokens")
def list_tokens() -> Response:
    _administrator("tokens:read")
    return jsonify({"tokens": [_token_json(row, grants)
                               for row, grants in service().index.access.tokens()]})


@access_api.post("/tokens")
def add_token() -> Response:
    """A new token, shown in this answer only: only its hash is stored."""
    principal = _administrator("tokens:write")
    fields = _fields(json_body(*JSON_TYPES), "name", "role", "organisation", "sourceSystem",
                     "expires", "orcid")
    try:
        token = create_token(service().index, fields["name"] or "", fields["role"] or ANNOTATOR,
                             organisation=fields["organisation"],
                             source_system=fields["sourceSystem"], expires=fields["expires"],
                             orcid=fields["orcid"], created_by=principal.agent.id)
    except ValueError as error:
        raise _invalid("", str(error)) from error
    except NameTaken as error:
        raise errors.Conflict(f"a live token is named '{fields['name']}'") from error
    response = jsonify({"name": (fields["name"] or "").strip(), "token": token,
                        "agent": token_agent((fields["name"] or "").strip())})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@access_api.delete("/tokens/<name>")
def revoke_token(name: str) -> Response:
    _administrator("tokens:write")
    if service().index.access.revoke(name, now_iso()) == 0:
        raise errors.NotFound(f"no live token is named '{name}'")
    return Response(status=204)
