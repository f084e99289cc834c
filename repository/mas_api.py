"""Running machine annotation services (docs/machine-annotation.md): on an object, and the
runs' job records as the services end them. Registering a service is the object API's
(`POST /api/v1/machine-annotation-services`, administrators only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from repository import errors
from repository.api import JSON_TYPES, OBJECT, actor, json_body, object_response, service
from repository.batches import search_arguments
from repository.jobs import Jobs
from repository.machine_services import MachineServices
from repository.search import Search
from resolver.pids import pid_url
from schemas import KINDS, MAS_JOB

mas_api = Blueprint("mas_api", __name__, url_prefix="/api/v1")
MAX_SERVICES = 20  # services one request may run on an object


def machine_services() -> MachineServices:
    found: MachineServices = current_app.extensions["machine_services"]
    return found


@mas_api.post(OBJECT + "/mas")
def run_on_object(kind: str, prefix: str, suffix: str) -> Response:
    """202 with a job record per service, each delivered to its service in the background."""
    principal = actor()
    if kind not in KINDS or KINDS[kind].written_by_repository:
        raise errors.NotFound(f"machine annotation services run on objects, not on {kind}")
    references = _services(json_body(*JSON_TYPES))
    target = service().latest(kind, prefix, suffix)
    services = [machine_services().service(reference, f"/services/{number}")
                for number, reference in enumerate(references)]
    runs = machine_services().schedule(target, services, principal)
    jobs: Jobs = current_app.extensions["jobs"]
    for number, run in enumerate(runs):
        try:
            jobs.submit_machine_run(run.record.pid, run.ttl_ms, principal)
        except errors.FDOError as error:  # the queue (503) or the index did not answer
            for unqueued in runs[number:]:  # their records say so, not Scheduled forever
                machine_services().abandon(unqueued.record.pid, str(error))
            raise
    response = jsonify({"jobs": [run.record.content["@id"] for run in runs]})
    response.status_code = 202
    return response


@mas_api.post("/<kind>/search/mas")
def run_on_search(kind: str) -> Response:
    """202 with the background job that schedules a run per object the search finds:
    {"services": [...], "search": "<a search's query string>"}."""
    principal = actor()
    if kind not in KINDS or KINDS[kind].written_by_repository:
        raise errors.NotFound(f"machine annotation services run on objects, not on {kind}")
    body = json_body(*JSON_TYPES)
    references = _services(body)
    search = body.get("search", "")
    if not isinstance(search, str) or len(search) > 4000:
        raise errors.SchemaInvalid("search is a search's query string, such as "
                                   "country=Belgium", [{"path": "/search",
                                                        "message": "must be a string"}])
    arguments = search_arguments(search)
    searcher: Search = current_app.extensions["search"]
    total = searcher.find((kind,), arguments).page.total
    if not total:
        raise errors.Unprocessable("the search finds no object", [
            {"path": "/search", "message": "finds no object: a run needs at least one"}])
    services = machine_services().batch_services(references, total)
    jobs: Jobs = current_app.extensions["jobs"]
    row = jobs.submit_search_run(kind, arguments, [found.pid for found in services],
                                 principal)
    url = f"{service().base_url}/api/v1/ingest-jobs/{row.id}"
    response = jsonify({"run": url, "total": total})
    response.status_code = 202
    response.headers["Location"] = url
    return response


def _services(body: Any) -> list[Any]:
    references = body.get("services") if isinstance(body, dict) else None
    if not isinstance(references, list) or not 1 <= len(references) <= MAX_SERVICES:
        raise errors.SchemaInvalid(
            "the body is {\"services\": [<a machine annotation service's PID URL>, ...]}",
            [{"path": "/services", "message": f"is a list of 1 to {MAX_SERVICES} PID URLs"}])
    return references


@mas_api.get(f"/{MAS_JOB.name}/<prefix>/<suffix>")
def read_job(prefix: str, suffix: str) -> Response:
    """The job record with its state, and the annotations the run made."""
    record = service().latest(MAS_JOB.name, prefix, suffix)
    body: dict[str, Any] = {**record.content,
                            "annotations": machine_services().annotations_of(record.pid)}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-cache"
    return response


@mas_api.put(f"/{MAS_JOB.name}/<prefix>/<suffix>")
def end_job(prefix: str, suffix: str) -> Response:
    """The service ends its run with its job token: {"status": "Completed" | "Failed",
    "message": "..."}."""
    principal = actor()
    body = json_body(*JSON_TYPES)
    if not isinstance(body, dict):
        raise errors.SchemaInvalid("the body must be a JSON object",
                                   [{"path": "", "message": "must be a JSON object"}])
    unknown = sorted(set(body) - {"status", "message"})
    if unknown:
        raise errors.SchemaInvalid(f"'{unknown[0]}' is not a term of a run's end",
                                   [{"path": f"/{unknown[0]}", "message": "is not allowed"}])
    record = service().latest(MAS_JOB.name, prefix, suffix)
    ended = machine_services().end(record.pid, body.get("status"), body.get("message"),
                                   principal)
    response = object_response(ended)
    response.headers["Location"] = pid_url(service().base_url, ended.pid)
    return response
