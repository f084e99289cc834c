"""Response helpers shared by the resolver's views: JSON bodies, CORS, and errors in the
format the client negotiated."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import Response, current_app, g, request
from markupsafe import escape
from werkzeug.datastructures import Headers

from resolver import negotiation as n
from resolver import representations as reps
from resolver.renderers.html import render_error

# What ends a line in Turtle or N-Triples, and what ends one for other readers.
LINE_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
EXPOSED = "Link, Memento-Datetime, ETag, Location, Vary"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED}


def base_url() -> str:
    return str(current_app.config["FDO_BASE_URL"])


def json_response(value: Any, content_type: str = "application/json") -> Response:
    return Response(json.dumps(value, ensure_ascii=False), content_type=content_type)


def cors(response: Response) -> None:
    response.headers.update(CORS_HEADERS)


class PreparedResponse(Response):
    """A cached representation sent with the header list it was prepared with.

    werkzeug checks every header value for newlines when it builds a response's Headers
    from a list, and again when it copies them on the way out (`get_wsgi_headers`): for a
    cached representation with its dozen signposting, Memento and CORS headers that was a
    fifth of the request's time. `reps.prepare` checked these values once, so they go
    into this response's own Headers as they are; hooks that change `response.headers`
    still change what is sent, and never the cached list."""

    def __init__(self, prepared: reps.Prepared, status: int) -> None:
        headers = Headers()
        headers._list = list(prepared.headers)  # checked by reps.prepare (see above)
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


def negotiated_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """An error in the format the client negotiated: a page for people, a comment-only
    document for RDF clients (an empty graph still parses), JSON for everyone else."""
    choice = g.get("choice")
    if choice is None:
        try:
            choice = n.choose(request.headers.get("Accept"), None)
        except n.NotAcceptable:
            choice = None
    offer = choice.offer if choice else n.JSON
    if offer is n.HTML:
        body = render_error(status, code.replace("_", " "), message, base_url())
        response = Response(body, status, content_type="text/html; charset=utf-8")
    elif offer in (n.TURTLE, n.NTRIPLES):
        # A comment runs to the end of its line: a line break from the request (a PID
        # path's %0A) would start a triple of the client's making.
        comment = LINE_BREAKS.sub(" ", f"{status} {code}: {message}")
        response = Response(f"# {comment}\n", status,
                            content_type=reps.content_type(offer, ""))
    elif offer is n.RDFXML:
        body = ('<?xml version="1.0" encoding="utf-8"?>\n'
                f"<!-- {status} {code}: {escape(message).replace('--', '- -')} -->\n"
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n')
        response = Response(body, status, content_type=offer.media_type)
    else:
        response = json_response(
            {"status": status, "code": code, "message": message, "errors": [], **extra})
        response.status_code = status
    response.headers["Vary"] = "Accept"
    cors(response)
    return response
