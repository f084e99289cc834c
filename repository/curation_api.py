"""Curation's API (docs/curation.md): a curator's decision on a proposed change, and the
lists curators and annotators work from. Thin views over repository/decisions.py and
the index's annotation table (storage/annotation_table.py)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from repository import errors
from repository.access import CURATOR
from repository.api import JSON_TYPES, actor, if_match, json_body, object_response, service
from repository.batches import Batches, parsed_request
from repository.decisions import Decisions, parsed_decision
from repository.jobs import Jobs
from resolver.pids import MalformedPID, canonical_pid, find_pid, pid_url
from resolver.proposals import APPROVED, PENDING, REJECTED
from schemas import KINDS
from storage.annotation_table import AnnotationQuery
from storage.models import IngestJobRow

curation_api = Blueprint("curation_api", __name__, url_prefix="/api/v1")
MOTIVATIONS = ("ods:adding", "ods:deleting", "oa:editing", "oa:assessing", "oa:commenting")
DECISIONS = (PENDING, APPROVED, REJECTED)
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 100, 20


def batches() -> Batches:
    made: Batches = current_app.extensions["batches"]
    return made


def decisions() -> Decisions:
    made: Decisions = current_app.extensions["decisions"]
    return made


@curation_api.post("/annotations/<prefix>/<suffix>/decision")
def decide(prefix: str, suffix: str) -> Response:
    """Approve or reject a proposed change: the annotation's decision version, with a
    `Link` to the target version that carries an approved change."""
    principal = actor()
    decision = parsed_decision(json_body(*JSON_TYPES))
    decided = decisions().decide(_pid(prefix, suffix), decision, if_match(), principal)
    response = object_response(decided.annotation)
    if decided.target is not None:
        made = pid_url(service().base_url, decided.target.pid, decided.target.version)
        response.headers.add("Link", f'<{made}>; rel="related"')
    return response


@curation_api.get("/<kind>/<prefix>/<suffix>/annotations")
def annotations_of(kind: str, prefix: str, suffix: str) -> Response:
    """The live annotations on one object, by motivation and decision if asked."""
    if kind not in KINDS:
        raise errors.NotFound(f"unknown kind '{kind}'; one of {', '.join(KINDS)}")
    pid = _pid(prefix, suffix)
    row = service().index.current(pid)
    if row is None or row.kind != kind:
        raise errors.NotFound(f"no {kind} object with PID {pid}")
    return _listed(AnnotationQuery(target=pid), ())


@curation_api.get("/annotations/pending")
def pending() -> Response:
    """The proposed changes waiting for a decision, of one organisation's objects if
    `organisation` is given: a curator's queue."""
    return _listed(AnnotationQuery(decisions=(PENDING,)), ("organisation",),
                   fixed=("mergingDecisionStatus",))


@curation_api.get("/annotations/mine")
def mine() -> Response:
    """The signed-in person's (or token's) own annotations."""
    return _listed(AnnotationQuery(creator=actor().agent.id), ())


@curation_api.post("/annotations/batches")
def make_batch() -> Response:
    """An annotation for every object a search finds: with `dryRun`, how many and a
    sample; else 202 and a background job making them (docs/curation.md#batches)."""
    principal = actor()
    asked = parsed_request(json_body(*JSON_TYPES))
    plan = batches().planned(asked, principal)
    if asked.dry_run:
        return jsonify({**plan, "dryRun": True})
    batches().check_owner(asked, principal)
    job = _job(jobs().submit_batch(asked, principal))
    return _accepted({"batchID": asked.batch_id, "total": plan["total"], **job})


@curation_api.get("/annotations/batches/<batch_id>")
def batch_status(batch_id: str) -> Response:
    """How many annotations the batch holds, by decision."""
    response = jsonify(batches().status(_batch_id(batch_id)))
    response.headers["Cache-Control"] = "no-cache"
    return response


@curation_api.post("/annotations/batches/<batch_id>/decision")
def decide_batch(batch_id: str) -> Response:
    """A curator's decision on every pending annotation of the batch, in a background job:
    each target gets its own version; those the curator may not decide are counted."""
    principal = actor()
    decision = parsed_decision(json_body(*JSON_TYPES))
    if not principal.administrator and not any(grant.role == CURATOR
                                               for grant in principal.grants):
        raise errors.Forbidden("deciding on a batch needs a curator or administrator role",
                               permission="annotations:decide",
                               allowedRoles=["curator", "administrator"])
    batch = _batch_id(batch_id)
    job = _job(jobs().submit_decision(batch, decision, principal))
    return _accepted({"batchID": batch, **job})


def jobs() -> Jobs:
    queued: Jobs = current_app.extensions["jobs"]
    return queued


def _job(row: IngestJobRow) -> dict[str, str]:
    return {"job": f"{service().base_url}/api/v1/ingest-jobs/{row.id}"}


def _accepted(body: dict[str, Any]) -> Response:
    body["status"] = f"{service().base_url}/api/v1/annotations/batches/{body['batchID']}"
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["status"]
    return response


def _batch_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as error:
        raise errors.NotFound(f"no batch '{text[:80]}': a batch ID is a UUID") from error


def _listed(base: AnnotationQuery, extra: tuple[str, ...],
            fixed: tuple[str, ...] = ()) -> Response:
    """A page of a list; `extra`: its own parameters; `fixed`: what it does not take (the
    pending queue is of Pending annotations)."""
    query = _query(base, extra, fixed)
    pids, total = service().index.annotations.page(query)
    records = service().current_records(pids)
    cursor = pids[-1] if len(pids) == query.limit else None
    kept = [(name, value) for name, value in request.args.items(multi=True) if name != "cursor"]
    response = jsonify({
        "total": total, "pageSize": query.limit,
        "annotations": [record.content for record in records],
        "cursor": cursor,
        "next": f"{service().base_url}{request.path}?{urlencode([*kept, ('cursor', cursor)])}"
        if cursor else None})
    response.headers["Cache-Control"] = "no-cache"
    return response


def _query(base: AnnotationQuery, extra: tuple[str, ...],
           fixed: tuple[str, ...]) -> AnnotationQuery:
    """The list's parameters checked: 400 naming a wrong one and the valid ones."""
    valid = tuple(name for name in ("motivation", "mergingDecisionStatus", "pageSize",
                                    "cursor", *extra) if name not in fixed)
    unknown = sorted(set(request.args) - set(valid))
    if unknown:
        raise _bad(unknown[0], f"is not a parameter here; valid: {', '.join(valid)}")
    motivations = tuple(request.args.getlist("motivation"))
    statuses = tuple(request.args.getlist("mergingDecisionStatus"))
    for name, values, allowed in (("motivation", motivations, MOTIVATIONS),
                                  ("mergingDecisionStatus", statuses, DECISIONS)):
        wrong = [value for value in values if value not in allowed]
        if wrong:
            raise _bad(name, f"'{wrong[0][:80]}' is none of {', '.join(allowed)}")
    size = request.args.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not (size.isascii() and size.isdigit() and len(size) <= 4
            and 1 <= int(size) <= MAX_PAGE_SIZE):
        raise _bad("pageSize", f"is a whole number from 1 to {MAX_PAGE_SIZE}")
    cursor = request.args.get("cursor", "")
    if cursor and find_pid(cursor) != cursor:
        raise _bad("cursor", "is the cursor a page of this list gave")
    organisation = request.args.get("organisation")
    fields: dict[str, Any] = {"motivations": motivations, "limit": int(size), "after": cursor}
    if statuses:
        fields["decisions"] = statuses
    if organisation:
        fields["organisation"] = "https://" + organisation.removeprefix("https://").removeprefix(
            "http://")
    return AnnotationQuery(**{**base.__dict__, **fields})


def _pid(prefix: str, suffix: str) -> str:
    try:
        return canonical_pid(prefix, suffix)
    except MalformedPID as error:
        raise errors.BadRequest(str(error)) from error


def _bad(name: str, message: str) -> errors.BadRequest:
    return errors.BadRequest(f"{name} {message}", [{"path": name, "message": message}])
