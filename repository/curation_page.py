"""`/curation`: a signed-in curator's queue of proposed changes to their organisations'
objects, each with what approving it would change and forms to approve or reject it
(docs/curation.md). Personal, like /account: never cached, forms under CSRF checks. The
decision is the API's (repository/decisions.py), made as the person signed in.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request
from werkzeug.wrappers import Response

from repository import errors
from repository.access import CURATOR, Principal
from repository.account import PAGES
from repository.authentication import person_principal
from repository.csrf import check_form, csrf_token
from repository.curation_api import decisions
from repository.decisions import Decision
from repository.identity import Person
from repository.services import FDOService
from repository.signin import signed_in
from resolver.comparison import proposed_change
from resolver.pids import MalformedPID, find_pid, parse_pid, pid_url
from resolver.proposals import APPROVED, PENDING, REJECTED
from resolver.renderers import display
from resolver.renderers.html import change_rows
from resolver.responses import base_url
from schemas import KINDS
from storage.annotation_table import AnnotationQuery

curation_page = Blueprint("curation_page", __name__)
QUEUE_LENGTH = 50  # proposals shown per organisation


def _service() -> FDOService:
    found: FDOService = current_app.extensions["fdo"]
    return found


def _principal() -> tuple[Principal, str] | None:
    """The person signed in on this browser as a principal, and their session's id."""
    person = signed_in()
    if person is None:
        return None
    principal = person_principal(_service(), Person(person.agent, person.name,
                                                    person.idp_roles))
    return principal, person.id_hash


@curation_page.get("/curation")
def queue() -> Response:
    found = _principal()
    principal = found[0] if found else None
    organisations = sorted({grant.organisation for grant in principal.grants
                            if grant.role == CURATOR}) if principal else []
    scopes: list[str | None] = [None] if principal and principal.administrator \
        else list(organisations)
    page = PAGES.get_template("curation.html").render(
        base_url=base_url(), principal=principal,
        queues=[_proposals(scope) for scope in scopes],
        csrf_token=csrf_token(current_app.config["FDO_CSRF_KEY"], found[1]) if found else "")
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response


def _proposals(organisation: str | None) -> dict[str, object]:
    """One organisation's pending proposals (every organisation's for an administrator),
    each with what approving it would change in its target now."""
    fdo = _service()
    pids, total = fdo.index.annotations.page(AnnotationQuery(
        decisions=(PENDING,), organisation=organisation, limit=QUEUE_LENGTH))
    annotations = fdo.current_records(pids)
    targets = {record.pid: record for record in fdo.current_records(
        [find_pid(str(a.content["oa:hasTarget"]["@id"])) or "" for a in annotations])}
    items = []
    for annotation in annotations:
        target_pid = find_pid(str(annotation.content["oa:hasTarget"]["@id"])) or ""
        target = targets.get(target_pid)
        change = proposed_change(annotation.content, target.content) if target else None
        items.append({
            "pid": annotation.pid, "etag": annotation.digest,
            "url": pid_url(fdo.base_url, annotation.pid),
            "target_url": pid_url(fdo.base_url, target_pid),
            "target": display.title_of(KINDS[target.kind], target.content) if target
            else target_pid,
            "motivation": display.motivation(annotation.content),
            "creator": display.text(display.first_dict(
                annotation.content.get("dcterms:creator")).get("schema:name")),
            "changes": change_rows([change]) if change else []})
    return {"organisation": organisation, "total": total, "proposals": items}


@curation_page.post("/curation/decision")
def decide() -> Response:
    found = _principal()
    if found is None:
        raise errors.Unauthorized("sign in to decide on proposed changes")
    principal, id_hash = found
    check_form(request, current_app.config["FDO_CSRF_KEY"], id_hash, base_url())
    status = request.form.get("decision", "")
    if status not in (APPROVED, REJECTED):
        raise errors.BadRequest(f"decision is '{APPROVED}' or '{REJECTED}'")
    try:
        pid = parse_pid(request.form.get("annotation", "")).pid
    except MalformedPID as error:
        raise errors.BadRequest(str(error)) from error
    decision = Decision(status, request.form.get("comment", "").strip()[:2000],
                        force=request.form.get("force") == "on",
                        source_priority=request.form.get("sourcePriority") == "on")
    decided = decisions().decide(pid, decision, request.form.get("etag", ""), principal)
    shown = decided.target or decided.annotation
    return redirect(pid_url(base_url(), shown.pid), 303)


curation_page.register_error_handler(errors.FDOError, errors.page_error)
