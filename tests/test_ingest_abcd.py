"""ABCD 2.06 documents (repository/ingest/abcd.py): the real BioCASe responses in
tests/data/samples/abcd/ (and, marked upstream, the shared folder's) map to valid
specimens and ingest, and re-ingest unchanged, over real S3 and a real index; generated
documents check the correspondence, media and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repository import cli
from repository.ingest import mapping
from repository.ingest.abcd import AbcdDocuments
from repository.ingest.dwca import ArchiveError
from repository.ingest.report import CREATED, PID_ONLY, UNCHANGED
from repository.validation import Validator
from tests.material import files
from tests.source_systems import source_system
from tests.test_ingest import run

SAMPLES = files("samples/abcd", "*.xml")
NATURALIS = "https://ror.org/0566bfb96"
UNIT = """<abcd:Unit><abcd:SourceInstitutionID>RMNH</abcd:SourceInstitutionID>
  <abcd:SourceID>Aves</abcd:SourceID><abcd:UnitID>{unit_id}</abcd:UnitID>
  <abcd:RecordBasis>PreservedSpecimen</abcd:RecordBasis>
  <abcd:Identifications>
    <abcd:Identification><abcd:Result><abcd:TaxonIdentified><abcd:ScientificName>
      <abcd:FullScientificNameString>Parus sp.</abcd:FullScientificNameString>
    </abcd:ScientificName></abcd:TaxonIdentified></abcd:Result></abcd:Identification>
    <abcd:Identification><abcd:Result><abcd:TaxonIdentified>
      <abcd:HigherTaxa><abcd:HigherTaxon><abcd:HigherTaxonName>Paridae</abcd:HigherTaxonName>
      <abcd:HigherTaxonRank>familia</abcd:HigherTaxonRank></abcd:HigherTaxon></abcd:HigherTaxa>
      <abcd:ScientificName>
        <abcd:FullScientificNameString>Parus major L.</abcd:FullScientificNameString>
      </abcd:ScientificName></abcd:TaxonIdentified></abcd:Result>
      <abcd:Identifiers><abcd:Identifier><abcd:PersonName><abcd:FullName>D. Expert
      </abcd:FullName></abcd:PersonName></abcd:Identifier></abcd:Identifiers>
      <abcd:PreferredFlag>true</abcd:PreferredFlag></abcd:Identification>
  </abcd:Identifications>
  <abcd:Gathering><abcd:DateTime><abcd:ISODateTimeBegin>1998-07-04</abcd:ISODateTimeBegin>
    </abcd:DateTime><abcd:Agents>
      <abcd:GatheringAgent><abcd:AgentText>Meyer, Lutz</abcd:AgentText></abcd:GatheringAgent>
      <abcd:GatheringAgent><abcd:Person><abcd:FullName>Ursula Toom</abcd:FullName>
      </abcd:Person></abcd:GatheringAgent></abcd:Agents>
    <abcd:LocalityText>Meijendel</abcd:LocalityText>
    <abcd:Country><abcd:Name>Netherlands</abcd:Name></abcd:Country>
    <abcd:SiteCoordinateSets><abcd:SiteCoordinates><abcd:CoordinatesLatLong>
      <abcd:LongitudeDecimal>4.36</abcd:LongitudeDecimal>
      <abcd:LatitudeDecimal>52.13</abcd:LatitudeDecimal>
    </abcd:CoordinatesLatLong></abcd:SiteCoordinates></abcd:SiteCoordinateSets></abcd:Gathering>
  <abcd:MultiMediaObjects><abcd:MultiMediaObject>
    <abcd:FileURI>https://img.example.org/{unit_id}.jpg</abcd:FileURI>
    <abcd:Format>image/jpeg</abcd:Format></abcd:MultiMediaObject></abcd:MultiMediaObjects>
</abcd:Unit>"""


def document(path: Path, *unit_ids: str, licence: str = "CC BY 4.0") -> Path:
    units = "".join(UNIT.format(unit_id=unit_id) for unit_id in unit_ids)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><biocase:response '
        'xmlns:biocase="http://www.biocase.org/schemas/protocol/1.3" '
        'xmlns:abcd="http://www.tdwg.org/schemas/abcd/2.06"><biocase:content>'
        "<abcd:DataSets><abcd:DataSet><abcd:Metadata><abcd:IPRStatements><abcd:Licenses>"
        f"<abcd:License><abcd:Text>{licence}</abcd:Text></abcd:License></abcd:Licenses>"
        "</abcd:IPRStatements></abcd:Metadata>"
        f"<abcd:Units>{units}</abcd:Units></abcd:DataSet></abcd:DataSets>"
        "</biocase:content></biocase:response>", encoding="utf-8")
    return path


def source(service) -> mapping.Source:
    return source_system(service, "Test BioCASe", licence=None).ingest_source(None)


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_unit_of_the_real_samples_maps_to_a_valid_specimen(sample: Path) -> None:
    documents = AbcdDocuments([sample])
    assert documents.check() >= 1
    for record in documents.records():
        content = mapping.specimen(record, mapping.Source(
            "http://fdo.test/20.500.14920/ABC-DEF-GHJ", "Test BioCASe", NATURALIS))
        assert Validator().violations("digital-specimens", content) == [], record.row_id


def test_units_read_as_darwin_core_terms(tmp_path: Path) -> None:
    (first, second) = AbcdDocuments([document(tmp_path / "a.xml", "RMNH.AVES.1",
                                              "RMNH.AVES.2")]).records()
    assert first.terms == {
        "dwc:catalogNumber": "RMNH.AVES.1", "dwc:institutionCode": "RMNH",
        "dwc:collectionCode": "Aves", "dwc:basisOfRecord": "PreservedSpecimen",
        "dwc:eventDate": "1998-07-04", "dwc:locality": "Meijendel",
        "dwc:country": "Netherlands", "dwc:decimalLatitude": "52.13",
        "dwc:decimalLongitude": "4.36",
        "dwc:scientificName": "Parus major L.",  # the preferred identification
        "dwc:family": "Paridae", "dcterms:license": "CC BY 4.0",
        "dwc:recordedBy": "Meyer, Lutz | Ursula Toom", "dwc:identifiedBy": "D. Expert"}
    assert [row["ac:accessURI"] for rows in second.extensions.values() for row in rows] == [
        "https://img.example.org/RMNH.AVES.2.jpg"]


@pytest.mark.s3
def test_abcd_ingests_with_media_and_re_ingests_unchanged(service, tmp_path: Path) -> None:
    path = document(tmp_path / "a.xml", "RMNH.AVES.1", "RMNH.AVES.2")
    first, rejected = run(service, AbcdDocuments([path]), source(service))
    assert rejected == [] and first.counts == {CREATED: 2} and first.media == {CREATED: 2}
    again, _ = run(service, AbcdDocuments([path]), source(service))
    assert again.counts == {UNCHANGED: 2} and again.media == {UNCHANGED: 2}
    closed = document(tmp_path / "b.xml", "RMNH.AVES.3", licence="CC BY-NC-ND 4.0")
    report, _ = run(service, AbcdDocuments([closed]), source(service))
    assert report.counts[PID_ONLY] == 1


@pytest.mark.s3
@pytest.mark.parametrize("sample", SAMPLES)
def test_the_real_samples_ingest_and_re_ingest_unchanged(service, sample: Path) -> None:
    first, listed = run(service, AbcdDocuments([sample]), source(service))
    assert {outcome.status for outcome in listed} <= {PID_ONLY}  # nothing rejected
    assert sum(first.counts.values()) == AbcdDocuments([sample]).check()
    assert len(listed) == first.counts[PID_ONLY]  # the report names every PID-only one
    again, _ = run(service, AbcdDocuments([sample]), source(service))
    assert set(again.counts) <= {UNCHANGED, PID_ONLY} and again.counts.total() == (
        first.counts.total())


@pytest.mark.parametrize(("text", "message"), [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "declares a DTD"),
    ('<?xml version="1.0"?><!--' + " " * 8192 + '--><!DOCTYPE x [<!ENTITY a "aaaa">]>'
     "<abcd:DataSets xmlns:abcd='http://www.tdwg.org/schemas/abcd/2.06'><abcd:DataSet/>"
     "</abcd:DataSets>", "declares a DTD"),  # past the first 4 KiB
    ("<abcd:DataSets xmlns:abcd='http://www.tdwg.org/schemas/abcd/2.06'>", "not well-formed"),
    ("<response><unit/></response>", "holds no ABCD 2.06 DataSet"),
])
def test_bad_documents_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(ArchiveError, match=message):
        AbcdDocuments([path]).check()


@pytest.mark.s3
def test_the_cli_ingests_abcd(service, config, tmp_path, monkeypatch, capsys) -> None:
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    path = document(tmp_path / "a.xml", "RMNH.AVES.1")
    system = source_system(service, "Test BioCASe", licence=None).pid
    assert cli.main(["ingest", "abcd", str(path), "--source-system", system]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][CREATED] == 1
    assert cli.main(["ingest", "abcd", str(tmp_path / "none.xml"),
                     "--source-system", system]) == 2
