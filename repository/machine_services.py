"""Machine annotation services (docs/machine-annotation.md): services that propose
annotations, registered by an administrator (`schemas.MACHINE_ANNOTATION_SERVICE`) and run
by the repository on objects, each run a job record with a Handle (`schemas.MAS_JOB`).

A run goes: the job record is made `Scheduled` when someone asks, and a background job
(repository/jobs.py) delivers it. Delivery writes `Running`, then POSTs `{jobID, object,
callback}` to the service's endpoint, retrying a failed delivery with backoff and ending
`Failed` with the reason. The service answers by posting annotations with the job's token
and ods:jobID, and ends the run with `Completed` (or `Failed`). A second background job,
queued to run at the time to live, ends a run nobody ended as `TimedOut`. Every state is a
new version of the job record, so its history is its versions, with provenance.

A job token is valid for one job while it runs: `<payload>.<signature>`, an HMAC under the
repository's secret key, holding the job's PID. It is the job's service acting, allowed
only to make annotations carrying that job's ods:jobID and to end the job.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from repository import errors
from repository.access import Principal, trusted
from repository.provenance import Agent
from repository.records import client_part
from repository.services import FDOService
from repository.target_filter import FILTER, first_mismatch
from resolver.pids import MalformedPID, parse_pid, pid_url
from resolver.renderers.jsonld import served
from schemas import ANNOTATION, KINDS, MACHINE_ANNOTATION_SERVICE, MAS_JOB, TOMBSTONE
from storage.annotation_table import AnnotationQuery
from storage.reader import VersionRecord

log = logging.getLogger(__name__)
SCHEDULED, RUNNING, COMPLETED, FAILED, TIMED_OUT = (
    "Scheduled", "Running", "Completed", "Failed", "TimedOut")
ENDED = (COMPLETED, FAILED, TIMED_OUT)
STATE = "ods:jobState"
DEFAULT_TTL_MS = 86_400_000  # a day, when the service names none
DEFAULT_MAX_OBJECTS = 10_000  # objects a run on a search may cover, when it names none
# A delivery: connect within 2 s, the answer within 10 s (the service answers at once and
# works afterwards). A failed one is tried again after 0.5, 1 and 2 s: four attempts.
DELIVERY_TIMEOUT = (2.0, 10.0)
DELIVERY_ATTEMPTS = 4
FIRST_BACKOFF = 0.5
TOKEN_PURPOSE = "mas-job-token"
MAX_REASON = 300


@dataclass(frozen=True)
class Scheduled:
    """A run asked for: its job record, and when it is to time out (ms from now)."""

    record: VersionRecord
    ttl_ms: int
    created: bool = True  # False: a run on a search made again found it


class MachineServices:
    def __init__(self, fdo: FDOService, token_key: bytes,
                 post: Callable[..., requests.Response] = requests.post) -> None:
        self.fdo = fdo
        self.token_key = token_key
        self.post = post

    # -- asking for runs ----------------------------------------------------------------

    def service(self, reference: Any, pointer: str) -> VersionRecord:
        """The live service `reference` (its PID URL) names, or 422 naming `pointer`."""
        def refused(why: str) -> errors.Unprocessable:
            message = f"{str(reference)[:200]!r} {why}"
            return errors.Unprocessable(message, [{"path": pointer, "message": message}])

        if not isinstance(reference, str):
            raise refused("is not a machine annotation service's PID URL")
        try:
            ref = parse_pid(reference, self.fdo.base_url)
        except MalformedPID as error:
            raise refused("is not a machine annotation service's PID URL") from error
        row = self.fdo.index.current(ref.pid)
        if row is None or row.kind != MACHINE_ANNOTATION_SERVICE.name:
            raise refused("names no machine annotation service of this repository")
        if row.status == TOMBSTONE:
            raise refused("was tombstoned: it runs no more")
        return self.fdo.reader.version(row.pid, row.version)

    def schedule(self, target: VersionRecord, services: list[VersionRecord],
                 asked_by: Principal) -> list[Scheduled]:
        """A job record per service, `Scheduled`, once every service's filter admits the
        target (422 naming the first that does not)."""
        for number, service in enumerate(services):
            mismatch = first_mismatch(service.content.get(FILTER) or {}, target.content)
            if mismatch is not None:
                message = (f"{service.content['schema:name']} does not run on this object: "
                           f"its target filter's {mismatch} does not match")
                raise errors.Unprocessable(message, [{"path": f"/services/{number}",
                                                      "message": message}])
        return [self._scheduled(target, service, asked_by) for service in services]

    def batch_services(self, references: list[Any], total: int) -> list[VersionRecord]:
        """The services a run on a search may use: each permits batching, and takes as
        many objects as the search finds (422 naming the one that does not)."""
        services = []
        for number, reference in enumerate(references):
            service = self.service(reference, f"/services/{number}")
            name = service.content["schema:name"]
            limit = int(service.content.get("ods:maxObjectsPerRun") or DEFAULT_MAX_OBJECTS)
            why = ("does not run on searches (ods:batchingPermitted is false)"
                   if not service.content.get("ods:batchingPermitted") else
                   f"takes at most {limit:,} objects a run; the search finds {total:,}: "
                   f"narrow it" if total > limit else "")
            if why:
                raise errors.Unprocessable(f"{name} {why}", [{"path": f"/services/{number}",
                                                             "message": why}])
            services.append(service)
        return services

    def run_on_search(self, run_id: str, found: Iterable[tuple[int, str, int]],
                      service_pids: list[str], asked_by: Principal,
                      submit: Callable[[Scheduled], None],
                      progress: Callable[[int, int], None]) -> dict[str, Any]:
        """A run on a search (a background job's work): a job record per object and
        service whose filter admits it, each delivered as a run on one object. Made again
        after its worker died, it finds the records it made (their claim is the run, the
        object and the service) and queues again only those still `Scheduled`."""
        services = [self._versioned(pid_url(self.fdo.base_url, pid)) for pid in service_pids]
        counts = {"scheduled": 0, "found": 0, "notAdmitted": 0}
        total = 0
        for place, pid, total in found:
            self._run_admitted(pid, services, asked_by, run_id, counts, submit)
            progress(place, total)
        return {"runID": run_id, "objects": total, **counts}

    def at_ingest(self, run_id: str, references: tuple[str, ...], asked_by: Principal,
                  submit: Callable[[Scheduled], None]) -> tuple[Callable[[str], None],
                                                                dict[str, int]]:
        """For an ingest whose source system chose services: a function scheduling their
        runs on one created or changed specimen (the filters still decide), and the counts
        it keeps. A service that is gone is counted, not run."""
        services, counts = [], {"scheduled": 0, "found": 0, "notAdmitted": 0,
                                "servicesGone": 0}
        for reference in references:
            try:
                services.append(self.service(reference, "/"))
            except errors.Unprocessable:
                counts["servicesGone"] += 1

        def changed(pid: str) -> None:
            self._run_admitted(pid, services, asked_by, run_id, counts, submit)
        return changed, counts

    def _run_admitted(self, pid: str, services: list[VersionRecord], asked_by: Principal,
                      run_id: str, counts: dict[str, int],
                      submit: Callable[[Scheduled], None]) -> None:
        """A run of each service whose filter admits the live object `pid`, claimed by
        `run_id`; queued unless it was made and has gone on before."""
        row = self.fdo.index.current(pid)
        if row is None or row.status == TOMBSTONE:
            return
        target = self.fdo.reader.version(pid, row.version)
        for service in services:
            if first_mismatch(service.content.get(FILTER) or {}, target.content):
                counts["notAdmitted"] += 1
                continue
            run = self._scheduled(target, service, asked_by, run_id)
            counts["scheduled" if run.created else "found"] += 1
            if run.record.content[STATE] == SCHEDULED:
                submit(run)

    def _scheduled(self, target: VersionRecord, service: VersionRecord, asked_by: Principal,
                   run_id: str | None = None) -> Scheduled:
        ttl_ms = int(service.content.get("ods:timeToLive") or DEFAULT_TTL_MS)
        expires = datetime.now(UTC) + timedelta(milliseconds=ttl_ms)
        record, created = self.fdo.create_or_find(MAS_JOB.name, {
            "schema:name": f"{service.content['schema:name']} on {target.pid}",
            STATE: SCHEDULED,
            "ods:machineAnnotationServiceID": pid_url(self.fdo.base_url, service.pid),
            "ods:targetID": pid_url(self.fdo.base_url, target.pid, target.version),
            "ods:targetType": KINDS[target.kind].object_type,
            "schema:expires": expires.isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "ods:deliveryAttempts": 0, **({"ods:runID": run_id} if run_id else {})},
            self._scheduler(asked_by.agent))
        return Scheduled(record, ttl_ms, created)

    # -- the background jobs ------------------------------------------------------------

    def deliver(self, job_pid: str) -> dict[str, Any]:
        """Send the run to its service (a background job's work): `Running`, then the
        POST, tried DELIVERY_ATTEMPTS times; `Failed` with the reason if none succeeds. A
        run that has ended (or is past its time) is left as it is, so a second delivery of
        the same job, after a worker died, sends nothing again once the first got through."""
        record = self._record(job_pid)
        if record.content[STATE] != SCHEDULED or self._expired(record):
            return {"job": record.content["@id"], "state": record.content[STATE]}
        service = self._versioned(record.content["ods:machineAnnotationServiceID"])
        target = self._versioned(record.content["ods:targetID"])
        try:
            record = self._state(record, RUNNING, self._scheduler(self._agent_of(service)))
        except errors.PreconditionFailed:  # another delivery of the same run got there first
            return {"job": record.content["@id"], "state": RUNNING}
        body = {"jobID": record.content["@id"],
                "object": served(target.content, self.fdo.base_url),
                "callback": {"annotations": f"{self.fdo.base_url}/api/v1/{ANNOTATION.name}",
                             "job": f"{self.fdo.base_url}/api/v1/{MAS_JOB.name}/{record.pid}",
                             "token": self.job_token(record, service)}}
        reason = ""
        for attempt in range(DELIVERY_ATTEMPTS):
            if attempt:
                time.sleep(FIRST_BACKOFF * 2 ** (attempt - 1))
            reason = self._delivered(service.content["ods:serviceEndpoint"], body)
            if not reason:
                return {"job": record.content["@id"], "state": RUNNING,
                        "deliveryAttempts": attempt + 1}
        failed = self._end(job_pid, FAILED, self._scheduler(self._agent_of(service)),
                           f"the service was not reached after {DELIVERY_ATTEMPTS} "
                           f"attempts: {reason}", attempts=DELIVERY_ATTEMPTS)
        return {"job": record.content["@id"], "state": failed.content[STATE]}

    def expire(self, job_pid: str) -> dict[str, Any]:
        """At the time to live: a run nobody ended is `TimedOut`."""
        record = self._record(job_pid)
        if record.content[STATE] not in ENDED:
            service = self._versioned(record.content["ods:machineAnnotationServiceID"])
            record = self._end(job_pid, TIMED_OUT, self._scheduler(self._agent_of(service)),
                               "the service did not end the run within its time to live")
        return {"job": record.content["@id"], "state": record.content[STATE]}

    def abandon(self, job_pid: str, reason: str) -> None:
        """A run that could not be queued ends `Failed` at once, saying why."""
        record = self._record(job_pid)
        service = self._versioned(record.content["ods:machineAnnotationServiceID"])
        with contextlib.suppress(errors.FDOError):  # the original error is the answer
            self._end(job_pid, FAILED, self._scheduler(self._agent_of(service)),
                      f"the run could not be queued: {reason}")

    # -- the service's side -------------------------------------------------------------

    def end(self, job_pid: str, state: Any, message: Any, principal: Principal) -> VersionRecord:
        """The service ends its run (its job token): Completed or Failed, with an optional
        message. 409 if the run has ended already."""
        if principal.job != pid_url(self.fdo.base_url, job_pid):
            raise errors.Forbidden("only the run's own job token ends it",
                                   permission="mas-jobs:end", job=pid_url(self.fdo.base_url,
                                                                         job_pid))
        if state not in (COMPLETED, FAILED):
            raise errors.SchemaInvalid("status is Completed or Failed",
                                       [{"path": "/status", "message": "is Completed or Failed"}])
        if message is not None and not isinstance(message, str):
            raise errors.SchemaInvalid("message is a string",
                                       [{"path": "/message", "message": "must be a string"}])
        # The service's own change, written by the repository for it (its token may
        # write nothing else itself): the provenance names the service.
        return self._end(job_pid, state, trusted(principal.agent), message or None)

    def annotations_of(self, job_pid: str) -> list[str]:
        """The PID URLs of the annotations the run made, in PID order."""
        pids, _ = self.fdo.index.annotations.page(AnnotationQuery(
            job=pid_url(self.fdo.base_url, job_pid), limit=10_000))
        return [pid_url(self.fdo.base_url, pid) for pid in pids]

    def job_token(self, record: VersionRecord, service: VersionRecord) -> str:
        payload = _encoded(json.dumps({"job": record.pid, "mas": service.pid,
                                       "name": service.content["schema:name"]},
                                      separators=(",", ":")).encode())
        return f"{payload}.{self._signature(payload)}"

    def job_principal(self, token: str) -> Principal:
        """The service acting for one running job, or InvalidToken saying why not."""
        payload, _, signature = token.partition(".")
        # Compared as bytes: compare_digest refuses str that is not ASCII, and a client
        # may send anything.
        if not hmac.compare_digest(signature.encode(errors="surrogateescape"),
                                   self._signature(payload).encode()):
            raise errors.InvalidToken("the bearer token is not valid")
        claims = json.loads(_decoded(payload))
        row = self.fdo.index.current(claims["job"])
        if row is None:
            raise errors.InvalidToken("the bearer token's job is not in this repository")
        record = self.fdo.reader.version(row.pid, row.version)
        if record.content[STATE] in ENDED or self._expired(record):
            raise errors.InvalidToken(f"the bearer token's job has ended "
                                      f"({record.content[STATE]}): its token is spent")
        return Principal(Agent(id=pid_url(self.fdo.base_url, claims["mas"]),
                               name=claims["name"], role="machine"),
                         frozenset(), job=pid_url(self.fdo.base_url, claims["job"]))

    # -- helpers -------------------------------------------------------------------------

    def _signature(self, payload: str) -> str:
        return _encoded(hmac.new(self.token_key, payload.encode(), hashlib.sha256).digest())

    def _delivered(self, endpoint: str, body: dict[str, Any]) -> str:
        """'' once the service took the run; else why not, in words for the record."""
        try:
            response = self.post(endpoint, json=body, timeout=DELIVERY_TIMEOUT,
                                 allow_redirects=False)
        except requests.RequestException as error:
            return f"{type(error).__name__}: {str(error)[:MAX_REASON]}"
        if 200 <= response.status_code < 300:
            return ""
        return f"HTTP {response.status_code}: {response.text[:MAX_REASON]}"

    def _record(self, job_pid: str) -> VersionRecord:
        row = self.fdo.index.current(job_pid)
        if row is None or row.kind != MAS_JOB.name:
            raise errors.NotFound(f"no machine annotation job {job_pid}")
        return self.fdo.reader.version(row.pid, row.version)

    def _versioned(self, url: str) -> VersionRecord:
        ref = parse_pid(url, self.fdo.base_url)
        row = self.fdo.index.current(ref.pid)
        if row is None:
            raise errors.NotFound(f"{url} is not in this repository")
        return self.fdo.reader.version(ref.pid, ref.version or row.version)

    def _scheduler(self, for_whom: Agent) -> Principal:
        """The repository writing a job record, for who asked or for the service."""
        return trusted(Agent(id=f"{self.fdo.base_url}/agents/mas-scheduler",
                             name="machine annotation scheduler", role="machine",
                             on_behalf_of=for_whom))

    def _agent_of(self, service: VersionRecord) -> Agent:
        return Agent(id=pid_url(self.fdo.base_url, service.pid),
                     name=service.content["schema:name"], role="machine")

    def _expired(self, record: VersionRecord) -> bool:
        return datetime.fromisoformat(record.content["schema:expires"]) <= datetime.now(UTC)

    def _state(self, record: VersionRecord, state: str, actor: Principal,
               reason: str | None = None, attempts: int | None = None) -> VersionRecord:
        content = client_part(record.content)
        content[STATE] = state
        if attempts is not None:
            content["ods:deliveryAttempts"] = attempts
        if reason:
            content["ods:errorMessage"] = reason[:2000]
        prefix, suffix = record.pid.split("/", 1)
        changed, _ = self.fdo.replace(MAS_JOB.name, prefix, suffix, content, record.digest,
                                      actor)
        return changed

    def _end(self, job_pid: str, state: str, actor: Principal, reason: str | None,
             attempts: int | None = None) -> VersionRecord:
        """The run's last state; 409 if another ended it first."""
        for _ in range(3):  # a state written meanwhile (Running) is read and built on
            record = self._record(job_pid)
            if record.content[STATE] in ENDED:
                raise errors.Conflict(f"the run has ended already: "
                                      f"{record.content[STATE]}", state=record.content[STATE])
            try:
                return self._state(record, state, actor, reason, attempts)
            except errors.PreconditionFailed:
                continue
        raise errors.Conflict("the run's record kept changing; try again")


def _encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decoded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

