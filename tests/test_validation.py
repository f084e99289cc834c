"""Our input schemas: what they demand, how violations are reported, and that they accept
every record openDS 0.4's own schemas accept (checked against those schemas, offline, in
`make test-upstream`; `make test` checks the records of tests/data known to be such)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from repository.validation import CHECKED_FORMATS, Validator, Violation
from schemas import KINDS
from tests import material

UPSTREAM_SCHEMAS = ("opends", "schemas", "fdo-type")  # in the upstream material
SAMPLES = "samples/opends-records"
EXAMPLES = "opends/examples/opends-examples/fdo-type"

SPECIMEN: dict[str, Any] = {
    "ods:physicalSpecimenID": "RMNH.123",
    "ods:physicalSpecimenIDType": "Local",
    "ods:organisationID": "https://ror.org/0566bfb96",
}
MEDIA: dict[str, Any] = {"ac:accessURI": "https://medialib.example/file/RMNH.123.jpg"}
ANNOTATION: dict[str, Any] = {
    "oa:motivation": "oa:commenting",
    "oa:hasTarget": {"@id": "https://fdo.example/10.3535/ABC-DEF-GHJ"},
    "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Collected by Linnaeus?"]},
}
SOURCE_SYSTEM: dict[str, Any] = {"schema:name": "Naturalis CRS",
                                  "ods:organisationID": "https://ror.org/0566bfb96"}
MACHINE_ANNOTATION_SERVICE: dict[str, Any] = {
    "schema:name": "Country check", "ods:serviceEndpoint": "http://127.0.0.1:8020/",
    "ods:hasTargetDigitalObjectFilter": {}, "ods:batchingPermitted": False}
MAS_JOB: dict[str, Any] = {
    "schema:name": "Country check on 10.82621/ABC-DEF-GHJ", "ods:jobState": "Scheduled",
    "ods:machineAnnotationServiceID": "http://fdo.test/20.500.14920/MMM-AAA-SSS",
    "ods:targetID": "http://fdo.test/10.82621/ABC-DEF-GHJ/1",
    "schema:expires": "2026-03-03T10:00:00.000Z"}
MINIMAL: dict[str, dict[str, Any]] = {
    "digital-specimens": SPECIMEN, "digital-media": MEDIA, "annotations": ANNOTATION,
    "source-systems": SOURCE_SYSTEM, "machine-annotation-services": MACHINE_ANNOTATION_SERVICE,
    "mas-jobs": MAS_JOB}
KIND_OF_TYPE = {"ods:DigitalSpecimen": ("digital-specimens", "digital-specimen"),
                "ods:DigitalMedia": ("digital-media", "digital-media"),
                "ods:Annotation": ("annotations", "annotation")}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def paths(violations: list[Violation]) -> list[str]:
    return [violation.path for violation in violations]


@pytest.mark.parametrize("kind", list(KINDS))
def test_minimal_record_is_valid(validator: Validator, kind: str) -> None:
    assert validator.violations(kind, MINIMAL[kind]) == []


def test_deleting_annotation_needs_no_body(validator: Validator) -> None:
    deleting = {"oa:motivation": "ods:deleting", "oa:hasTarget": ANNOTATION["oa:hasTarget"]}
    assert validator.violations("annotations", deleting) == []


def test_server_owned_terms_are_loosely_typed(validator: Validator) -> None:
    # Our @ids are our resolver's URLs, and the server overwrites these terms anyway.
    document = {**SPECIMEN, "@id": "https://fdo.example/10.3535/ABC-DEF-GHJ",
                "dcterms:identifier": "https://fdo.example/10.3535/ABC-DEF-GHJ",
                "ods:version": 7, "ods:status": "Whatever", "dcterms:created": "yesterday",
                "dcterms:modified": "1455095789000", "ods:fdoType": "x"}
    assert validator.violations("digital-specimens", document) == []
    assert paths(validator.violations("digital-specimens", {**SPECIMEN, "ods:version": "7"})) \
        == ["/ods:version"]


@pytest.mark.parametrize(("kind", "term"), [
    ("digital-specimens", "ods:physicalSpecimenID"),
    ("digital-specimens", "ods:physicalSpecimenIDType"),
    ("digital-specimens", "ods:organisationID"),
    ("digital-media", "ac:accessURI"),
    ("annotations", "oa:motivation"),
    ("annotations", "oa:hasTarget"),
    ("annotations", "oa:hasBody"),
    ("source-systems", "schema:name"),
    ("source-systems", "ods:organisationID"),
])
def test_missing_required_term_is_reported_at_its_pointer(
        validator: Validator, kind: str, term: str) -> None:
    document = {key: value for key, value in MINIMAL[kind].items() if key != term}
    violations = validator.violations(kind, document)
    assert f"/{term}" in paths(violations)
    assert term in next(v.message for v in violations if v.path == f"/{term}")


def test_missing_nested_required_term(validator: Validator) -> None:
    document = {**ANNOTATION, "oa:hasTarget": {"@type": "ods:DigitalSpecimen"}}
    assert paths(validator.violations("annotations", document)) == ["/oa:hasTarget/@id"]


def test_every_violation_is_listed_sorted_by_path(validator: Validator) -> None:
    events = [{"@type": "ods:Event", "dwc:month": 13 if i in (2, 10) else 1} for i in range(11)]
    document = {"dwc:fooBar": "x", "ods:physicalSpecimenIDType": "Local", "ods:hasEvents": events}
    assert paths(validator.violations("digital-specimens", document)) == [
        "/dwc:fooBar", "/ods:hasEvents/2/dwc:month", "/ods:hasEvents/10/dwc:month",
        "/ods:organisationID", "/ods:physicalSpecimenID"]


def test_unknown_term_is_named(validator: Validator) -> None:
    document = {**SPECIMEN, "dwc:fooBar": 1,
                "ods:hasEvents": [{"@type": "ods:Event", "dwc:colour": "red"}]}
    violations = validator.violations("digital-specimens", document)
    assert paths(violations) == ["/dwc:fooBar", "/ods:hasEvents/0/dwc:colour"]
    assert "dwc:fooBar" in violations[0].message
    assert "dwc:colour" in violations[1].message


def test_pointer_tokens_are_escaped(validator: Validator) -> None:
    violations = validator.violations("digital-media", {**MEDIA, "a/b~c": 1})
    assert paths(violations) == ["/a~1b~0c"]


@pytest.mark.parametrize(("kind", "term", "value"), [
    ("digital-specimens", "ods:physicalSpecimenIDType", "Unique"),
    ("digital-specimens", "ods:topicDiscipline", "Alchemy"),
    ("digital-specimens", "@type", "ods:DigitalMedia"),
    ("digital-media", "dcterms:type", "Painting"),
    ("annotations", "oa:motivation", "oa:deleting"),
])
def test_bad_enumerated_value(validator: Validator, kind: str, term: str, value: str) -> None:
    violations = validator.violations(kind, {**MINIMAL[kind], term: value})
    assert paths(violations) == [f"/{term}"]
    assert term in violations[0].message and value in violations[0].message


def test_organisation_must_be_ror_or_wikidata(validator: Validator) -> None:
    document = {**SPECIMEN, "ods:organisationID": "Naturalis"}
    assert paths(validator.violations("digital-specimens", document)) == ["/ods:organisationID"]


@pytest.mark.parametrize("value", ["2025-06-06 01:47", "2025-13-01T00:00:00Z", "06/06/2025"])
def test_bad_date_time(validator: Validator, value: str) -> None:
    relationship = {"@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasURL",
                    "dwc:relatedResourceID": "https://example.org/x",
                    "dwc:relationshipEstablishedDate": value}
    document = {**MEDIA, "ods:hasEntityRelationships": [relationship]}
    violations = validator.violations("digital-media", document)
    assert paths(violations) == ["/ods:hasEntityRelationships/0/dwc:relationshipEstablishedDate"]
    assert "date-time" in violations[0].message
    ok = {**relationship, "dwc:relationshipEstablishedDate": "2025-06-06T01:47:28.463Z"}
    assert validator.violations("digital-media", {**MEDIA, "ods:hasEntityRelationships": [ok]}) \
        == []


def test_selector_error_names_the_missing_term(validator: Validator) -> None:
    target = {"@id": "https://fdo.example/10.3535/ABC-DEF-GHJ",
              "oa:hasSelector": {"@type": "ods:ClassSelector", "ods:term": "$['dwc:country']"}}
    violations = validator.violations("annotations", {**ANNOTATION, "oa:hasTarget": target})
    assert paths(violations) == ["/oa:hasTarget/oa:hasSelector/ods:class",
                                 "/oa:hasTarget/oa:hasSelector/ods:term"]


def test_document_must_be_an_object(validator: Validator) -> None:
    assert paths(validator.violations("annotations", [ANNOTATION])) == [""]


def test_unknown_kind_is_a_programming_error(validator: Validator) -> None:
    with pytest.raises(ValueError, match="specimens"):
        validator.violations("specimens", SPECIMEN)


# --- openDS 0.4: everything its own schemas accept, ours accept ---------------------------

@cache
def upstream_registry() -> Registry[Any]:
    """Each upstream file under its `$id` and under the URL its siblings `$ref` it by."""
    resources = []
    for path in material.shared(*UPSTREAM_SCHEMAS).glob("*/*/*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(schema)
        url = (f"https://schemas.dissco.tech/schemas/fdo-type/{path.parent.parent.name}/"
               f"{path.parent.name}/{path.name}")
        resources += [(schema["$id"], resource), (url, resource)]
    return Registry().with_resources(resources)


def upstream_accepts(schema_path: str, document: object) -> bool:
    schema = json.loads(material.shared(*UPSTREAM_SCHEMAS, schema_path).read_text(encoding="utf-8"))
    upstream = Draft202012Validator(schema, registry=upstream_registry(),
                                    format_checker=FormatChecker(formats=CHECKED_FORMATS))
    return upstream.is_valid(document)


def in_event(term: str) -> Callable[[Any], dict[str, Any]]:
    return lambda part: {"ods:hasEvents": [
        {"@type": "ods:Event", "ods:hasLocation": {"@type": "ods:Location", term: part}}]}


# Examples of nested parts: (upstream schema, how to embed the part in a specimen).
PART_EXAMPLES: dict[str, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    "agent-example": ("shared-model/0.4.0/agent.json", lambda p: {"ods:hasAgents": [p]}),
    "assertion-example": ("shared-model/0.4.0/assertion.json",
                          lambda p: {"ods:hasAssertions": [p]}),
    "citation-example": ("shared-model/0.4.0/citation.json", lambda p: {"ods:hasCitations": [p]}),
    "entity-relationship-example": ("shared-model/0.4.0/entity-relationship.json",
                                    lambda p: {"ods:hasEntityRelationships": [p]}),
    "identifier-example": ("shared-model/0.4.0/identifier.json",
                           lambda p: {"ods:hasIdentifiers": [p]}),
    "identifier-orcid-example": ("shared-model/0.4.0/identifier.json",
                                 lambda p: {"ods:hasIdentifiers": [p]}),
    "tombstone-metadata-example": ("shared-model/0.4.0/tombstone-metadata.json",
                                   lambda p: {"ods:hasTombstoneMetadata": p}),
    "chronometric-age-example": ("digital-specimen/0.4.0/chronometric-age.json",
                                 lambda p: {"ods:hasChronometricAges": [p]}),
    "event-example": ("digital-specimen/0.4.0/event.json", lambda p: {"ods:hasEvents": [p]}),
    "identification": ("digital-specimen/0.4.0/identification.json",
                       lambda p: {"ods:hasIdentifications": [p]}),
    "specimen-part-example": ("digital-specimen/0.4.0/specimen-part.json",
                              lambda p: {"ods:hasSpecimenParts": [p]}),
    "location-example": ("digital-specimen/0.4.0/location.json",
                         lambda p: {"ods:hasEvents": [
                             {"@type": "ods:Event", "ods:hasLocation": p}]}),
    "georeference-example": ("digital-specimen/0.4.0/georeference.json",
                             in_event("ods:hasGeoreference")),
    "geological-context-example": ("digital-specimen/0.4.0/geological-context.json",
                                   in_event("ods:hasGeologicalContext")),
}


# The records of tests/data that openDS 0.4's own schemas accept (make test-upstream
# checks the list against those schemas).
UPSTREAM_VALID_DATA = [f"{SAMPLES}/bgbm-herbarium-ZZZ-X4T-YYV.json",
                       f"{SAMPLES}/nhmd-media-WVW-SCM-C9Z.json",
                       f"{EXAMPLES}/annotation/0.4.0/active-annotation-example.json",
                       f"{EXAMPLES}/digital-specimen/0.4.0/chronometric-age-example.json",
                       f"{EXAMPLES}/shared-model/0.4.0/agent-example.json",
                       f"{EXAMPLES}/shared-model/0.4.0/identifier-orcid-example.json"]
# Where records and examples of the kinds we store are (folder, pattern).
RECORD_FOLDERS = [(SAMPLES, "*.json"), (EXAMPLES, "*/0.4.0/*.json")]


class Candidate(NamedTuple):
    """A record or part example: how we validate it, and how openDS does."""
    kind: str
    document: Any
    upstream_schema: str
    upstream_document: Any


def candidate(path: Path) -> Candidate | None:
    document = json.loads(path.read_text(encoding="utf-8"))
    if path.stem in PART_EXAMPLES:
        schema_path, embed = PART_EXAMPLES[path.stem]
        return Candidate("digital-specimens", {**SPECIMEN, **embed(document)}, schema_path,
                         document)
    if isinstance(document, dict) and document.get("@type") in KIND_OF_TYPE:
        kind, group = KIND_OF_TYPE[document["@type"]]
        return Candidate(kind, document, f"{group}/0.4.0/{group}.json", document)
    return None


def upstream_valid_records() -> list[Any]:
    """(kind, document) params: what openDS accepts of the upstream samples and examples
    that tests/data does not hold."""
    found = []
    for folder, pattern in RECORD_FOLDERS:
        ours = material.data_files(folder, pattern)
        for param in material.upstream_files(folder, pattern, exclude=ours):
            path: Path = param.values[0]
            if not path.is_file():
                found.append(material.carrying(param, "digital-specimens", None))
            elif (found_one := candidate(path)) and upstream_accepts(
                    found_one.upstream_schema, found_one.upstream_document):
                found.append(material.carrying(param, found_one.kind, found_one.document))
    return found


def data_valid_records() -> list[Any]:
    found = []
    for name in UPSTREAM_VALID_DATA:
        record = candidate(material.DATA / name)
        assert record is not None, name
        found.append(pytest.param(record.kind, record.document, id=Path(name).name))
    return found


@pytest.mark.parametrize(("kind", "document"), data_valid_records() + upstream_valid_records())
def test_upstream_valid_record_is_valid(validator: Validator, kind: str, document: Any) -> None:
    assert validator.violations(kind, document) == []


@material.upstream
def test_the_records_of_tests_data_that_opends_accepts_are_the_listed_ones() -> None:
    accepted = []
    for folder, pattern in RECORD_FOLDERS:
        for path in material.data_files(folder, pattern):
            if (found := candidate(path)) and upstream_accepts(found.upstream_schema,
                                                               found.upstream_document):
                accepted.append(path.relative_to(material.DATA).as_posix())
    assert sorted(accepted) == sorted(UPSTREAM_VALID_DATA)


@material.upstream
def test_opends_accepts_every_valid_sample() -> None:
    for path in sorted(material.shared(SAMPLES).glob("*.json")):
        found = candidate(path)
        assert found and upstream_accepts(found.upstream_schema, found.document), path.name


# What openDS 0.4 itself rejects in the three real upstream-invalid records: nested
# objects without their @type, and identifications without ods:isVerifiedIdentification.
UPSTREAM_INVALID = {
    "nhmd-ornithology-W4K-QC6-5H5-dwcdp-test.json": [
        "/ods:hasEvents/0/ods:hasAgents/0/@type",
        "/ods:hasEvents/0/ods:hasAgents/2/@type",
        "/ods:hasIdentifications/1/ods:hasAgents/0/@type",
        "/ods:hasIdentifications/1/ods:isVerifiedIdentification"],
    "nhmd-ornithology-W4K-QC6-5H5-full.json": [
        "/ods:hasAssertions/0/@type",
        "/ods:hasChronometricAges/0/@type",
        "/ods:hasEvents/0/ods:hasAssertions/0/@type",
        "/ods:hasIdentifications/1/ods:isVerifiedIdentification"],
    "nhmd-ornithology-W4K-QC6-5H5-reduced.json": [
        "/ods:hasIdentifications/0/ods:isVerifiedIdentification",
        "/ods:hasIdentifications/1/ods:isVerifiedIdentification"],
}


@pytest.mark.parametrize("path", material.files(f"{SAMPLES}/upstream-invalid"))
def test_upstream_invalid_record_is_rejected_naming_the_term(
        validator: Validator, path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    violations = validator.violations("digital-specimens", document)
    assert paths(violations) == UPSTREAM_INVALID[path.name]
    for violation in violations:
        assert violation.path.rsplit("/", 1)[1] in violation.message


@pytest.mark.parametrize("path", material.upstream_files(f"{SAMPLES}/upstream-invalid"))
def test_opends_rejects_the_upstream_invalid_records(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert not upstream_accepts("digital-specimen/0.4.0/digital-specimen.json", document)


def test_every_reference_is_inlined_once_at_start_up() -> None:
    """The validators follow no `$ref` (resolving them was a third of a specimen's
    validation time); the violations are the ones the tests above expect."""
    def references(node: object) -> int:
        if isinstance(node, dict):
            return ("$ref" in node) + sum(references(value) for value in node.values())
        return sum(references(item) for item in node) if isinstance(node, list) else 0

    built = Validator()
    for kind in KINDS:
        assert references(built._validators[kind].schema) == 0, kind
