"""The ingest job API: `/api/v1/ingest-jobs`. A dataset is uploaded, checked cheaply and
queued; the job and its report are read back (`fdo worker` runs them: repository/jobs.py)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from repository import errors
from repository.access import Principal, may_see_job, require_ingest
from repository.api import service
from repository.authentication import request_principal
from repository.ingest.datasets import DATASET_FORMATS
from repository.ingest.dwca import ArchiveError
from repository.ingest.mapping import ORGANISATION
from repository.jobs import Jobs, Submission
from repository.source_systems import resolve_source_system
from storage.job_table import SUCCEEDED
from storage.models import IngestJobRow

jobs_api = Blueprint("ingest_jobs", __name__, url_prefix="/api/v1/ingest-jobs")
FLAGS = {"true": True, "false": False}


def runner() -> Jobs:
    jobs: Jobs = current_app.extensions["jobs"]
    return jobs


@jobs_api.post("")
def submit() -> Response:
    principal = request_principal(service())
    if request.mimetype != "multipart/form-data":
        raise errors.UnsupportedMediaType(
            f"send the dataset as multipart/form-data (got '{request.mimetype or 'none'}')")
    # Datasets are larger than any JSON body: their own limit (413 past it).
    request.max_content_length = current_app.config["FDO_INGEST_MAX_BYTES"]
    submission = _submission(principal)
    uploads = [upload for upload in request.files.getlist("archive") if upload.filename]
    if not uploads:
        raise _bad("archive", "the dataset is missing: send it as the file field 'archive'")
    if DATASET_FORMATS[submission.format].one_file and len(uploads) > 1:
        raise _bad("archive", f"format={submission.format} takes one archive "
                              f"(got {len(uploads)})")
    job_id = str(uuid.uuid4())
    try:
        row = runner().submit(job_id, submission, [(upload.filename or "", upload.stream)
                                                   for upload in uploads])
    except ArchiveError as error:
        raise errors.Unprocessable(str(error)) from error
    response = _job_response(row)
    response.status_code = 202
    response.headers["Location"] = _url(job_id)
    return response


def _submission(principal: Principal) -> Submission:
    """The form, checked: the source system (its PID) is read from the index, so an
    unknown or tombstoned one is refused (422) before the upload is spooled."""
    named = _text("sourceSystem", 512)
    if named is None:
        raise _bad("sourceSystem", "sourceSystem is required: the PID of the source system "
                                   "the dataset comes from")
    organisation = _text("organisation", 128)
    if organisation is not None and not ORGANISATION.match(organisation):
        raise _bad("organisation", f"organisation must be a ROR or Wikidata URL "
                                   f"(got '{organisation}')")
    source_system = resolve_source_system(service(), named)
    source_system.check_organisation(organisation, "organisation")
    tombstone_missing = _flag("tombstoneMissing")
    require_ingest(principal, source_system.pid_url, source_system.organisation_id,
                   tombstone_missing)
    # The format defaults to the one the source system serves (its ods:translatorType).
    dataset_format = request.form.get("format", "") or source_system.dataset_format or ""
    if dataset_format not in DATASET_FORMATS:
        raise _bad("format", f"format must be one of {', '.join(DATASET_FORMATS)} "
                             f"(got '{dataset_format}')")
    return Submission(dataset_format, source_system, _text("license", 512), _flag("dryRun"),
                      tombstone_missing, _flag("force"), principal.agent)


def _text(field: str, limit: int) -> str | None:
    value = request.form.get(field, "").strip()
    if len(value) > limit:
        raise _bad(field, f"{field} is longer than {limit} characters")
    return value or None


def _flag(field: str) -> bool:
    value = request.form.get(field, "false").strip().lower()
    if value not in FLAGS:
        raise _bad(field, f"{field} must be true or false (got '{value}')")
    return FLAGS[value]


def _bad(field: str, message: str) -> errors.BadRequest:
    return errors.BadRequest(message, [{"path": f"/{field}", "message": message}])


@jobs_api.get("/<job_id>")
def read(job_id: str) -> Response:
    return _job_response(_job(job_id))


@jobs_api.get("/<job_id>/report")
def report(job_id: str) -> Response:
    row = _job(job_id)
    found = runner().report(row.id) if row.status == SUCCEEDED else None
    if found is None:
        raise errors.NotFound(f"ingest job {row.id} has no report: it is {row.status}")
    size, chunks = found
    return Response(chunks, mimetype="application/json", headers={"Content-Length": str(size)})


def _job(job_id: str) -> IngestJobRow:
    """The job, if the request's principal may see it: its submitter, and whoever may run
    its source system's jobs."""
    principal = request_principal(service())
    try:
        canonical = str(uuid.UUID(job_id))
    except ValueError as error:
        raise errors.BadRequest(f"'{job_id}' is not an ingest job ID (a UUID)") from error
    row = runner().job(canonical)
    if row is None:
        raise errors.NotFound(f"there is no ingest job {canonical}")
    if not may_see_job(principal, row.submitted_by, row.organisation_id, row.source_system):
        raise errors.Forbidden(
            "an ingest job is shown to its submitter, its organisation's curators and its "
            "source system's machines", permission="ingest-jobs:read",
            organisation=row.organisation_id, sourceSystem=row.source_system)
    return row


def _url(job_id: str) -> str:
    return f"{service().base_url}/api/v1/ingest-jobs/{job_id}"


def _job_response(row: IngestJobRow) -> Response:
    body: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "created": row.created,
        "started": row.started,
        "finished": row.finished,
        "sourceSystem": row.source_system,
        "format": row.format,
        "organisation": row.organisation_id,
        "license": row.licence,
        "dryRun": row.dry_run,
        "tombstoneMissing": row.tombstone_missing,
        "submittedBy": row.submitted_by,
        "progress": {"done": row.done, "total": row.total},
        # Runs begun: more than one when a worker died and another ran it again.
        "attempts": row.attempts,
        "summary": row.summary,
        "error": row.error,
        "links": {"self": _url(row.id), "report": _url(row.id) + "/report"},
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"  # it changes as the job runs
    return response
