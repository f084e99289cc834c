"""CSRF protection for the HTML forms that change state (sign-out, and any form added to
/account): both checks must pass, or the request is refused with 403 naming which failed.

- A synchronizer token in a hidden field: HMAC(secret, "csrf:" + session id). It is bound
  to the session, so it needs no storage and changes with every sign-in; another site
  cannot read it (the page is same-origin and the session cookie HttpOnly).
- The request's Origin (or, without one, its Referer) is FDO_BASE_URL's origin: browsers
  send Origin on every POST, so a form on another site is refused even before the token.

The JSON API is not covered because it never reads cookies: a request from another site
carries no credential there.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Request

from repository import errors

CSRF_FIELD = "csrf_token"


def csrf_token(secret: bytes, id_hash: str) -> str:
    """The token the forms of the session `id_hash` carry."""
    return hmac.new(secret, f"csrf:{id_hash}".encode(), hashlib.sha256).hexdigest()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_form(request: Request, secret: bytes, id_hash: str, base_url: str) -> None:
    """Refuse a state-changing form post that another site may have sent."""
    check_origin(request, base_url)
    submitted = request.form.get(CSRF_FIELD, "")
    if not submitted:
        raise errors.Forbidden(f"CSRF check failed: the form has no {CSRF_FIELD}")
    if not hmac.compare_digest(submitted.encode(), csrf_token(secret, id_hash).encode()):
        raise errors.Forbidden(f"CSRF check failed: the form's {CSRF_FIELD} is not this "
                               "session's (reload the page and try again)")


def check_origin(request: Request, base_url: str) -> None:
    """The post comes from a page of this repository: its Origin, or its Referer when a
    browser sent no Origin, is FDO_BASE_URL's origin."""
    expected = origin_of(base_url)
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.lower() != expected:
            raise errors.Forbidden(f"CSRF check failed: the request comes from {origin!r}, "
                                   f"not from {expected}")
        return
    referer = request.headers.get("Referer")
    if referer is None:
        raise errors.Forbidden("CSRF check failed: the request has neither Origin nor Referer")
    if origin_of(referer) != expected:
        raise errors.Forbidden(f"CSRF check failed: the request comes from a page outside "
                               f"{expected}")
