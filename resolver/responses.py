"""Response helpers shared by the resolver's views: JSON bodies, CORS, and errors in the
format the client negotiated."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.datastructures import Headers

from resolver.formats import JSON, Format, Problem, json_error_body
from resolver.negotiation import NotAcceptable, choose
from resolver.representations import Prepared

EXPOSED = "Link, Memento-Datetime, ETag, Location, Vary"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED}


def base_url() -> str:
    return str(current_app.config["FDO_BASE_URL"])


def json_response(value: Any, content_type: str = JSON.media_type) -> Response:
    return Response(json.dumps(value, ensure_ascii=False), content_type=content_type)


def cors(response: Response) -> None:
    response.headers.update(CORS_HEADERS)


class PreparedResponse(Response):
    """A cached representation sent with the header list it was prepared with.

    werkzeug checks every header value for newlines when it builds a response's Headers
    from a list, and again when it copies them on the way out (`get_wsgi_headers`): for a
    cached representation with its dozen signposting, Memento and CORS headers that was a
    fifth of the request's time. `representations.prepare` checked these values once, so they go
    into this response's own Headers as they are; hooks that change `response.headers`
    still change what is sent, and never the cached list."""

    def __init__(self, prepared: Prepared, status: int) -> None:
        headers = Headers()
        headers._list = list(prepared.headers)  # checked by `prepare` (see above)
        # A list, not bytes: bytes would go through set_data, which sets Content-Length
        # again (it is in the prepared headers).
        super().__init__([prepared.body], status, headers=headers)

    def get_wsgi_headers(self, environ: Any) -> Headers:
        if self.status_code == 304:  # drops the entity headers
            return super().get_wsgi_headers(environ)
        return self.headers  # no Location to make absolute, Content-Length already set


def digest_tagged(body: bytes, content_type: str, cache_control: str,
                  **headers: str) -> Response:
    """A response whose strong ETag is the SHA-256 of its body (for documents built per
    request, such as feed pages and sitemaps): 304 when `If-None-Match` names it."""
    etag = hashlib.sha256(body).hexdigest()
    response = Response(body, content_type=content_type, headers={
        "ETag": f'"{etag}"', "Cache-Control": cache_control, **headers})
    if request.if_none_match.contains(etag):
        response.status_code = 304
    return response


def json_error(problem: Problem) -> Response:
    """An error as the one JSON error body (the API's errors, whatever the client asks)."""
    return Response(json_error_body(problem), problem.status,
                    content_type=JSON.content_type(""))


def negotiated_error(problem: Problem) -> Response:
    """An error in the format the client negotiated, as that format's row writes errors
    (a page for people, a comment-only document for RDF clients); JSON for the formats
    that write none."""
    chosen = _negotiated()
    if chosen.render_error:
        body, content_type = chosen.render_error(problem, base_url()), chosen.content_type("")
    else:  # DataCite, BibTeX, ...: JSON writes their errors
        body, content_type = json_error_body(problem), JSON.content_type("")
    response = Response(body, problem.status, content_type=content_type)
    response.headers["Vary"] = "Accept"
    cors(response)
    return response


def _negotiated() -> Format:
    """The format this request negotiated, or would have: its route's choice when it got
    that far, else the choice among every format by `Accept` alone; JSON when none."""
    choice = g.get("choice")
    if choice is None:
        try:
            choice = choose(request.headers.get("Accept"), None)
        except NotAcceptable:
            return JSON
    return choice.offer
