"""Content negotiation: from `Accept` (or `?format=`) to one offered representation.

Rules (documented in the README):
- `Accept` is parsed with its q-values; for each offer the most specific matching range
  gives its q (so `text/turtle;q=0` refuses Turtle even when `*/*` is present).
- The highest q wins; ties go to the server's order of preference (the order of the
  offers below).
- When the winner matched only a wildcard (`*/*`, `application/*`, ...) or there is no
  `Accept` at all, a browser (a `User-Agent` starting with `Mozilla/`) gets HTML and any
  other client gets JSON-LD: curl, rdflib and scripts get data, people get a page.
- `?format=` overrides `Accept` for people who cannot set headers.
- Parameters select a variant: `profile` on `application/ld+json` (expanded, compacted,
  flattened) and `style` on `text/x-bibliography` (apa, harvard).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

JSONLD_PROFILES = {
    "http://www.w3.org/ns/json-ld#expanded": "expanded",
    "http://www.w3.org/ns/json-ld#compacted": "compacted",
    "http://www.w3.org/ns/json-ld#flattened": "flattened",
}


@dataclass(frozen=True)
class Offer:
    media_type: str
    name: str  # the `?format=` value and the cache-key part
    label: str  # for people: the alternate-format links of the landing page


HTML = Offer("text/html", "html", "HTML")
JSONLD = Offer("application/ld+json", "jsonld", "JSON-LD")
JSON = Offer("application/json", "json", "openDS JSON")
TURTLE = Offer("text/turtle", "ttl", "Turtle")
RDFXML = Offer("application/rdf+xml", "rdf", "RDF/XML")
NTRIPLES = Offer("application/n-triples", "nt", "N-Triples")
DATACITE = Offer("application/vnd.datacite.datacite+json", "datacite", "DataCite JSON")
CSL = Offer("application/vnd.citationstyles.csl+json", "csl", "CSL-JSON")
BIBTEX = Offer("application/x-bibtex", "bibtex", "BibTeX")
BIBLIOGRAPHY = Offer("text/x-bibliography", "citation", "Citation")

# Server preference order on ties.
OBJECT_OFFERS = (HTML, JSONLD, JSON, TURTLE, RDFXML, NTRIPLES, DATACITE, CSL, BIBTEX,
                 BIBLIOGRAPHY)
RDF_OFFERS = (JSONLD, JSON, TURTLE, RDFXML, NTRIPLES)  # provenance events


class NotAcceptable(Exception):
    """Nothing the client accepts is offered."""

    def __init__(self, offers: tuple[Offer, ...]) -> None:
        super().__init__("none of the representations offered here is acceptable")
        self.offers = offers


class UnknownFormat(ValueError):
    """A `?format=` value that names no offered representation."""

    def __init__(self, value: str, offers: tuple[Offer, ...]) -> None:
        names = ", ".join(offer.name for offer in offers)
        super().__init__(f"format '{value}' is not offered here; use one of: {names}")
        self.offers = offers


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    params: dict[str, str]
    q: float

    def matches(self, media_type: str) -> bool:
        main, sub = media_type.split("/")
        return self.type in ("*", main) and self.subtype in ("*", sub)

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")


@dataclass(frozen=True)
class Choice:
    offer: Offer
    params: dict[str, str]  # the parameters of the range it matched (profile, style)
    by_wildcard: bool


def parse_accept(header: str) -> list[MediaRange]:
    """Media ranges of an `Accept` header; malformed parts are ignored (RFC 9110 lets a
    server ignore what it cannot parse rather than fail)."""
    ranges = []
    for part in _split_outside_quotes(header, ","):
        pieces = _split_outside_quotes(part, ";")
        media = pieces[0].strip().lower()
        if media.count("/") != 1:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = min(max(float(params.pop("q", "1")), 0.0), 1.0)
        except ValueError:
            continue
        main, sub = media.split("/")
        ranges.append(MediaRange(main, sub, params, q))
    return ranges


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def choose(accept: str | None, user_agent: str | None, format_name: str | None,
           offers: tuple[Offer, ...] = OBJECT_OFFERS) -> Choice:
    """The representation to serve; NotAcceptable or UnknownFormat when there is none.
    Clients repeat the same few headers, so choices are remembered per header value."""
    browser = (user_agent or "").startswith("Mozilla/")
    return _choose(accept, browser, format_name, offers)


@functools.lru_cache(maxsize=1024)
def _choose(accept: str | None, browser: bool, format_name: str | None,
            offers: tuple[Offer, ...]) -> Choice:
    if format_name:
        for offer in offers:
            if offer.name == format_name.lower():
                return Choice(offer, {}, by_wildcard=False)
        raise UnknownFormat(format_name, offers)
    ranges = parse_accept(accept) if accept and accept.strip() else []
    if not ranges:
        return Choice(_default(offers, browser), {}, by_wildcard=True)
    best: tuple[float, int] | None = None
    chosen: Choice | None = None
    for position, offer in enumerate(offers):
        matching = [r for r in ranges if r.matches(offer.media_type)]
        if not matching:
            continue
        most_specific = max(matching, key=lambda r: (r.specificity, r.q))
        rank = (most_specific.q, -position)
        if most_specific.q > 0 and (best is None or rank > best):
            best = rank
            chosen = Choice(offer, most_specific.params, most_specific.specificity < 2)
    if chosen is None:
        raise NotAcceptable(offers)
    if chosen.by_wildcard and best is not None:
        # Only a wildcard picked it: the browser/non-browser default decides, when the
        # client accepts that default as much.
        preferred = _default(offers, browser)
        if _q(ranges, preferred) >= best[0]:
            return Choice(preferred, {}, by_wildcard=True)
    return chosen


def _default(offers: tuple[Offer, ...], browser: bool) -> Offer:
    preferred = HTML if browser else JSONLD
    return preferred if preferred in offers else offers[0]


def _q(ranges: list[MediaRange], offer: Offer) -> float:
    matching = [r for r in ranges if r.matches(offer.media_type)]
    return max(matching, key=lambda r: (r.specificity, r.q)).q if matching else 0.0


def jsonld_profile(params: dict[str, str]) -> str:
    """expanded | compacted | flattened from a `profile` parameter (default compacted).
    A profile may list several URIs; the first one we know wins."""
    for uri in params.get("profile", "").split():
        if uri in JSONLD_PROFILES:
            return JSONLD_PROFILES[uri]
    return "compacted"
