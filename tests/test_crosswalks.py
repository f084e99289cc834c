"""Metadata crosswalks (DataCite JSON, CSL-JSON, BibTeX, text citations, schema.org),
each checked by a real consumer: DataCite's JSON Schema (from the `datacite` package),
a CSL processor (citeproc-py), a BibTeX parser (pybtex) and an RDF parser (rdflib).
No servers: the crosswalks are pure functions of a stored version."""

from __future__ import annotations

import json
import warnings
from importlib.resources import files
from typing import Any

import pytest
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from jsonschema import Draft201909Validator
from pybtex.database import parse_string
from pylatexenc.latex2text import LatexNodes2Text
from rdflib import RDF, Graph, Literal, URIRef

from repository.records import TOMBSTONE, stored_content
from resolver.renderers.citation import (
    STYLES,
    UnknownStyle,
    bibliography,
    bibtex,
    bibtex_key,
    csl_json,
)
from resolver.renderers.datacite import datacite_json
from resolver.renderers.schemaorg import schema_org, schema_org_type
from schemas import KINDS
from tests import material, records

BASE = "https://fdo.example.org"
CREATED, MODIFIED = "2025-03-04T10:00:00.000Z", "2026-01-02T03:04:05.678Z"
SCHEMA = json.loads((files("datacite") / "schemas" / "datacite-v4.5.json").read_text())
KERNEL = Draft201909Validator(SCHEMA, format_checker=Draft201909Validator.FORMAT_CHECKER)
# What DataCite's REST output adds to the kernel properties its JSON Schema describes.
REST_ONLY, REST_TYPES = ("id", "identifiers"), ("schemaOrg", "citeproc", "bibtex", "ris")
VERIFIED = {
    "@type": "ods:Identification", "ods:isVerifiedIdentification": True,
    "ods:hasTaxonIdentifications": [{
        "@type": "ods:TaxonIdentification", "dwc:scientificName": "Bombus lapidarius (L.)",
        "dwc:taxonID": "https://www.catalogueoflife.org/data/taxon/4T3K6"}],
}
EVENT = {"@type": "ods:Event", "ods:hasLocation": {
    "@type": "ods:Location", "dwc:country": "Netherlands", "dwc:locality": "Leiden",
    "ods:hasGeoreference": {"@type": "ods:Georeference", "dwc:decimalLatitude": 52.16,
                            "dwc:decimalLongitude": 4.49}}}


def stored(kind: str, client: dict[str, Any], pid: str, version: int = 1,
           status: str = "Active", **extra: Any) -> dict[str, Any]:
    content = stored_content(KINDS[kind], f"{BASE}/{pid}", version, CREATED, MODIFIED,
                             client, status)
    return content | extra


SPECIMEN_PID, MEDIA_PID = "10.82621/ABC-DEF-GHJ", "10.82621/MED-1A2-B3C"
ANNOTATION_PID = "20.500.14920/ANN-0T4-T10"
SPECIMEN = stored("digital-specimens", records.specimen(
    **{"ods:organisationName": "Naturalis Biodiversity Center",
       "ods:physicalSpecimenID": "RMNH.INS.1234", "ods:topicDiscipline": "Entomology",
       "dcterms:license": "https://creativecommons.org/licenses/by/4.0/legalcode",
       "ods:hasIdentifications": [VERIFIED], "ods:hasEvents": [EVENT]}), SPECIMEN_PID, 2)
MEDIA = stored("digital-media", records.media(**{
    "ods:organisationID": "https://ror.org/040ck2b86", "dcterms:format": "image/jpeg",
    "ods:organisationName": "Natural History Museum of Denmark", "dcterms:rights": "CC BY 4.0",
    "ods:hasEntityRelationships": [{
        "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
        "dwc:relatedResourceID": SPECIMEN_PID}]}), MEDIA_PID)
ANNOTATION = stored("annotations", records.annotation(f"{BASE}/{SPECIMEN_PID}"), ANNOTATION_PID)
TOMBSTONED = stored(
    "digital-specimens", records.specimen(**{"ods:organisationName": "Naturalis"}),
    "10.82621/T0M-B57-0NE", 3, TOMBSTONE, **{"ods:hasTombstoneMetadata": {
        "@type": "ods:Tombstone", "ods:tombstoneDate": "2026-02-01T00:00:00.000Z",
        "ods:tombstoneText": "Duplicate of another specimen",
        "ods:hasAgents": [{"@type": "schema:Person", "schema:name": "Ada Curator"}],
        "ods:hasRelatedPIDs": [{"dcterms:identifier": f"{BASE}/{SPECIMEN_PID}",
                                "ods:relationshipType": "IsReplacedWith"}]}})


def _samples() -> list[Any]:
    """The real openDS records, under DOIs of ours (their own @id is a test DOI)."""
    return [material.carrying(param, param.values[0].stem, content,
                              f"10.82621/{content.get('@id', '').rsplit('/', 1)[-1]}", 1)
            for param, content in material.json_records("samples/opends-records")]


CASES = [
    pytest.param(*case, id=case[0]) for case in (
        ("specimen", SPECIMEN, SPECIMEN_PID, 2),
        ("media", MEDIA, MEDIA_PID, 1),
        ("annotation", ANNOTATION, ANNOTATION_PID, 1),
        ("tombstoned", TOMBSTONED, "10.82621/T0M-B57-0NE", 3))
] + _samples()


def kernel_errors(record: dict[str, Any]) -> list[str]:
    """What DataCite's JSON Schema 4.5 finds wrong with the kernel part of a record."""
    kernel = {key: value for key, value in record.items() if key not in REST_ONLY}
    kernel["types"] = {key: value for key, value in record["types"].items()
                       if key not in REST_TYPES}
    return [f"{error.json_path}: {error.message}" for error in KERNEL.iter_errors(kernel)]


@pytest.mark.parametrize(("name", "content", "pid", "version"), CASES)
def test_datacite_json_is_valid_kernel_4_5(name: str, content: dict[str, Any], pid: str,
                                           version: int) -> None:
    record = datacite_json(content, pid, version, BASE)
    assert kernel_errors(record) == []
    assert record["id"] == record["url"] == f"{BASE}/{pid}/{version}"
    assert record["version"] == str(version)
    assert record["publicationYear"] == content["dcterms:created"][:4]
    assert {"relatedIdentifier": f"{BASE}/{pid}", "relatedIdentifierType": "URL",
            "relationType": "IsVersionOf"} in record["relatedIdentifiers"]
    assert set(record["types"]) == {"resourceTypeGeneral", "resourceType", *REST_TYPES}


def test_the_kernel_schema_is_not_vacuous() -> None:
    record = datacite_json(SPECIMEN, SPECIMEN_PID, 2, BASE)
    del record["publisher"]
    record["types"]["resourceTypeGeneral"] = "Specimen"
    errors = kernel_errors(record)
    assert any("publisher" in error for error in errors)
    assert any("Specimen" in error for error in errors)


def test_datacite_specimen_fields() -> None:
    record = datacite_json(SPECIMEN, SPECIMEN_PID, 2, BASE)
    assert record["doi"] == SPECIMEN_PID
    assert "Handle" not in json.dumps(record["identifiers"])
    assert {"identifier": "RMNH.INS.1234", "identifierType": "physicalSpecimenID"} in record[
        "identifiers"]
    assert record["titles"] == [{"title": "Bombus lapidarius (L.) (RMNH.INS.1234)"}]
    assert record["types"]["resourceTypeGeneral"] == "PhysicalObject"
    assert record["types"]["schemaOrg"] == "Dataset"
    assert record["creators"] == [{
        "name": "Naturalis Biodiversity Center", "nameType": "Organizational",
        "nameIdentifiers": [{"nameIdentifier": "https://ror.org/0566bfb96",
                             "nameIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}]}]
    assert record["publisher"]["publisherIdentifier"] == "https://ror.org/0566bfb96"
    assert record["dates"] == [{"date": CREATED, "dateType": "Created"},
                               {"date": MODIFIED, "dateType": "Updated"}]
    assert record["geoLocations"] == [{
        "geoLocationPoint": {"pointLatitude": 52.16, "pointLongitude": 4.49},
        "geoLocationPlace": "Leiden, Netherlands"}]
    assert record["rightsList"][0]["rightsIdentifier"] == "CC-BY-4.0"
    assert {"subject": "Entomology", "subjectScheme": "topicDiscipline"} in record["subjects"]
    assert {"relatedIdentifier": f"{BASE}/{SPECIMEN_PID}/1", "relatedIdentifierType": "URL",
            "relationType": "IsNewVersionOf"} in record["relatedIdentifiers"]


def test_unverified_identifications_fall_back_to_the_specimen_name() -> None:
    unverified = VERIFIED | {"ods:isVerifiedIdentification": False}
    content = SPECIMEN | {"ods:hasIdentifications": [unverified]}
    title = datacite_json(content, SPECIMEN_PID, 2, BASE)["titles"][0]["title"]
    assert title == "Bombus terrestris (RMNH.INS.1234)"


def test_datacite_media_and_annotation() -> None:
    media = datacite_json(MEDIA, MEDIA_PID, 1, BASE)
    assert media["types"]["resourceTypeGeneral"] == "Image"
    assert media["titles"] == [{"title": "Still image (image/jpeg)"}]
    assert media["formats"] == ["image/jpeg"]
    assert media["rightsList"][0]["rightsUri"] == "https://creativecommons.org/licenses/by/4.0/"
    assert {"relatedIdentifier": f"{BASE}/{SPECIMEN_PID}", "relatedIdentifierType": "URL",
            "relationType": "Documents"} in media["relatedIdentifiers"]
    annotation = datacite_json(ANNOTATION, ANNOTATION_PID, 1, BASE)
    assert "doi" not in annotation
    assert annotation["identifiers"] == [{"identifier": ANNOTATION_PID,
                                          "identifierType": "Handle"}]
    assert annotation["titles"] == [{"title": f"Commenting annotation on {SPECIMEN_PID}"}]
    assert annotation["creators"] == [{
        "name": "Ada Curator", "nameType": "Personal", "nameIdentifiers": [{
            "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
            "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}]}]
    assert annotation["publisher"] == {"name": "fdo.example.org"}
    assert annotation["types"]["resourceTypeGeneral"] == "Other"
    assert annotation["descriptions"][0]["description"] == "Label says Leiden"


def test_tombstoned_content_still_crosswalks() -> None:
    record = datacite_json(TOMBSTONED, "10.82621/T0M-B57-0NE", 3, BASE)
    assert {"date": "2026-02-01T00:00:00.000Z", "dateType": "Withdrawn"} in record["dates"]
    assert {"relatedIdentifier": f"{BASE}/{SPECIMEN_PID}", "relatedIdentifierType": "URL",
            "relationType": "IsObsoletedBy"} in record["relatedIdentifiers"]
    assert "Tombstoned: Duplicate of another specimen" in json.dumps(record["descriptions"])
    assert "tombstoned: Duplicate of another specimen" in bibtex(
        TOMBSTONED, "10.82621/T0M-B57-0NE", 3, BASE)
    document = schema_org(TOMBSTONED, "10.82621/T0M-B57-0NE", 3, BASE)
    assert document["creativeWorkStatus"] == "Tombstone"


def test_epoch_millisecond_timestamps_become_iso_dates() -> None:
    record = datacite_json(SPECIMEN | {"dcterms:modified": "1455095789000"}, SPECIMEN_PID, 2,
                           BASE)
    assert {"date": "2016-02-10T09:16:29.000Z", "dateType": "Updated"} in record["dates"]


def _verified_name(content: dict[str, Any]) -> str:
    for identification in content.get("ods:hasIdentifications", []):
        if identification.get("ods:isVerifiedIdentification"):
            return str(identification["ods:hasTaxonIdentifications"][0]["dwc:scientificName"])
    return str(content["ods:specimenName"])


@pytest.mark.parametrize(("name", "content", "pid", "version"), CASES)
def test_csl_json_is_read_by_citeproc(name: str, content: dict[str, Any], pid: str,
                                      version: int) -> None:
    item = csl_json(content, pid, version, BASE)
    assert item["issued"] == {"date-parts": [[int(part) for part in
                                              content["dcterms:created"][:10].split("-")]]}
    assert ("DOI" in item) is pid.startswith("10.")
    style = CitationStylesStyle("harvard-cite-them-right", validate=True)
    cited = CitationStylesBibliography(style, CiteProcJSON([item]), formatter.plain)
    cited.register(Citation([CitationItem(item["id"].lower())]))
    text = str(cited.bibliography()[0])
    assert item["title"] in text
    assert f"({content['dcterms:created'][:4]})" in text
    assert item["author"][0]["literal"] in text
    if content["@type"] == "ods:DigitalSpecimen":
        assert _verified_name(content) in item["title"]
        assert item["type"] == "dataset"


def test_csl_types_and_authors() -> None:
    assert csl_json(MEDIA, MEDIA_PID, 1, BASE)["type"] == "graphic"
    annotation = csl_json(ANNOTATION, ANNOTATION_PID, 1, BASE)
    assert annotation["author"] == [{"literal": "Ada Curator"}]
    assert "DOI" not in annotation
    assert annotation["URL"] == f"{BASE}/{ANNOTATION_PID}/1"


def _parsed(text: str) -> tuple[str, dict[str, str]]:
    """(key, fields) of the one entry in `text` as pybtex reads it, each field turned from
    LaTeX back into Unicode by pylatexenc (which writes \\textasciicircum as U+02C6)."""
    entry_key, entry = next(iter(parse_string(text, "bibtex").entries.items()))
    assert entry.type == "misc"
    values = dict(entry.fields) | {"author": " and ".join(
        str(person) for person in entry.persons.get("author", []))}
    decode = LatexNodes2Text().latex_to_text
    return entry_key, {name.lower(): decode(value).replace("\u02c6", "^")
                       for name, value in values.items()}


@pytest.mark.parametrize(("name", "content", "pid", "version"), CASES)
def test_bibtex_is_read_by_pybtex(name: str, content: dict[str, Any], pid: str,
                                  version: int) -> None:
    key, fields = _parsed(bibtex(content, pid, version, BASE))
    assert key == bibtex_key(pid, version)
    assert fields["url"] == f"{BASE}/{pid}/{version}"
    assert fields["year"] == content["dcterms:created"][:4]
    assert fields["version"] == str(version)
    assert fields.get("doi") == (pid if pid.startswith("10.") else None)
    assert fields["title"] == datacite_json(content, pid, version, BASE)[
        "titles"][0]["title"]


def test_bibtex_escapes_latex_and_keeps_unicode() -> None:
    awkward = "Müller & Söhne {100%} Natur_kunde #1 $5 ~^ \\ Bürø"
    content = MEDIA | {"ods:organisationName": awkward, "dcterms:title": "Ærø_scan 50%"}
    text = bibtex(content, MEDIA_PID, 1, BASE)
    for escaped in (r"\&", r"\{100\%\}", r"Natur\_kunde", r"\#1", r"\$5", r"\textbackslash{}"):
        assert escaped in text
    assert "Müller" in text and "Bürø" in text  # UTF-8 as is, as biber and bibtexu read it
    _, fields = _parsed(text)
    assert fields["author"] == fields["publisher"] == awkward
    assert fields["title"] == "Ærø_scan 50%"
    assert bibtex_key("20.500.14920/ANN-0T4-T10", 2) == "20.500.14920_ANN-0T4-T10_v2"


def test_apa_and_harvard_differ_as_documented() -> None:
    url = f"{BASE}/{SPECIMEN_PID}/2"
    title = "Bombus lapidarius (L.) (RMNH.INS.1234) (Version 2) [Digital specimen]."
    assert bibliography(SPECIMEN, SPECIMEN_PID, 2, BASE) == (
        f"Naturalis Biodiversity Center. (2025). {title} {url}")
    assert bibliography(SPECIMEN, SPECIMEN_PID, 2, BASE, style="harvard") == (
        f"Naturalis Biodiversity Center (2025) {title} Naturalis Biodiversity Center. "
        f"Available at: {url}")
    # APA names the publisher only when it is not the author.
    assert bibliography(ANNOTATION, ANNOTATION_PID, 1, BASE, style="apa") == (
        f"Ada Curator. (2025). Commenting annotation on {SPECIMEN_PID} (Version 1) "
        f"[Annotation]. fdo.example.org. {BASE}/{ANNOTATION_PID}/1")
    undated = SPECIMEN | {"dcterms:created": None, "dcterms:modified": None}
    assert "(n.d.)." in bibliography(undated, SPECIMEN_PID, 2, BASE, "apa")
    assert "(no date)" in bibliography(undated, SPECIMEN_PID, 2, BASE, "harvard")


def test_unknown_styles_are_refused() -> None:
    assert STYLES == ("apa", "harvard")
    with pytest.raises(UnknownStyle) as raised:
        bibliography(SPECIMEN, SPECIMEN_PID, 2, BASE, style="chicago")
    assert isinstance(raised.value, ValueError)
    assert "apa, harvard" in str(raised.value)


@pytest.mark.parametrize(("name", "content", "pid", "version"), CASES)
def test_bibliography_cites_the_version_url(name: str, content: dict[str, Any], pid: str,
                                            version: int) -> None:
    for style in STYLES:
        line = bibliography(content, pid, version, BASE, style)
        assert line.endswith(f"{BASE}/{pid}/{version}")
        assert f"(Version {version})" in line and content["dcterms:created"][:4] in line
        assert "\n" not in line


def _graph(document: dict[str, Any]) -> Graph:
    """The JSON-LD read by rdflib with schema.org's vocabulary supplied locally (nothing
    may be fetched), in the https form that signposting `type` links use."""
    local = document | {"@context": {"@vocab": "https://schema.org/"}}
    with warnings.catch_warnings():
        # rdflib's own JSON-LD parser builds the ConjunctiveGraph it has deprecated.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        return Graph().parse(data=json.dumps(local), format="json-ld")


@pytest.mark.parametrize(("name", "content", "pid", "version"), CASES)
def test_schema_org_is_read_by_rdflib(name: str, content: dict[str, Any], pid: str,
                                      version: int) -> None:
    document = schema_org(content, pid, version, BASE)
    assert document["@context"] == "https://schema.org"
    graph = _graph(document)
    subject = URIRef(f"{BASE}/{pid}/{version}")
    assert (subject, RDF.type, URIRef(schema_org_type(content))) in graph
    schema = "https://schema.org/"
    assert (subject, URIRef(schema + "name"), Literal(document["name"])) in graph
    assert (subject, URIRef(schema + "exampleOfWork"), URIRef(f"{BASE}/{pid}")) in graph


def test_schema_org_types_and_fields() -> None:
    assert schema_org_type(SPECIMEN) == "https://schema.org/Dataset"
    assert schema_org_type(MEDIA) == "https://schema.org/ImageObject"
    assert schema_org_type(MEDIA | {"dcterms:type": "MovingImage"}) == (
        "https://schema.org/VideoObject")
    assert schema_org_type(ANNOTATION) == "https://schema.org/Comment"
    graph = _graph(schema_org(SPECIMEN, SPECIMEN_PID, 2, BASE))
    latitudes = [float(str(value)) for value in graph.objects(
        None, URIRef("https://schema.org/latitude"))]
    assert latitudes == [52.16]
    specimen = schema_org(SPECIMEN, SPECIMEN_PID, 2, BASE)
    assert specimen["about"] == {"@type": "Taxon", "name": "Bombus lapidarius (L.)",
                                 "@id": "https://www.catalogueoflife.org/data/taxon/4T3K6"}
    assert specimen["publisher"]["@id"] == "https://ror.org/0566bfb96"
    assert specimen["identifier"]["propertyID"] == "DOI"
    media = schema_org(MEDIA, MEDIA_PID, 1, BASE)
    assert media["contentUrl"] == MEDIA["ac:accessURI"]
    assert media["license"] == "https://creativecommons.org/licenses/by/4.0/"
    annotation = schema_org(ANNOTATION, ANNOTATION_PID, 1, BASE)
    assert annotation["identifier"]["propertyID"] == "Handle"
    assert annotation["about"] == {"@id": f"{BASE}/{SPECIMEN_PID}"}
    assert annotation["creator"] == {"@type": "Person", "name": "Ada Curator",
                                     "@id": "https://orcid.org/0000-0002-1825-0097"}
