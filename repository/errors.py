"""Domain exceptions, and the one table that maps them (and the resolver's) to HTTP status
and code.

Services raise these without knowing about HTTP; `register_error_handlers` turns every
one of them, and every werkzeug HTTP error, into the one JSON error body
(`resolver.formats.json_error_body`): `{"status", "code", "message", "errors": [{"path",
"message"}]}`. The resolver's errors answer in the format the client negotiated, as its
row in `resolver.formats` writes errors (JSON when it writes none).

The table lives here, at the top of the import direction (`repository -> resolver ->
storage`): it names the domain exceptions of both layers, and only the handlers, which
are registered here, read it.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from resolver.activity import UnknownPage
from resolver.comparison import BadComparison
from resolver.dump_catalog import UnknownDump
from resolver.formats import Problem
from resolver.lookup import UnknownPID
from resolver.memento import BadDatetime
from resolver.negotiation import NotAcceptable, UnknownFormat
from resolver.pids import MalformedPID
from resolver.renderers.citation import UnknownStyle
from resolver.responses import json_error, negotiated_error
from resolver.sitemaps import UnknownSitemap
from storage.objects import StoreRequestFailed
from storage.reader import UnknownVersion, VersionMissing

log = logging.getLogger(__name__)
# Seconds a client is asked to wait after a 503: about one S3 read timeout, after which a
# store that came back answers again.
RETRY_AFTER = 5


class FDOError(Exception):
    """Base of every error a client can cause. `errors` lists details with JSON Pointers."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.extra = extra


class BadRequest(FDOError): ...
class MalformedJSON(FDOError): ...
class SchemaInvalid(FDOError): ...
class Unprocessable(FDOError): ...
class NotFound(FDOError): ...
class Gone(FDOError): ...
class Conflict(FDOError): ...
class DuplicateSpecimen(FDOError): ...
class PreconditionRequired(FDOError): ...
class PreconditionFailed(FDOError): ...
class Unauthorized(FDOError): ...  # no credentials sent


class InvalidToken(Unauthorized): ...  # credentials sent and refused (RFC 6750 invalid_token)


class Forbidden(FDOError): ...
class UnsupportedMediaType(FDOError): ...
class MethodNotAllowed(FDOError): ...
class TooLarge(FDOError): ...
class StorageUnavailable(FDOError): ...
class IndexUnavailable(FDOError): ...
class SignInFailed(FDOError): ...
class QueueUnavailable(FDOError): ...  # the job queue (repository/job_queue.py)
class IssuerUnavailable(FDOError): ...  # the OpenID provider, for keys (repository/identity.py)


ERROR_TABLE: dict[type[Exception], tuple[int, str]] = {
    BadRequest: (400, "bad_request"),
    SignInFailed: (400, "sign_in_failed"),
    MalformedJSON: (400, "malformed_json"),
    MalformedPID: (400, "malformed_pid"),
    BadDatetime: (400, "bad_accept_datetime"),
    BadComparison: (400, "bad_comparison"),
    UnknownFormat: (400, "unknown_format"),
    UnknownStyle: (400, "unknown_style"),
    Unauthorized: (401, "unauthorized"),
    InvalidToken: (401, "invalid_token"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    UnknownPID: (404, "unknown_pid"),
    UnknownVersion: (404, "unknown_version"),
    UnknownPage: (404, "unknown_page"),
    UnknownSitemap: (404, "unknown_sitemap"),
    UnknownDump: (404, "unknown_dump"),
    NotAcceptable: (406, "not_acceptable"),
    MethodNotAllowed: (405, "method_not_allowed"),
    Conflict: (409, "conflict"),
    DuplicateSpecimen: (409, "duplicate_specimen"),
    Gone: (410, "gone"),
    PreconditionFailed: (412, "precondition_failed"),
    TooLarge: (413, "too_large"),
    UnsupportedMediaType: (415, "unsupported_media_type"),
    SchemaInvalid: (422, "schema_invalid"),
    Unprocessable: (422, "unprocessable"),
    PreconditionRequired: (428, "precondition_required"),
    StorageUnavailable: (503, "storage_unavailable"),
    IndexUnavailable: (503, "index_unavailable"),
    QueueUnavailable: (503, "queue_unavailable"),
    IssuerUnavailable: (503, "identity_provider_unavailable"),
    VersionMissing: (503, "version_missing"),  # indexed, not in S3: the API's and resolver's
}


# An error body names what is wrong, never repeats it: jsonschema's messages quote the
# value at fault, which can be most of a 2 MB document, once per violation.
MAX_MESSAGE = 300
MAX_LISTED = 100


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


def _listed(details: list[dict[str, str]]) -> list[dict[str, str]]:
    listed = [{"path": _short(detail["path"]), "message": _short(detail["message"])}
              for detail in details[:MAX_LISTED]]
    if len(details) > MAX_LISTED:
        listed.append({"path": "", "message": f"and {len(details) - MAX_LISTED} more"})
    return listed


def _status_and_code(error: Exception) -> tuple[int, str]:
    """The table's row for the error's class, or for the nearest class it derives from."""
    return next(ERROR_TABLE[cls] for cls in type(error).__mro__ if cls in ERROR_TABLE)


def _from_domain(error: FDOError) -> Response:
    """The API's errors (and the resolver's failing backends): JSON, whatever is asked."""
    status, code = _status_and_code(error)
    response = json_error(Problem(status, code, _short(error.message), _listed(error.errors),
                                  error.extra))
    if status == 401:
        response.headers["WWW-Authenticate"] = _bearer_challenge(error)
    return _retry_later(response)


def _bearer_challenge(error: FDOError) -> str:
    """RFC 6750 section 3: no credentials get the bare challenge; refused ones say why."""
    if not isinstance(error, InvalidToken):
        return 'Bearer realm="fdo"'
    # error_description allows printable ASCII but '"' and '\\' (section 3).
    reason = "".join(char if " " <= char <= "~" and char not in '"\\' else "?"
                     for char in _short(error.message))
    return f'Bearer realm="fdo", error="invalid_token", error_description="{reason}"'


def page_error(error: FDOError) -> Response:
    """A domain error of the HTML pages (sign-in, account): in the negotiated format, a
    page for people; the API's errors stay JSON (`_from_domain`)."""
    status, code = _status_and_code(error)
    return _retry_later(negotiated_error(Problem(status, code, _short(error.message))))


def _from_resolver(error: Exception) -> Response:
    status, code = _status_and_code(error)
    extra: dict[str, Any] = {}
    if isinstance(error, NotAcceptable | UnknownFormat):
        extra["offered"] = [{"type": offer.media_type, "format": offer.name}
                            for offer in error.offers]
    message = f"no object has the PID {error}" if isinstance(error, UnknownPID) else str(error)
    return _retry_later(negotiated_error(Problem(status, code, message, extra=extra)))


def _retry_later(response: Response) -> Response:
    """Every 503 says when to come back, in whichever format it is written."""
    if response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    code = (error.name or "error").lower().replace(" ", "_")
    response = json_error(Problem(status, code, error.description or error.name))
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _from_backend(error: Exception) -> Response:
    """S3 or the database failed under us: the client did nothing wrong, and retrying later
    is safe (a version S3 took but the index missed is adopted on the retry)."""
    log.warning("backend unavailable: %s", error)
    if isinstance(error, OperationalError):
        return _from_domain(IndexUnavailable("the index is not reachable right now; retry later"))
    return _from_domain(StorageUnavailable("the storage is not reachable right now; retry later"))


def _from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return json_error(Problem(500, "internal_error",
                              "The server failed unexpectedly; retrying the request is safe."))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(FDOError, _from_domain)
    for error_type in ERROR_TABLE:
        if not issubclass(error_type, FDOError):  # raised by the resolver's routes
            app.register_error_handler(error_type, _from_resolver)
    app.register_error_handler(HTTPException, _from_http)
    for backend_error in (BotoCoreError, ClientError, StoreRequestFailed, OperationalError):
        app.register_error_handler(backend_error, _from_backend)
    app.register_error_handler(Exception, _from_unexpected)
