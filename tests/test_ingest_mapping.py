"""Darwin Core rows to openDS digital specimens (repository/ingest/mapping.py): every row
of the real samples maps to a specimen our openDS validator accepts, and each rule of
the mapping table holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from repository.ingest import mapping
from repository.ingest.dwca import Archive, Record, records
from repository.validation import Validator
from tests.material import files

SAMPLES = files("samples/dwca", "*.zip")
SOURCE = mapping.Source("https://hdl.handle.net/20.5000.1025/ABC-DEF-GHJ", "Test source",
                        licence="https://creativecommons.org/publicdomain/zero/1.0/")
NATURALIS = "https://ror.org/0566bfb96"
VALIDATOR = Validator()


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_row_of_the_real_samples_maps_to_a_valid_specimen(sample: Path) -> None:
    with Archive(sample) as archive:
        rows = list(records(archive))
    for record in rows:
        source = SOURCE if mapping.organisation(record.terms, SOURCE) else mapping.Source(
            SOURCE.system_id, SOURCE.system_name, NATURALIS, SOURCE.licence)
        content = mapping.specimen(record, source)
        assert VALIDATOR.violations("digital-specimens", content) == [], record.row_id
        assert content["ods:physicalSpecimenID"] in record.terms.values()


def row(**terms: str) -> Record:
    return Record("r1", {f"dwc:{name}" if ":" not in name else name: value
                         for name, value in terms.items()})


def test_events_locations_georeferences_and_identifications_nest_as_opends_does() -> None:
    content = mapping.specimen(row(
        catalogNumber="RMNH.INS.1", basisOfRecord="PreservedSpecimen", eventDate="1998-07-04",
        habitat="dune", country="Netherlands", locality="Meijendel", decimalLatitude="52.13",
        decimalLongitude="4.36", geodeticDatum="WGS84", scientificName="Bombus terrestris",
        kingdom="Animalia", typeStatus="holotype", institutionID=NATURALIS,
        institutionCode="RMNH"), SOURCE)
    (event,) = content["ods:hasEvents"]
    assert (event["@type"], event["dwc:eventDate"], event["dwc:habitat"]) == (
        "ods:Event", "1998-07-04", "dune")
    location = event["ods:hasLocation"]
    assert (location["dwc:country"], location["dwc:locality"]) == ("Netherlands", "Meijendel")
    georeference = location["ods:hasGeoreference"]
    assert (georeference["dwc:decimalLatitude"], georeference["dwc:decimalLongitude"]) == (
        52.13, 4.36)
    (identification,) = content["ods:hasIdentifications"]
    assert identification["dwc:typeStatus"] == "holotype"
    assert identification["ods:isVerifiedIdentification"] is False
    (taxon,) = identification["ods:hasTaxonIdentifications"]
    assert (taxon["dwc:scientificName"], taxon["dwc:kingdom"]) == ("Bombus terrestris",
                                                                   "Animalia")
    assert content["ods:organisationID"] == NATURALIS
    assert content["ods:organisationCode"] == "RMNH"
    assert content["ods:specimenName"] == "Bombus terrestris"
    assert content["dcterms:license"] == SOURCE.licence  # the row has none
    assert VALIDATOR.violations("digital-specimens", content) == []


@pytest.mark.parametrize(("terms", "expected"), [
    ({"occurrenceID": "https://data.example.org/occ/1", "catalogNumber": "C1"},
     ("https://data.example.org/occ/1", "Resolvable")),
    ({"occurrenceID": "urn:catalog:RMNH:INS:1"}, ("urn:catalog:RMNH:INS:1", "Global")),
    ({"occurrenceID": "5f0d6c36-3a3c-4c1e-9a0e-2b7c1d5e8f10"},
     ("5f0d6c36-3a3c-4c1e-9a0e-2b7c1d5e8f10", "Global")),
    ({"catalogNumber": "RMNH.INS.1", "materialSampleID": "S1"}, ("RMNH.INS.1", "Local")),
    ({"materialSampleID": "S1", "materialEntityID": "E1"}, ("E1", "Local")),
    ({"recordNumber": "12"}, None),
])
def test_the_physical_id_is_the_first_id_the_row_has(terms: dict, expected: tuple | None) -> None:
    assert mapping.physical_id(row(**terms).terms) == expected


def test_a_row_without_a_physical_id_cannot_be_mapped() -> None:
    with pytest.raises(ValueError, match="no physical specimen ID"):
        mapping.specimen(row(recordNumber="12"), SOURCE)


def test_the_organisation_comes_from_the_ingest_or_a_ror_institution_id() -> None:
    given = mapping.Source(SOURCE.system_id, SOURCE.system_name, "https://ror.org/040ck2b86")
    assert mapping.organisation(row(institutionID=NATURALIS).terms, given) == (
        "https://ror.org/040ck2b86")
    assert mapping.organisation(row(institutionID=NATURALIS).terms, SOURCE) == NATURALIS
    assert mapping.organisation(row(institutionID="Naturalis").terms, SOURCE) is None


def test_terms_opends_has_no_place_for_are_reported() -> None:
    terms = row(catalogNumber="C1", institutionID=NATURALIS, recordedBy="A. Collector",
                associatedMedia="https://img.example.org/1.jpg", country="NL",
                formation="Maastricht Formation").terms
    assert mapping.unmapped(terms) == {"dwc:formation"}


def test_collectors_and_identifiers_become_agents_with_their_ids_by_position() -> None:
    content = mapping.specimen(row(
        catalogNumber="C1", eventDate="1998-07-04", scientificName="Parus major",
        recordedBy="A. Collector | B. Second & C. Third",
        recordedByID="https://orcid.org/0000-0002-1825-0097|local-7",
        identifiedBy="D. Expert", institutionID=NATURALIS), SOURCE)
    (event,) = content["ods:hasEvents"]
    assert [(agent["schema:name"], agent.get("@id"), agent.get("schema:identifier"),
             agent["ods:hasRoles"][0]["schema:roleName"],
             agent["ods:hasRoles"][0]["schema:position"]) for agent in event["ods:hasAgents"]
            ] == [("A. Collector", "https://orcid.org/0000-0002-1825-0097",
                   "https://orcid.org/0000-0002-1825-0097", "collector", 1),
                  ("B. Second", None, "local-7", "collector", 2),
                  ("C. Third", None, None, "collector", 3)]
    (identification,) = content["ods:hasIdentifications"]
    assert [(agent["schema:name"], agent["ods:hasRoles"][0]["schema:roleName"])
            for agent in identification["ods:hasAgents"]] == [("D. Expert", "identifier")]
    assert VALIDATOR.violations("digital-specimens", content) == []


def test_associated_media_urls_are_media_rows_unless_an_extension_row_has_them() -> None:
    record = row(catalogNumber="C1", associatedMedia=(
        "https://img.example.org/1.jpg | https://img.example.org/2.jpg"))
    record.extensions[mapping.MEDIA_ROW_TYPES[1]] = [
        {"dcterms:identifier": "https://img.example.org/1.jpg", "dcterms:type": "StillImage"}]
    assert mapping.media_rows(record) == [
        {"dcterms:identifier": "https://img.example.org/1.jpg", "dcterms:type": "StillImage"},
        {"ac:accessURI": "https://img.example.org/2.jpg"}]
    media = mapping.media({"ac:accessURI": "https://img.example.org/2.jpg"},
                          "https://doi.org/10.3535/AAA-BBB-CCC", SOURCE, NATURALIS)
    assert VALIDATOR.violations("digital-media", media) == []


def test_identification_and_measurement_extension_rows_become_identifications_and_assertions(
        ) -> None:
    record = row(catalogNumber="C1", scientificName="Parus major", institutionID=NATURALIS,
                 measurementType="wing length", measurementValue="74", measurementUnit="mm")
    record.extensions[mapping.IDENTIFICATION_ROW_TYPES[0]] = [
        {"dwc:scientificName": "Parus caeruleus", "dwc:dateIdentified": "1901-05-02",
         "dwc:identifiedBy": "E. Older", "dwc:identificationRemarks": "superseded"}]
    record.extensions[mapping.ASSERTION_ROW_TYPES[0]] = [
        {"dwc:measurementType": "body mass", "dwc:measurementValue": "18.5",
         "dwc:measurementUnit": "g", "dwc:measurementDeterminedDate": "1998-07-04"},
        {"dwc:measurementID": "m3"}, {"dwc:occurrenceID": "x"}]  # the last: no assertion
    content = mapping.specimen(record, SOURCE)
    assert [[taxon["dwc:scientificName"] for taxon in item["ods:hasTaxonIdentifications"]]
            for item in content["ods:hasIdentifications"]] == [["Parus major"],
                                                               ["Parus caeruleus"]]
    older = content["ods:hasIdentifications"][1]
    assert (older["dwc:dateIdentified"], older["ods:hasAgents"][0]["schema:name"]) == (
        "1901-05-02", "E. Older")
    assert [(item.get("dwc:measurementType"), item.get("dwc:measurementValue"),
             item.get("dwc:measurementUnit")) for item in content["ods:hasAssertions"][:2]] == [
        ("wing length", "74", "mm"), ("body mass", "18.5", "g")]
    assert content["ods:hasAssertions"][2] == {"@type": "ods:Assertion",
                                               "dwc:measurementID": "m3"}
    assert len(content["ods:hasAssertions"]) == 3
    assert VALIDATOR.violations("digital-specimens", content) == []
    assert mapping.unmapped(record.terms) == set()
