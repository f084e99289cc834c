"""GET /health: whether the object store and the index answer, within 2 s in any state.

Each part is "ok" or "unreachable: <reason>", where the reason names no host, bucket or
database (the exception, which does, goes to the log). The store's probe has its own
1 s limit and does not wait for an in-flight slot (storage.objects.PING_TIMEOUT).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from repository.errors import RETRY_AFTER
from repository.services import FDOService
from storage.objects import StoreRequestFailed

log = logging.getLogger(__name__)


def health() -> tuple[Response, int]:
    fdo: FDOService = current_app.extensions["fdo"]
    parts = {"storage": _state("storage", fdo.store.ping), "index": _state("index", fdo.index.ping)}
    healthy = all(value == "ok" for value in parts.values())
    response = jsonify({"status": "ok" if healthy else "unavailable", **parts})
    if not healthy:
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response, 200 if healthy else 503


def _state(part: str, probe: Callable[[], None]) -> str:
    try:
        probe()
        return "ok"
    except StoreRequestFailed as error:
        reason = error.reason
    except SQLAlchemyError:
        reason = "database error"
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        reason = type(error).__name__
    log.warning("health: %s unreachable", part, exc_info=True)
    return f"unreachable: {reason}"
