"""The JSON API: `/api/v1/<kind>/...`. Thin views: parse, call one service, render."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from repository import errors
from repository.access import Principal
from repository.authentication import request_principal
from repository.services import FDOService
from resolver.pids import pid_url
from schemas import KINDS
from storage.models import VersionRow
from storage.versions import VersionRecord

api = Blueprint("api", __name__, url_prefix="/api/v1")
OBJECT = "/<kind>/<prefix>/<suffix>"
JSON_TYPES = ("application/json", "application/ld+json")
PATCH_TYPE = "application/json-patch+json"
IMMUTABLE = "public, max-age=31536000, immutable"
HAS_PROVENANCE = "http://www.w3.org/ns/prov#has_provenance"  # PROV-AQ link relation


def service() -> FDOService:
    fdo: FDOService = current_app.extensions["fdo"]
    return fdo


def actor() -> Principal:
    """Who is asking: 401 without a valid bearer credential."""
    return request_principal(service())


def client_writable(kind: str) -> None:
    """405 for a kind only the repository writes (machine annotation job records)."""
    if kind in KINDS and KINDS[kind].written_by_repository:
        raise errors.MethodNotAllowed(f"{kind} are written by the repository: a run's "
                                      f"service ends it with PUT and {{\"status\"}} "
                                      f"(docs/machine-annotation.md)")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body(*media_types: str) -> Any:
    """The request body as JSON, after checking its media type (415) and syntax (400)."""
    if request.mimetype not in media_types:
        raise errors.UnsupportedMediaType(
            f"send the body as {' or '.join(media_types)} (got '{request.mimetype or 'none'}')")
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise errors.MalformedJSON(f"the body is not UTF-8: {error}") from error
    except (ValueError, RecursionError) as error:
        raise errors.MalformedJSON(f"the body is not valid JSON: {error}") from error


def if_match() -> str | None:
    if "If-Match" not in request.headers:
        return None
    etags = request.if_match
    if etags.star_tag:
        return "*"
    values = [value for value in etags.as_set() if value]
    # One strong ETag is what clients send; none or several match nothing here (412).
    return values[0] if len(values) == 1 else ""


def object_response(record: VersionRecord, status: int = 200,
                     immutable: bool = False) -> Response:
    response = jsonify(record.content)
    response.status_code = status
    response.set_etag(record.digest)
    response.headers["Cache-Control"] = IMMUTABLE if immutable else "no-cache"
    provenance = (f"{service().base_url}/api/v1/{record.kind}/{record.pid}"
                  f"/versions/{record.version}/provenance")
    response.headers["Link"] = f'<{provenance}>; rel="{HAS_PROVENANCE}"'
    return response


@api.post("/<kind>")
def create(kind: str) -> Response:
    """201 with the new object; 200 with the existing annotation for one sent again."""
    client_writable(kind)
    principal = actor()
    record, created = service().create_or_find(kind, json_body(*JSON_TYPES), principal)
    response = object_response(record, 201 if created else 200)
    response.headers["Location"] = record.content["@id"]
    return response


@api.get(OBJECT)
def read_latest(kind: str, prefix: str, suffix: str) -> Response:
    return object_response(service().latest(kind, prefix, suffix))


@api.put(OBJECT)
def replace(kind: str, prefix: str, suffix: str) -> Response:
    client_writable(kind)
    principal = actor()
    document = json_body(*JSON_TYPES)
    record, _ = service().replace(kind, prefix, suffix, document, if_match(), principal)
    return object_response(record)


@api.patch(OBJECT)
def patch(kind: str, prefix: str, suffix: str) -> Response:
    client_writable(kind)
    principal = actor()
    record, _ = service().patch(kind, prefix, suffix, json_body(PATCH_TYPE), if_match(), principal)
    return object_response(record)


@api.delete(OBJECT)
def tombstone(kind: str, prefix: str, suffix: str) -> Response:
    client_writable(kind)
    principal = actor()
    body = json_body(*JSON_TYPES)
    reason = body.get("reason") if isinstance(body, dict) else None
    replaced_by = body.get("replacedBy") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise errors.SchemaInvalid("a tombstone needs a reason",
                                   [{"path": "/reason", "message": "is required (a string)"}])
    if replaced_by is not None and not isinstance(replaced_by, str):
        raise errors.SchemaInvalid("replacedBy must be a PID",
                                   [{"path": "/replacedBy", "message": "must be a string"}])
    record = service().tombstone(kind, prefix, suffix, reason.strip(), replaced_by,
                                 if_match(), principal)
    return object_response(record)


@api.get(OBJECT + "/versions")
def versions(kind: str, prefix: str, suffix: str) -> Response:
    rows = service().versions(kind, prefix, suffix)  # never empty: the object exists
    return jsonify({"pid": rows[0].pid, "versions": [_version_summary(row) for row in rows]})


def _version_summary(row: VersionRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "url": pid_url(service().base_url, row.pid, row.version),
        "digest": row.digest,
        "created": row.created,
        "activity": row.activity,
        "status": row.status,
        "agent": {"@id": row.agent_id, "schema:name": row.agent_name},
    }


@api.get(OBJECT + "/versions/<int:number>")
def read_version(kind: str, prefix: str, suffix: str, number: int) -> Response:
    record = service().version(kind, prefix, suffix, number)
    return object_response(record, immutable=True)


@api.get(OBJECT + "/versions/<int:number>/provenance")
def read_provenance(kind: str, prefix: str, suffix: str, number: int) -> Response:
    record = service().version(kind, prefix, suffix, number)
    response = jsonify(record.provenance)
    response.headers["Cache-Control"] = IMMUTABLE
    return response
