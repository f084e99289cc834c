"""The table from offered media type to renderer, and the cache of rendered bytes.

Every machine representation of a version is a pure function of the version record
(immutable, named by its digest) and the base URL (fixed per process), so rendered bytes
are cached by (digest, part, format, variant): a second request for the same version and
format does not re-serialize. The HTML landing page also shows the live version history
and linked objects, so its key adds the current version and the linked objects' versions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers

from resolver import negotiation as n
from resolver.lookup import BoundedCache
from resolver.renderers import citation, datacite, jsonld, rdf

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


@dataclass(frozen=True)
class Rendition:
    """One document to render: an object's content or a version's provenance event."""

    document: dict[str, Any]
    pid: str
    version: int
    kind: str
    base_url: str
    variant: str  # the JSON-LD profile or the citation style; "" when the format has none


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode()


def _jsonld(r: Rendition) -> bytes:
    shapes = {"compacted": jsonld.compacted, "expanded": jsonld.expanded,
              "flattened": jsonld.flattened}
    return _json(shapes[r.variant](r.document, r.base_url))


def _rdf(fmt: str) -> Callable[[Rendition], bytes]:
    return lambda r: rdf.serialize(r.document, r.base_url, fmt)


RENDERERS: dict[str, Callable[[Rendition], bytes]] = {
    n.JSONLD.name: _jsonld,
    n.JSON.name: lambda r: _json(r.document),
    n.TURTLE.name: _rdf("turtle"),
    n.RDFXML.name: _rdf("xml"),
    n.NTRIPLES.name: _rdf("nt"),
    n.DATACITE.name: lambda r: _json(
        datacite.datacite_json(r.document, r.pid, r.version, r.base_url)),
    n.CSL.name: lambda r: _json(citation.csl_json(r.document, r.pid, r.version, r.base_url)),
    n.BIBTEX.name: lambda r: citation.bibtex(r.document, r.pid, r.version, r.base_url).encode(),
    n.BIBLIOGRAPHY.name: lambda r: citation.bibliography(
        r.document, r.pid, r.version, r.base_url, style=r.variant).encode(),
}

CHARSET_TYPES = ("text/turtle", "application/n-triples", "application/x-bibtex",
                 "text/x-bibliography", "text/html")


def variant_of(choice: n.Choice, style: str | None) -> str:
    if choice.offer is n.JSONLD:
        return n.jsonld_profile(choice.params)
    if choice.offer is n.BIBLIOGRAPHY:
        chosen = (style or choice.params.get("style") or "apa").lower()
        if chosen not in citation.STYLES:
            raise citation.UnknownStyle(
                f"citation style '{chosen}' is not offered; use one of: "
                f"{', '.join(citation.STYLES)}")
        return chosen
    return ""


def content_type(offer: n.Offer, variant: str) -> str:
    if offer is n.JSONLD and variant != "compacted":
        return f'{offer.media_type}; profile="http://www.w3.org/ns/json-ld#{variant}"'
    if offer.media_type in CHARSET_TYPES:
        return f"{offer.media_type}; charset=utf-8"
    return offer.media_type


def etag(digest: str, offer: n.Offer, variant: str) -> str:
    """Strong and distinct per representation: the openDS JSON carries the bare digest
    (as the write API does); every other format the digest with its name."""
    if offer is n.JSON:
        return digest
    return f"{digest}.{offer.name}" + (f".{variant}" if variant else "")


class Renderings:
    def __init__(self, size: int = RENDER_CACHE_SIZE) -> None:
        self._cache: BoundedCache[tuple[Any, ...], bytes] = BoundedCache(size)
        self._prepared: BoundedCache[tuple[Any, ...], Prepared] = BoundedCache(size)

    def prepared(self, key: tuple[Any, ...], compute: Callable[[], Prepared]) -> Prepared:
        return self._prepared.get(key, compute)

    def render(self, key: tuple[Any, ...], offer: n.Offer, rendition: Rendition) -> bytes:
        return self._cache.get((*key, offer.name, rendition.variant),
                               lambda: RENDERERS[offer.name](rendition))



def context_response_body() -> bytes:
    return _json(jsonld.context_document())

