"""RDF for our openDS objects and provenance events: Turtle, RDF/XML, N-Triples.

The graph is pyld's RDF conversion of the expanded JSON-LD (what `jsonld.compacted`
serves, expanded, so the same RDF-safety rules apply: see that module), without any
network: the @context comes from package data. Prefixes are those of our @context, so
Turtle reads `ods:DigitalSpecimen`, `dwc:basisOfRecord`, ...

Literals are built as rdflib's parsers build them (normalised lexical forms, e.g. an
xsd:dateTime "...:19.837Z" reads "...:19.837000+00:00"), so a graph parsed back from any
of our serialisations is isomorphic to `graph(...)`.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from pyld import jsonld as pyld_jsonld
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.plugins.serializers.turtle import TurtleSerializer
from rdflib.term import Node

from resolver.renderers import jsonld

# Our names for the formats -> rdflib's serializer names.
FORMATS = {"turtle": "turtle", "xml": "xml", "nt": "nt"}


def graph(document: dict[str, Any], base_url: str) -> Graph:
    """The RDF graph of an openDS document, with our prefixes bound."""
    # pyld's toRdf expands what we serve (as `jsonld.expanded` does), then converts it:
    # handing it `expanded(...)` would only expand everything a second time.
    return jsonld_graph(jsonld.compacted(document, base_url), base_url,
                        jsonld.prefixes())


def jsonld_graph(document: dict[str, Any], base_url: str,
                 prefixes: dict[str, str]) -> Graph:
    """The RDF graph of a JSON-LD document whose contexts are ours (see
    `jsonld.document_loader`), with these prefixes bound."""
    dataset = pyld_jsonld.to_rdf(document, {"documentLoader": jsonld.document_loader(base_url)})
    result = Graph(bind_namespaces="core")
    for prefix, namespace in prefixes.items():
        result.bind(prefix, namespace, override=True, replace=True)
    for triples in dataset.values():  # our documents have no @graph: just the default one
        for triple in triples:
            result.add((_term(triple["subject"]), _term(triple["predicate"]),
                        _term(triple["object"])))
    return result


def serialize(document: dict[str, Any], base_url: str, fmt: str) -> bytes:
    """`document` as Turtle (`turtle`), RDF/XML (`xml`) or N-Triples (`nt`), UTF-8."""
    return write(graph(document, base_url), fmt)


def write(rdf_graph: Graph, fmt: str) -> bytes:
    """A graph as Turtle (`turtle`), RDF/XML (`xml`) or N-Triples (`nt`), UTF-8."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown RDF format '{fmt}' (one of {', '.join(FORMATS)})")
    if fmt == "turtle":
        stream = BytesIO()
        _TurtleSerializer(rdf_graph).serialize(stream, encoding="utf-8")
        return stream.getvalue()
    output: bytes = rdf_graph.serialize(format=FORMATS[fmt], encoding="utf-8")
    return output


class _TurtleSerializer(TurtleSerializer):
    """rdflib's Turtle writes an xsd:double in the short form with 6 significant digits
    (146.84255 becomes 1.468425e+02): we write doubles as typed literals, exactly."""

    def label(self, node: Node, position: int) -> str:
        if isinstance(node, Literal) and node.datatype == XSD.double:
            return node.n3(self.store.namespace_manager)
        return super().label(node, position)


def _term(term: dict[str, str]) -> Node:
    """A pyld RDF term as an rdflib one."""
    if term["type"] == "IRI":
        return URIRef(term["value"])
    if term["type"] == "blank node":
        return BNode(term["value"].removeprefix("_:"))
    datatype = term.get("datatype")
    if datatype == str(RDF.langString):
        return Literal(term["value"], lang=term.get("language"))
    if datatype in (None, str(XSD.string)):  # a simple literal: plain "..." in Turtle
        return Literal(term["value"])
    return Literal(term["value"], datatype=URIRef(datatype))
