"""The formats the resolver serves: one row per format, and which routes offer which.

A format's row is everything the resolver knows about it: its media type, its `?format=`
name, its label for people, how a version is rendered in it, its charset, the variants a
client picks with a media-range parameter, and how an error is written in it.
Negotiation (`resolver.negotiation`) chooses a row among those a route offers; the views,
the render cache, the change feed and the error handlers read what they need from it.
Nothing else names these media types.

To add a format: its renderer (in `resolver/renderers/`), its row here, and the row in
the offers of each route that serves it (`FORMATS`, `PROVENANCE_FORMATS`, `FEED_FORMATS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from resolver.renderers import citation, datacite, jsonld, rdf
from resolver.renderers.html import render_error


@dataclass(frozen=True)
class Rendition:
    """One document to render: an object's content or a version's provenance event."""

    document: dict[str, Any]
    pid: str
    version: int
    kind: str
    base_url: str
    variant: str  # the JSON-LD profile or the citation style; "" when the format has none


@dataclass(frozen=True)
class Problem:
    """An error to answer: its status and code (from the error table), a message for
    people, details with JSON Pointers, and members a JSON body adds (`offered`, ...)."""

    status: int
    code: str
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Variants:
    """Shapes of one format a client picks with a parameter of its media range."""

    # (parameters of the matched Accept range, `?style=`) -> the variant's name.
    choose: Callable[[Mapping[str, str], str | None], str]
    default: str
    # A variant other than the default is named in Content-Type as `profile="<this><name>"`
    # ("" when the Content-Type does not name variants).
    profile_base: str = ""


@dataclass(frozen=True, eq=False)  # a row is itself: compared and hashed by identity
class Format:
    media_type: str
    name: str  # the `?format=` value, the ETag suffix and the cache-key part
    label: str  # for people: the alternate-format links of the landing page
    # A rendition's bytes; None for the landing page, which the views build from the
    # live state (history, linked objects), not from one version alone.
    render: Callable[[Rendition], bytes] | None
    charset: str | None = None
    variants: Variants | None = None
    rdf_syntax: str | None = None  # rdflib's serializer name, when it is an RDF syntax
    # (problem, base URL) -> an error body in this format; None: errors answer in JSON.
    render_error: Callable[[Problem, str], bytes] | None = None
    # The openDS JSON is what the write API serves: its ETag is the bare version digest.
    bare_etag: bool = False

    def variant(self, params: Mapping[str, str], style: str | None) -> str:
        """The variant a request asks for ("" when the format has none)."""
        return self.variants.choose(params, style) if self.variants else ""

    def content_type(self, variant: str) -> str:
        """The Content-Type header; "" is the default variant, which goes unnamed."""
        variants = self.variants
        if variants and variants.profile_base and variant not in ("", variants.default):
            return f'{self.media_type}; profile="{variants.profile_base}{variant}"'
        if self.charset:
            return f"{self.media_type}; charset={self.charset}"
        return self.media_type

    def etag(self, digest: str, variant: str) -> str:
        """Strong and distinct per representation of one version."""
        if self.bare_etag:
            return digest
        return f"{digest}.{self.name}" + (f".{variant}" if variant else "")


# -- variants -------------------------------------------------------------------------

JSONLD_PROFILE_BASE = "http://www.w3.org/ns/json-ld#"
JSONLD_PROFILES = {f"{JSONLD_PROFILE_BASE}{shape}": shape
                   for shape in ("expanded", "compacted", "flattened")}


def jsonld_profile(params: Mapping[str, str]) -> str:
    """expanded | compacted | flattened from a `profile` parameter (default compacted).
    A profile may list several URIs; the first one we know wins."""
    for uri in params.get("profile", "").split():
        if uri in JSONLD_PROFILES:
            return JSONLD_PROFILES[uri]
    return "compacted"


def citation_style(params: Mapping[str, str], style: str | None) -> str:
    """`?style=`, else the range's `style` parameter, else apa; an unknown one is an error
    (a citation in a style nobody asked for would be wrong, not just different)."""
    chosen = (style or params.get("style") or "apa").lower()
    if chosen not in citation.STYLES:
        raise citation.UnknownStyle(
            f"citation style '{chosen}' is not offered; use one of: "
            f"{', '.join(citation.STYLES)}")
    return chosen


# -- renderers ------------------------------------------------------------------------

def json_document(value: Any) -> bytes:
    """The JSON the resolver serves documents in (UTF-8, one-space indents)."""
    return json.dumps(value, ensure_ascii=False, indent=1).encode()


def _jsonld(r: Rendition) -> bytes:
    shapes = {"compacted": jsonld.compacted, "expanded": jsonld.expanded,
              "flattened": jsonld.flattened}
    return json_document(shapes[r.variant](r.document, r.base_url))


def _rdf(syntax: str) -> Callable[[Rendition], bytes]:
    return lambda r: rdf.serialize(r.document, r.base_url, syntax)


# -- errors ---------------------------------------------------------------------------

def json_error_body(problem: Problem) -> bytes:
    """The one JSON error body, `{"status", "code", "message", "errors": [...], ...}`,
    compact and ASCII-only (a message may quote the request)."""
    body = {"status": problem.status, "code": problem.code, "message": problem.message,
            "errors": problem.errors, **problem.extra}
    return (json.dumps(body, separators=(",", ":")) + "\n").encode()


# What ends a line in Turtle or N-Triples, and what ends one for other readers.
LINE_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def _comment_error(problem: Problem, base_url: str) -> bytes:
    """A comment-only document (an empty graph still parses). A comment runs to the end
    of its line: a line break from the request (a PID path's %0A) would start a triple of
    the client's making."""
    comment = LINE_BREAKS.sub(" ", f"{problem.status} {problem.code}: {problem.message}")
    return f"# {comment}\n".encode()


def _rdfxml_error(problem: Problem, base_url: str) -> bytes:
    message = escape(problem.message).replace("--", "- -")
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f"<!-- {problem.status} {problem.code}: {message} -->\n"
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n').encode()


def _page_error(problem: Problem, base_url: str) -> bytes:
    title = problem.code.replace("_", " ")
    return render_error(problem.status, title, problem.message, base_url).encode()


# -- the table ------------------------------------------------------------------------

HTML = Format("text/html", "html", "HTML", None, charset="utf-8",
              render_error=_page_error)
JSONLD = Format("application/ld+json", "jsonld", "JSON-LD", _jsonld,
                variants=Variants(lambda params, style: jsonld_profile(params), "compacted",
                                  JSONLD_PROFILE_BASE))
JSON = Format("application/json", "json", "openDS JSON", lambda r: json_document(r.document),
              render_error=lambda problem, base_url: json_error_body(problem),
              bare_etag=True)
TURTLE = Format("text/turtle", "ttl", "Turtle", _rdf("turtle"), charset="utf-8",
                rdf_syntax="turtle", render_error=_comment_error)
RDFXML = Format("application/rdf+xml", "rdf", "RDF/XML", _rdf("xml"), rdf_syntax="xml",
                render_error=_rdfxml_error)
NTRIPLES = Format("application/n-triples", "nt", "N-Triples", _rdf("nt"), charset="utf-8",
                  rdf_syntax="nt", render_error=_comment_error)
DATACITE = Format("application/vnd.datacite.datacite+json", "datacite", "DataCite JSON",
                  lambda r: json_document(
                      datacite.datacite_json(r.document, r.pid, r.version, r.base_url)))
CSL = Format("application/vnd.citationstyles.csl+json", "csl", "CSL-JSON",
             lambda r: json_document(
                 citation.csl_json(r.document, r.pid, r.version, r.base_url)))
BIBTEX = Format("application/x-bibtex", "bibtex", "BibTeX",
                lambda r: citation.bibtex(r.document, r.pid, r.version, r.base_url).encode(),
                charset="utf-8")
BIBLIOGRAPHY = Format("text/x-bibliography", "citation", "Citation",
                      lambda r: citation.bibliography(r.document, r.pid, r.version,
                                                      r.base_url, style=r.variant).encode(),
                      charset="utf-8", variants=Variants(citation_style, "apa"))

# What each route offers, in the server's order of preference on ties.
FORMATS = (HTML, JSONLD, JSON, TURTLE, RDFXML, NTRIPLES, DATACITE, CSL, BIBTEX,
           BIBLIOGRAPHY)  # a PID or a version: every format
METADATA_FORMATS = tuple(row for row in FORMATS if row is not HTML)  # describedby, alternates
PROVENANCE_FORMATS = (JSONLD, JSON, TURTLE, RDFXML, NTRIPLES)  # provenance events
FEED_FORMATS = (JSONLD, JSON, TURTLE, NTRIPLES)  # the change feed (resolver.activity)

# `?format=` names, ETags and cache keys tell formats apart by name, negotiation by media
# type: a row added with either taken fails here, at import.
if len({row.name for row in FORMATS}) < len(FORMATS) or \
        len({row.media_type for row in FORMATS}) < len(FORMATS):
    raise ValueError("two formats share a name or a media type")
