"""Keep-alive connections survive a refused body.

A 413 is decided from Content-Length before the body is read, so the body is still on
the connection. gunicorn discards at most 64 KiB of it before the next request and
otherwise drops the connection after answering with `Connection: keep-alive`: the
client's next request on it met a disconnect. Here the app itself reads and discards a
refused body up to `DRAIN_LIMIT`; a larger one is answered `Connection: close`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

DRAIN_LIMIT = 16 * 1024 * 1024  # reading this much costs less than a new connection
CHUNK = 64 * 1024

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class DrainRefusedBodies:
    """WSGI middleware: on a 413, drain the request body or close the connection."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("413") and not _drained(environ):
                headers = [*headers, ("Connection", "close")]
                _force_close(start_response)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _drained(environ: dict[str, Any]) -> bool:
    """Whether the rest of the body was read. Only where the server ends the input at the
    body's end (`wsgi.input_terminated`): elsewhere a read past it would wait forever."""
    if not environ.get("wsgi.input_terminated"):
        return False
    length = environ.get("CONTENT_LENGTH") or "0"
    if length.isascii() and length.isdigit() and int(length) > DRAIN_LIMIT:
        return False
    stream, drained = environ["wsgi.input"], 0
    while drained <= DRAIN_LIMIT:
        chunk = stream.read(CHUNK)
        if not chunk:
            return True
        drained += len(chunk)
    return False


def _force_close(start_response: StartResponse) -> None:
    """gunicorn drops a `Connection` header set by the app (it is hop-by-hop) and keeps
    the connection open; its response object's `force_close` is how it is told."""
    close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(close):
        close()
