"""The cache of rendered bytes, and responses prepared from them.

Every machine representation of a version is a pure function of the version record
(immutable, named by its digest) and the base URL (fixed per process), so rendered bytes
are cached by (digest, part, format, variant): a second request for the same version and
format does not re-serialize. The HTML landing page also shows the live version history
and linked objects, so its key adds the current version and the linked objects' versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers

from resolver.formats import Format, Rendition, json_document
from resolver.lookup import BoundedCache
from resolver.renderers import jsonld

RENDER_CACHE_SIZE = 8192


@dataclass(frozen=True)
class Prepared:
    """A response ready to send but for its status: cached under the key naming the state
    it shows, so a repeated request costs no rendering and no header building.

    `headers` are the whole header list of a response with this body, Content-Length
    included, each value already checked by werkzeug (`prepare` builds them through its
    `Headers`), so a response can send them as they are."""

    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]


def prepare(body: bytes, etag: str, headers: dict[str, str]) -> Prepared:
    checked = Headers(headers)  # raises on a value werkzeug would refuse (a newline)
    checked["Content-Length"] = str(len(body))
    return Prepared(body, etag, tuple(checked.to_wsgi_list()))


class Renderings:
    def __init__(self, size: int = RENDER_CACHE_SIZE) -> None:
        self._cache: BoundedCache[tuple[Any, ...], bytes] = BoundedCache(size)
        self._prepared: BoundedCache[tuple[Any, ...], Prepared] = BoundedCache(size)

    def prepared(self, key: tuple[Any, ...], compute: Callable[[], Prepared]) -> Prepared:
        return self._prepared.get(key, compute)

    def render(self, key: tuple[Any, ...], offer: Format, rendition: Rendition) -> bytes:
        render = offer.render
        if render is None:
            raise ValueError(f"{offer.name} is built by the views, not from a rendition")
        return self._cache.get((*key, offer.name, rendition.variant),
                               lambda: render(rendition))


def context_response_body() -> bytes:
    return json_document(jsonld.context_document())

