"""Content negotiation: from `Accept` (or `?format=`) to one offered representation.

Rules (documented in docs/resolving.md, "Representations"):
- `Accept` is parsed with its q-values; for each offer the most specific matching range
  gives its q (so `text/turtle;q=0` refuses Turtle even when `*/*` is present).
- The highest q wins; ties go to the server's order of preference (the order of the
  route's offers, `resolver.formats.FORMATS` and the like).
- When the winner matched only a wildcard (`*/*`, `application/*`, ...) or there is no
  `Accept` at all, the client gets JSON-LD, whoever it is: the choice depends on nothing
  but `Accept` (and `?format=`), so `Vary: Accept` is the whole truth for caches. People
  get a page because browsers ask for `text/html` by name when they navigate (and
  `fetch()` in a browser sends `*/*` wanting data, not a page).
- A malformed `Accept` (`;`, `text/html, ;`, a range without a subtype, a q that is not
  a number from 0 to 1) loses its malformed ranges; with none left it is as if absent.
- `?format=` overrides `Accept` for people who cannot set headers.
- Parameters select a variant: `profile` on `application/ld+json` (expanded, compacted,
  flattened) and `style` on `text/x-bibliography` (apa, harvard). The choice keeps the
  parameters of the range it matched; the format's row names the variant
  (`resolver.formats.Format.variant`).

The offers are rows of `resolver.formats`; what a route offers is a tuple of them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from resolver.formats import FORMATS, JSONLD, Format


class NotAcceptable(Exception):
    """Nothing the client accepts is offered."""

    def __init__(self, offers: tuple[Format, ...]) -> None:
        super().__init__("none of the representations offered here is acceptable")
        self.offers = offers


class UnknownFormat(ValueError):
    """A `?format=` value that names no offered representation."""

    def __init__(self, value: str, offers: tuple[Format, ...]) -> None:
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
    offer: Format
    params: dict[str, str]  # the parameters of the range it matched (profile, style)
    by_wildcard: bool


# RFC 9110: a media range is token/token, a weight 0 to 1 with at most three decimals.
_TOKEN = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_MEDIA_RANGE = re.compile(rf"({_TOKEN})/({_TOKEN})")
_WEIGHT = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def parse_accept(header: str) -> list[MediaRange]:
    """Media ranges of an `Accept` header; malformed ranges are ignored (RFC 9110 lets a
    server ignore what it cannot parse rather than fail)."""
    ranges = []
    for part in _split_outside_quotes(header, ","):
        pieces = _split_outside_quotes(part, ";")
        media = _MEDIA_RANGE.fullmatch(pieces[0].strip().lower()) if pieces else None
        if media is None:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        weight = params.pop("q", "1")
        if not _WEIGHT.fullmatch(weight):
            continue
        ranges.append(MediaRange(media[1], media[2], params, float(weight)))
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


@functools.lru_cache(maxsize=1024)
def choose(accept: str | None, format_name: str | None,
           offers: tuple[Format, ...] = FORMATS) -> Choice:
    """The representation to serve; NotAcceptable or UnknownFormat when there is none.
    Clients repeat the same few headers, so choices are remembered per header value."""
    if format_name:
        for offer in offers:
            if offer.name == format_name.lower():
                return Choice(offer, {}, by_wildcard=False)
        raise UnknownFormat(format_name, offers)
    ranges = parse_accept(accept) if accept and accept.strip() else []
    if not ranges:
        return Choice(_default(offers), {}, by_wildcard=True)
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
        # Only a wildcard picked it: the default (data) decides, when the client accepts
        # that default as much.
        preferred = _default(offers)
        if _q(ranges, preferred) >= best[0]:
            return Choice(preferred, {}, by_wildcard=True)
    return chosen


def _default(offers: tuple[Format, ...]) -> Format:
    return JSONLD if JSONLD in offers else offers[0]


def _q(ranges: list[MediaRange], offer: Format) -> float:
    matching = [r for r in ranges if r.matches(offer.media_type)]
    return max(matching, key=lambda r: (r.specificity, r.q)).q if matching else 0.0

