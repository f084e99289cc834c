"""JSON-LD and RDF renderings of stored objects and provenance events (no servers).

Every openDS record we have (samples, upstream-invalid samples, openDS's own examples,
our factories; tests/data's in `make test`, the rest of the shared folder's in
`make test-upstream`) and provenance events are rendered as a stored object would be, then read
back with real clients: pyld expands what we serve, rdflib parses Turtle, RDF/XML and
N-Triples, and graphs are compared with rdflib.compare.isomorphic.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld as pyld_jsonld
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF, XSD

from repository.ingest import mapping
from repository.ingest.dwca import Record
from repository.provenance import Agent, Change, json_patch, provenance_event
from repository.records import TOMBSTONE, client_part, patchable_part, stored_content
from resolver.iris import escaped
from resolver.renderers import jsonld, rdf
from schemas import KINDS
from tests import material, records

Case = tuple[dict[str, Any], str, str]  # (document, its subject IRI, its type IRI)

BASE = "http://fdo.test"
PID = "10.82621/ABC-DEF-GHJ"
PID_URL = f"{BASE}/{PID}"
ODS = "https://github.com/DiSSCo/openDS/ods-ontology/terms/"
OA = "http://www.w3.org/ns/oa#"
TIME = "2026-01-02T03:04:05.678Z"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = "samples/opends-records"
EXAMPLES = "opends/examples/opends-examples/fdo-type"
EVENT = "ods:CreateUpdateTombstoneEvent"
EXAMPLE_DIRS = ("digital-specimen", "digital-media", "annotation", "create-update-tombstone-event")
KIND_OF_TYPE = {kind.object_type: kind for kind in KINDS.values()}
CURATOR = Agent("https://orcid.org/0000-0002-1825-0097", "Ada Curator", "curator")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")

# A record with what real openDS data does wrong for RDF (each case from the samples).
AWKWARD = records.specimen(**{
    "dcterms:license": "CC0 1.0",
    "ods:hasIdentifiers": [{"@id": "B 10 0039428", "@type": "ods:Identifier",
                            "dcterms:identifier": "B 10 0039428"}],
    "ods:hasEntityRelationships": [{
        "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
        "dwc:relatedResourceID": "TEST/W4K-QC6-5H5", "ods:relatedResourceURI": "TEST/W4K-QC6-5H5",
        "dwc:relationshipEstablishedDate": "1455095789000"}],
    "ods:hasEvents": [{"@type": "ods:Event", "ods:hasLocation": {
        "@type": "ods:Location", "ods:hasGeoreference": {
            "@type": "ods:Georeference", "dwc:decimalLongitude": 146.84255}}}],
})


def stored(client: dict[str, Any]) -> dict[str, Any]:
    """`client` as the repository would store it under PID (version 1)."""
    kind = KIND_OF_TYPE[client.get("@type", "ods:DigitalSpecimen")]
    return stored_content(kind, PID_URL, 1, TIME, TIME, client_part(client))


def tombstoned(document: dict[str, Any]) -> dict[str, Any]:
    """The last version of `document`, as the repository's tombstone makes it."""
    last = {**document, "ods:status": TOMBSTONE, "ods:version": 2}
    last["ods:hasTombstoneMetadata"] = {
        "@type": "ods:Tombstone", "ods:tombstoneDate": TIME, "ods:tombstoneText": "duplicate",
        "ods:hasAgents": [CURATOR.as_opends()],
        "ods:hasRelatedPIDs": [{"dcterms:identifier": f"{BASE}/10.82621/XYZ-XYZ-XYZ",
                                "ods:relationshipType": "IsReplacedWith"}],
    }
    return last


def event(before: dict[str, Any], after: dict[str, Any], version: int, activity: str
          ) -> dict[str, Any]:
    patch = json_patch(patchable_part(before), patchable_part(after))
    return provenance_event(Change(BASE, PID, after["@type"], version, activity, CURATOR,
                                   patch, TIME, None))


def _real_cases() -> Iterator[Any]:
    """(document, subject, type IRI) of each real record, as params of tests.material."""
    found = material.json_records(SAMPLES) + material.json_records(f"{SAMPLES}/upstream-invalid")
    for directory in EXAMPLE_DIRS:
        found += material.json_records(EXAMPLES, f"{directory}/**/*.json")
    for param, record in found:
        if record.get("@type") in (*KIND_OF_TYPE, EVENT):
            yield material.carrying(param, _case(record))
        elif not record:  # the placeholder for missing upstream material: fails as such
            yield material.carrying(param, ({}, "", ""))


def _case(record: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    if record["@type"] == EVENT:
        document = {**record, "@id": f"{PID_URL}/1/provenance"}
        return document, document["@id"], ODS + EVENT.removeprefix("ods:")
    document = stored(record)
    return document, PID_URL, ODS + document["@type"].removeprefix("ods:")


def _ingested() -> dict[str, Any]:
    """A specimen as a dataset ingest maps it: collectors and identifiers as agents,
    identifiers, an identification history, measurements as assertions."""
    terms = {"dwc:occurrenceID": "urn:uuid:9b0c2f52-5ad2-4d4a-8c2f-6f3f0bd5e1a1",
             "dwc:catalogNumber": "RMNH.AVES.1", "dwc:basisOfRecord": "PreservedSpecimen",
             "dwc:scientificName": "Parus major Linnaeus, 1758", "dwc:kingdom": "Animalia",
             "dwc:eventDate": "1998-07-04/1998-07-09", "dwc:locality": "Meijendel",
             "dwc:decimalLatitude": "52.13", "dwc:decimalLongitude": "4.36",
             "dwc:recordedBy": "A. Collector | B. Second",
             "dwc:recordedByID": "https://orcid.org/0000-0002-1825-0097",
             "dwc:identifiedBy": "D. Expert", "dwc:measurementType": "wing length",
             "dwc:measurementValue": "74", "dwc:measurementUnit": "mm"}
    extensions = {mapping.IDENTIFICATION_ROW_TYPES[0]: [
        {"dwc:scientificName": "Parus caeruleus", "dwc:identifiedBy": "E. Older"}]}
    source = mapping.Source(f"{BASE}/20.500.14920/ABC-DEF-GHJ", "Test CMS",
                            "https://ror.org/0566bfb96", "CC0-1.0")
    return mapping.specimen(Record("r1", terms, extensions), source)


def _documents() -> dict[str, tuple[dict[str, Any], str, str]]:
    """name -> (document, its subject IRI, its type IRI)."""
    specimen = stored(records.specimen())
    updated = {**specimen, "dwc:preparations": "pinned"}  # a one-operation patch
    documents = {
        "specimen": specimen,
        "media": stored(records.media()),
        "annotation": stored({"@type": "ods:Annotation", **records.annotation(PID_URL)}),
        "tombstoned-specimen": tombstoned(specimen),
        "awkward": stored(AWKWARD),
        "ingested": stored(_ingested()),
    }
    events = {"event-create": event({}, specimen, 1, "ods:Create"),
              "event-update": event(specimen, updated, 2, "ods:Update"),
              "event-tombstone": event(updated, tombstoned(updated), 3, "ods:Tombstone")}
    cases = {name: (doc, PID_URL, doc["@type"]) for name, doc in documents.items()}
    cases |= {name: (doc, doc["@id"], doc["@type"]) for name, doc in events.items()}
    return {name: (doc, subject, ODS + kind.removeprefix("ods:"))
            for name, (doc, subject, kind) in cases.items()}


DOCUMENTS = _documents()
CASES = [pytest.param(DOCUMENTS[name], id=name) for name in sorted(DOCUMENTS)]
CASES += _real_cases()


def _keys(value: Any) -> Iterator[str]:
    """Every key that must become a predicate: not keywords, not inside @json, not empty."""
    if isinstance(value, list):
        for item in value:
            yield from _keys(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "ods:changeValue" or (not key.startswith("@") and item not in (None, [])):
                yield key  # an empty patch is still a (JSON) value
            if key != "ods:changeValue":
                yield from _keys(item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _iris(graph: Graph) -> set[URIRef]:
    return {term for triple in graph for term in triple if isinstance(term, URIRef)}


@pytest.mark.parametrize("case", CASES)
def test_expansion_keeps_every_key(case: Case) -> None:
    document = case[0]
    dropped: list[str] = []
    pyld_jsonld.expand(jsonld.compacted(document, BASE),
                       {"documentLoader": jsonld.document_loader(BASE)},
                       on_property_dropped=dropped.append)
    assert dropped == []
    predicates = {str(p) for p in rdf.graph(document, BASE).predicates()} - {str(RDF.type)}
    assert predicates == {jsonld.expand_iri(key) for key in _keys(document)}


@pytest.mark.parametrize("case", CASES)
def test_every_iri_is_absolute_and_taken_from_the_document(case: Case) -> None:
    document = case[0]
    graph = rdf.graph(document, BASE)
    # A link with a space as providers write it is served percent-encoded (iris.escaped).
    allowed = ({jsonld.expand_iri(text) for text in _strings(document)}
               | {escaped(text) for text in _strings(document)} | {str(RDF.type)})
    for iri in _iris(graph):
        assert _ABSOLUTE.match(iri), iri
        assert str(iri) in allowed, f"{iri} was made up (resolved against the document?)"
    literal_types = {o.datatype for o in graph.objects() if isinstance(o, Literal)}
    assert literal_types <= {None, XSD.integer, XSD.double, XSD.boolean, XSD.dateTime, RDF.JSON}


@pytest.mark.parametrize("fmt", ["turtle", "xml", "nt"])
@pytest.mark.parametrize("case", CASES)
def test_serializations_parse_back_to_the_same_graph(case: Case, fmt: str) -> None:
    document = case[0]
    parsed = Graph().parse(data=rdf.serialize(document, BASE, fmt), format=fmt)
    assert len(parsed) > 5
    assert isomorphic(parsed, rdf.graph(document, BASE))


@pytest.mark.parametrize("case", CASES)
def test_what_we_serve_expands_to_expanded(case: Case) -> None:
    document = case[0]
    served = json.loads(json.dumps(jsonld.compacted(document, BASE)))
    assert served["@context"] == f"{BASE}/contexts/opends-v1.0.0.jsonld"
    expanded = jsonld.expanded(document, BASE)
    loader = jsonld.document_loader(BASE)
    assert pyld_jsonld.expand(served, {"documentLoader": loader}) == expanded
    # a client resolving against the document's URL finds nothing relative to resolve
    assert pyld_jsonld.expand(served, {"documentLoader": loader, "base": PID_URL}) == expanded
    inline = {**served, "@context": jsonld.context_document()["@context"]}
    assert pyld_jsonld.expand(inline) == expanded


@pytest.mark.parametrize("case", CASES)
def test_rdflib_reads_the_same_graph_from_our_json_ld(case: Case) -> None:
    """A second JSON-LD processor agrees with pyld on what our context means."""
    document = case[0]
    inline = {**jsonld.compacted(document, BASE), "@context": jsonld.context_document()["@context"]}
    with warnings.catch_warnings():  # rdflib's JSON-LD parser uses its own deprecated API
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        parsed = Graph().parse(data=json.dumps(inline), format="json-ld")
    assert isomorphic(parsed, rdf.graph(document, BASE))


@pytest.mark.parametrize("case", CASES)
def test_flattened_is_the_same_graph(case: Case) -> None:
    document = case[0]
    flat = jsonld.flattened(document, BASE)
    assert flat["@context"] == jsonld.context_url(BASE)
    assert isinstance(flat["@graph"], list)
    quads = pyld_jsonld.to_rdf(flat, {"documentLoader": jsonld.document_loader(BASE),
                                      "format": "application/n-quads"})
    assert isomorphic(Graph().parse(data=quads, format="nt"), rdf.graph(document, BASE))


@pytest.mark.parametrize("case", CASES)
def test_the_pid_is_a_subject_of_its_ods_class(case: Case) -> None:
    document, subject, type_iri = case
    assert (URIRef(subject), RDF.type, URIRef(type_iri)) in rdf.graph(document, BASE)


def test_identifiers_that_are_not_iris_stay_literals() -> None:
    graph = rdf.graph(DOCUMENTS["awkward"][0], BASE)
    pid = URIRef(PID_URL)
    identifier = graph.value(pid, URIRef(ODS + "hasIdentifiers"))
    assert isinstance(identifier, BNode)
    assert graph.value(identifier, DCTERMS.identifier) == Literal("B 10 0039428")
    assert graph.value(pid, DCTERMS.license) == Literal("CC0 1.0")
    relationship = graph.value(pid, URIRef(ODS + "hasEntityRelationships"))
    assert graph.value(relationship, URIRef(ODS + "relatedResourceURI")) == Literal(
        "TEST/W4K-QC6-5H5")
    established = URIRef("http://rs.tdwg.org/dwc/terms/relationshipEstablishedDate")
    assert graph.value(relationship, established) == Literal("1455095789000")
    assert graph.value(pid, DCTERMS.created) == Literal(TIME, datatype=XSD.dateTime)
    assert [iri for iri in _iris(graph) if iri.startswith(BASE)] == [pid]


def test_keys_rdf_cannot_name_are_left_out() -> None:
    document = {**stored(records.specimen()), "ods:bad key": 1, "nope:x": 2, "loose": 3,
                "ods:trailing'": 4, "dwc:ok": {"@context": {"dwc": "urn:evil:"}, "dwc:x": 5}}
    safe = jsonld.rdf_safe(document)
    assert not {"ods:bad key", "nope:x", "loose", "ods:trailing'"} & set(safe)
    assert safe["dwc:ok"] == {"dwc:x": 5}
    Graph().parse(data=rdf.serialize(document, BASE, "xml"), format="xml")


def test_rendering_leaves_the_stored_object_alone() -> None:
    document = DOCUMENTS["awkward"][0]
    before = copy.deepcopy(document)
    jsonld.flattened(document, BASE)
    rdf.serialize(document, BASE, "turtle")
    assert document == before


def test_a_change_is_one_json_literal() -> None:
    document = DOCUMENTS["event-update"][0]
    graph = rdf.graph(document, BASE)
    patches = list(graph.objects(predicate=URIRef(ODS + "changeValue")))
    assert len(patches) == 1
    assert isinstance(patches[0], Literal) and patches[0].datatype == RDF.JSON
    assert json.loads(str(patches[0])) == document["prov:Activity"]["ods:changeValue"]
    activity = URIRef(document["prov:Activity"]["@id"])
    ended = graph.value(activity, URIRef("http://www.w3.org/ns/prov#endedAtTime"))
    assert ended == Literal(TIME, datatype=XSD.dateTime)


def test_a_one_operation_patch_stays_an_array_when_flattened() -> None:
    document = DOCUMENTS["event-update"][0]
    patch = document["prov:Activity"]["ods:changeValue"]
    assert len(patch) == 1
    nodes = jsonld.flattened(document, BASE)["@graph"]
    assert [node["ods:changeValue"] for node in nodes if "ods:changeValue" in node] == [patch]


def test_turtle_keeps_every_digit_of_a_double() -> None:
    turtle = rdf.serialize(DOCUMENTS["awkward"][0], BASE, "turtle")
    longitude = URIRef("http://rs.tdwg.org/dwc/terms/decimalLongitude")
    values = list(Graph().parse(data=turtle, format="turtle").objects(predicate=longitude))
    assert values == [Literal(146.84255)]


def test_motivation_is_an_oa_iri() -> None:
    graph = rdf.graph(DOCUMENTS["annotation"][0], BASE)
    assert graph.value(URIRef(PID_URL), URIRef(OA + "motivation")) == URIRef(OA + "commenting")
    assert graph.value(URIRef(PID_URL), URIRef(OA + "hasTarget")) == URIRef(PID_URL)


def test_turtle_uses_readable_prefixes() -> None:
    turtle = rdf.serialize(DOCUMENTS["specimen"][0], BASE, "turtle").decode()
    assert f"@prefix ods: <{ODS}> ." in turtle
    assert "a ods:DigitalSpecimen" in turtle and "dwc:basisOfRecord" in turtle


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown RDF format"):
        rdf.serialize(DOCUMENTS["specimen"][0], BASE, "json")


def test_the_loader_serves_only_our_contexts() -> None:
    loader = jsonld.document_loader(BASE)
    for url in (jsonld.context_url(BASE), "https://elsewhere.example/contexts/opends-v1.0.0.jsonld"):
        assert loader(url, {})["document"] == jsonld.context_document()
    for url in ("https://www.w3.org/ns/activitystreams", "http://www.w3.org/ns/activitystreams"):
        terms = loader(url, {})["document"]["@context"]  # the change feed's, from package data
        assert terms["as"] == "https://www.w3.org/ns/activitystreams#"
    for url in ("https://www.w3.org/ns/activitystreams.jsonld", "https://www.w3.org/ns/odrl.jsonld"):
        with pytest.raises(pyld_jsonld.JsonLdError):
            loader(url, {})
    remote = {"@context": "https://schema.org/", "@id": PID_URL, "name": "x"}
    with pytest.raises(pyld_jsonld.JsonLdError):
        pyld_jsonld.expand(remote, {"documentLoader": loader})


def test_the_context_is_json_ld_1_1_with_real_namespaces() -> None:
    context = jsonld.context_document()["@context"]
    assert context["@version"] == 1.1
    assert jsonld.prefixes() | {"ods": ODS} == jsonld.prefixes()
    assert context["dwc"] == "http://rs.tdwg.org/dwc/terms/"
    assert context["dwciri"] == "http://rs.tdwg.org/dwc/iri/"
    assert context["ac"] == "http://rs.tdwg.org/ac/terms/"
    assert context["prov"] == "http://www.w3.org/ns/prov#"
    assert context["ods:changeValue"]["@type"] == "@json"


def _schema_properties(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _schema_properties(item)
    elif isinstance(value, dict):
        if isinstance(value.get("properties"), dict):
            yield from (key for key in value["properties"] if not key.startswith("@"))
        for item in value.values():
            yield from _schema_properties(item)


def test_every_term_of_our_schemas_is_named_by_the_context() -> None:
    assert_every_term_is_named(list((ROOT / "schemas").glob("*.json")))


@material.upstream
def test_every_term_of_the_upstream_schemas_is_named_by_the_context() -> None:
    upstream = material.shared("opends", "schemas", "fdo-type")
    assert_every_term_is_named([path for directory in (*EXAMPLE_DIRS, "shared-model")
                                for path in (upstream / directory).rglob("*.json")])


def assert_every_term_is_named(schema_files: list[Path]) -> None:
    terms = {key for path in schema_files
             for key in _schema_properties(json.loads(path.read_text(encoding="utf-8")))}
    assert len(terms) > 100
    assert sorted(term for term in terms if not jsonld.is_property(term)) == []
