"""JSON-LD for our openDS objects and provenance events, against our own @context.

DiSSCo publishes no @context for openDS, so we publish one
(`schemas/opends-context-v1.0.0.jsonld`, served at CONTEXT_PATH). Its `ods:` namespace is
the one DiSSCo's own services put in their JSON-LD, `https://github.com/DiSSCo/openDS/
ods-ontology/terms/` (openDS has no term IRIs of its own yet). Contexts are only ever read
from package data: `document_loader` refuses every other URL, so nothing is fetched.

RDF safety. Real openDS data puts identifiers that are not IRIs where JSON-LD expects
IRIs (`"@id": "B 10 0039428"`, `"dcterms:license": "CC0 1.0"`, a PID without resolver).
Expanded naively they become IRIs relative to the document URL, or invalid IRIs with
spaces that break Turtle and RDF/XML. So before anything is served as linked data,
`rdf_safe` applies these rules (the stored object is never changed):

1. An `@id` that is not an absolute IRI (after our prefixes) is dropped: the node becomes
   a blank node. openDS keeps the identifier in `dcterms:identifier` (or
   `schema:identifier`), so nothing is lost.
2. An `@type` that is not an absolute IRI is dropped.
3. A value of an IRI-typed term (`@type: @id` / `@vocab` in the context) that is not an
   absolute IRI becomes a plain literal (a `{"@value": ...}` value object), unless it is
   one once its spaces and the like are percent-encoded (`iris.escaped`): then that.
4. A value of an `xsd:dateTime` term that is not a valid xsd:dateTime (openDS data has
   `"1455095789000"`, `"2020-11-19"`) becomes a plain literal, not an ill-typed one.
5. A key RDF cannot name is dropped: one without a prefix of our context, or whose IRI
   does not end in an XML name (RDF/XML must split every predicate into namespace and
   local name). Other keywords (`@context`, `@graph`, ...) inside the data are dropped.
6. `ods:changeValue` (a JSON Patch) is an `@json` literal and is left exactly as it is.

`dwc:` terms stay literals, as the Darwin Core RDF guide says (`dwc:relatedResourceID`
"TEST/W4K-QC6-5H5" is text); their IRI-valued twins are `dwciri:` and
`ods:relatedResourceURI`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from pyld import jsonld

from resolver.iris import escaped
from resolver.renderers.crosswalk import served_content

CONTEXT_PATH = "/contexts/opends-v1.0.0.jsonld"
CONTEXT_FILE = "opends-context-v1.0.0.jsonld"
# The change feed's context is the W3C Activity Streams one; what we ship is the part of
# it (the same term definitions) that our feed uses, so that serving it as RDF needs no
# network. Clients get the real one from w3.org; the IRIs are the same.
ACTIVITY_STREAMS = "https://www.w3.org/ns/activitystreams"
ACTIVITY_STREAMS_FILE = "activitystreams-subset.jsonld"

# An absolute IRI (RFC 3987 scheme, then no character Turtle or N-Triples cannot write
# between <>), or a blank node label.
_IRI = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|_:)[^\s<>\"{}|\\^`\x00-\x1f\x7f]*$")
# What rdflib can split off as an RDF/XML local name: the IRI must end in one.
_LOCAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*$")
_DATE_TIME = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
_PROPERTY_SCHEMES = ("http://", "https://", "urn:")

DocumentLoader = Callable[[str, Any], dict[str, Any]]


def context_url(base_url: str) -> str:
    """Where the app serves our @context: what `@context` says in everything we serve."""
    return base_url.rstrip("/") + CONTEXT_PATH


@cache
def _schema_file(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        files("schemas").joinpath(name).read_text(encoding="utf-8"))
    return document


def _context_file() -> dict[str, Any]:
    return _schema_file(CONTEXT_FILE)


def context_document() -> dict[str, Any]:
    """The @context document (a copy: the loaded one is shared)."""
    return copy.deepcopy(_context_file())


def prefixes() -> dict[str, str]:
    """Prefix -> namespace IRI, as our context defines them (for Turtle and RDF/XML)."""
    return dict(_vocabulary().prefixes)


def document_loader(base_url: str) -> DocumentLoader:
    """A pyld document loader that knows only our contexts, from package data: ours and
    (the part we use of) Activity Streams."""
    ours = context_url(base_url)

    def load(url: str, options: Any = None) -> dict[str, Any]:
        if url == ours or urlsplit(url).path == CONTEXT_PATH:
            name = CONTEXT_FILE
        elif url.replace("http://", "https://", 1) == ACTIVITY_STREAMS:
            name = ACTIVITY_STREAMS_FILE
        else:
            raise jsonld.JsonLdError(
                f"Refusing to load '{url}': only our own contexts are available offline.",
                "jsonld.LoadDocumentError", {"url": url},
                code="loading remote context failed")
        # "static": the file never changes (a new version is a new file), so pyld may keep
        # the processed context across documents instead of re-processing it every time.
        return {"contentType": "application/ld+json", "contextUrl": None,
                "documentUrl": url, "document": copy.deepcopy(_schema_file(name)),
                "tag": "static"}

    return load


def compacted(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """What `application/ld+json` serves: the document, RDF-safe, with our @context URL."""
    return {"@context": context_url(base_url), **rdf_safe(document)}


def served(content: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A version's content as the resolver serves it in `application/ld+json` (dumps and
    OAI-PMH's ods_jsonld carry exactly that)."""
    return compacted(served_content(content, base_url), base_url)


def expanded(document: dict[str, Any], base_url: str) -> list[Any]:
    """What a JSON-LD client gets from `compacted`: full IRIs, no context."""
    result: list[Any] = jsonld.expand(compacted(document, base_url),
                                      {"documentLoader": document_loader(base_url)})
    return result


def flattened(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Every node at the top level of `@graph`, compacted against our context."""
    options = {"documentLoader": document_loader(base_url)}
    nodes = jsonld.flatten(compacted(document, base_url), None, options)
    result: dict[str, Any] = jsonld.compact(nodes, context_url(base_url),
                                            {**options, "graph": True})
    _restore_json_literals(result["@graph"], nodes)
    return result


def _restore_json_literals(graph: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> None:
    """pyld compacts a JSON literal that is a one-item array (a one-operation patch) to the
    item alone, another literal: put the expanded values back."""
    by_id = {node["@id"]: node for node in nodes}
    for term in _vocabulary().json_terms:
        for node in graph:
            values = by_id.get(expand_iri(node["@id"]), {}).get(expand_iri(term))
            if values:
                literals = [value["@value"] for value in values]
                node[term] = literals[0] if len(literals) == 1 else literals


# -- RDF safety ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    """What `rdf_safe` needs to know of our context."""

    prefixes: dict[str, str]
    iri_terms: frozenset[str]
    date_time_terms: frozenset[str]
    json_terms: frozenset[str]


@cache
def _vocabulary() -> _Vocabulary:
    context = _context_file()["@context"]
    prefixes = {term: iri for term, iri in context.items()
                if isinstance(iri, str) and not term.startswith("@")}
    typed = {term: definition.get("@type") for term, definition in context.items()
             if isinstance(definition, dict)}
    return _Vocabulary(
        prefixes=prefixes,
        iri_terms=frozenset(t for t, kind in typed.items() if kind in ("@id", "@vocab")),
        date_time_terms=frozenset(t for t, kind in typed.items() if kind == "xsd:dateTime"),
        json_terms=frozenset(t for t, kind in typed.items() if kind == "@json"),
    )


def expand_iri(value: str) -> str:
    """`value` with a prefix of our context replaced by its namespace (else unchanged)."""
    prefix, colon, rest = value.partition(":")
    namespace = _vocabulary().prefixes.get(prefix)
    if colon and namespace and not rest.startswith("//"):
        return namespace + rest
    return value


def is_iri(value: str) -> bool:
    """True if `value` (a compact IRI of ours, or a full one) is an absolute IRI RDF can write."""
    return bool(_IRI.match(expand_iri(value)))


@lru_cache(maxsize=4096)
def is_property(key: str) -> bool:
    """True if RDF can name the key: a prefix of ours (or a full http/urn IRI), an IRI
    without forbidden characters, and a local name RDF/XML can split off."""
    prefix = key.partition(":")[0]
    if prefix not in _vocabulary().prefixes and not key.startswith(_PROPERTY_SCHEMES):
        return False
    iri = expand_iri(key)
    return bool(_IRI.match(iri) and _LOCAL_NAME.search(iri))


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:  # the right shape but no such time (month 13, 25 o'clock)
        return False
    return True


def rdf_safe(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` that expands to valid RDF (the rules in the module docstring).
    A top-level `@included` is kept: only the repository writes one (a provenance event's
    delegation); every kind's schema refuses unknown top-level members from clients."""
    safe = _node(document)
    included = document.get("@included")
    if isinstance(included, list):
        safe["@included"] = [_node(node) for node in included if isinstance(node, dict)]
    return safe


def _node(node: dict[str, Any]) -> dict[str, Any]:
    json_terms = _vocabulary().json_terms
    safe: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@id":
            if isinstance(value, str) and is_iri(value):
                safe[key] = value
        elif key == "@type":
            types = [t for t in (value if isinstance(value, list) else [value])
                     if isinstance(t, str) and is_iri(t) and not t.startswith("_:")]
            if types:
                safe[key] = types if isinstance(value, list) else types[0]
        elif key in json_terms:
            safe[key] = value
        elif not key.startswith("@") and is_property(key):
            safe[key] = _value(key, value)
    return safe


def _value(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_value(key, item) for item in value]
    if isinstance(value, dict):
        return _value_object(value) if "@value" in value else _node(value)
    vocabulary = _vocabulary()
    if key in vocabulary.date_time_terms and value is not None and not _is_date_time(value):
        return {"@value": value}
    if key in vocabulary.iri_terms and isinstance(value, str) and not is_iri(value):
        # A link with a space as providers write it is served percent-encoded (iris.py).
        return escaped(value) if is_iri(escaped(value)) else {"@value": value}
    return value


def _value_object(value: dict[str, Any]) -> dict[str, Any] | None:
    """A value object the client wrote itself: keep only what is valid RDF."""
    literal, kind, language = value["@value"], value.get("@type"), value.get("@language")
    if kind == "@json":
        return {"@value": literal, "@type": "@json"}
    if literal is None:
        return None  # JSON-LD's null: no value
    if isinstance(literal, dict | list):
        return {"@value": json.dumps(literal, sort_keys=True)}
    if isinstance(language, str) and isinstance(literal, str) and _LANGUAGE.match(language):
        return {"@value": literal, "@language": language}
    if isinstance(kind, str) and is_iri(kind) and not kind.startswith("_:"):
        return {"@value": literal, "@type": kind}
    return {"@value": literal}
