"""The ingest benchmark's archives (bench/dwca_generator.py), read by the real reader and
mapper: every record maps to a digital specimen our openDS validator accepts, with no
quality problem; every media row to valid digital media; the same seed gives the same
bytes; and the records are as varied as the generator says. No server needed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import dwca_generator
from repository.ingest import mapping, quality
from repository.ingest.dwca import Archive, Record
from repository.validation import Validator

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 300
SOURCE = mapping.Source("https://hdl.handle.net/20.5000.1025/ABC-DEF-GHJ", "Bench CMS")
SPECIMEN_URL = "https://fdo.test/20.500.14920/ABC-DEF-GHJ"
VALIDATOR = Validator()
DATE_FORMS = {  # eventDate forms, as the generator writes them
    "day": r"\d{4}-\d\d-\d\d", "month": r"\d{4}-\d\d", "year": r"\d{4}",
    "date-time": r"\d{4}-\d\d-\d\dT[\d:]+(Z|[+-]\d\d:\d\d)?",
    "interval": r"\d{4}(-\d\d(-\d\d)?)?/[\d-]+"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[Record]]:
    path = tmp_path_factory.mktemp("dwca") / "bench.zip"
    summary = dwca_generator.write_archive(path, RECORDS, seed=1)
    with Archive(path) as archive:
        assert archive.check() == RECORDS
        return summary, list(archive.records())


def media_rows(record: Record) -> list[dict[str, str]]:
    return record.extensions.get(dwca_generator.MULTIMEDIA, [])


def test_every_record_maps_to_a_valid_specimen_with_no_quality_problem(generated) -> None:
    summary, records = generated
    assert summary["records"] == len(records) == RECORDS
    assert summary["bytes"] > 0
    for record in records:
        assert quality.problems(record.terms) == [], record.row_id
        assert mapping.organisation(record.terms, SOURCE) == record.terms["dwc:institutionID"]
        content = mapping.specimen(record, SOURCE)
        assert VALIDATOR.violations("digital-specimens", content) == [], record.row_id
        assert content["ods:physicalSpecimenID"] == record.terms["dwc:occurrenceID"]
        assert mapping.open_licence(content["dcterms:license"])  # full specimens, no PID-only
    for term in ("dwc:occurrenceID", "dwc:catalogNumber"):
        assert len({record.terms[term] for record in records}) == RECORDS, term


def test_every_media_row_maps_to_valid_digital_media(generated) -> None:
    summary, records = generated
    rows = [row for record in records for row in media_rows(record)]
    assert len(rows) == summary["media_rows"]
    with_media = sum(1 for record in records if media_rows(record))
    assert 0.2 < with_media / RECORDS < 0.4
    assert {len(media_rows(record)) for record in records} == {0, 1, 2, 3}
    urls = set()
    for row in rows:
        content = mapping.media(row, SPECIMEN_URL, SOURCE, "https://ror.org/0566bfb96")
        assert content is not None
        assert VALIDATOR.violations("digital-media", content) == [], row
        assert (content["dcterms:type"], content["dcterms:format"]) == ("StillImage",
                                                                        "image/jpeg")
        assert content["ac:accessURI"].startswith("https://")
        urls.add(content["ac:accessURI"])
    assert len(urls) == len(rows)  # unique image URLs


def test_the_same_seed_gives_the_same_bytes_and_other_seeds_others(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.zip" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        dwca_generator.write_archive(path, 200, seed=seed)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_the_records_are_varied(generated) -> None:
    _, records = generated

    def values(term: str) -> Counter[str]:
        return Counter(record.terms[term] for record in records if term in record.terms)

    assert set(values("dwc:kingdom")) == {"Animalia", "Plantae", "Fungi"}
    assert {"Insecta", "Aves", "Mammalia", "Magnoliopsida", "Agaricomycetes"} <= set(
        values("dwc:class"))
    assert values("dwc:class")["Gastropoda"] + values("dwc:class")["Bivalvia"] > 0
    assert len(values("dwc:scientificName")) > 150
    forms = Counter(next(name for name, pattern in DATE_FORMS.items()
                         if re.fullmatch(pattern, date)) for date in values("dwc:eventDate"))
    assert set(forms) == set(DATE_FORMS), forms
    years = [int(date[:4]) for date in values("dwc:eventDate")]
    assert 1850 <= min(years) < 1900 and 2000 < max(years) <= 2025
    basis = values("dwc:basisOfRecord")
    assert set(basis) == {"PreservedSpecimen", "FossilSpecimen", "MaterialSample"}
    assert basis["PreservedSpecimen"] > 0.8 * RECORDS
    assert set(values("dcterms:license")) == {dwca_generator.CC0, dwca_generator.CC_BY}
    assert len(values("dwc:institutionID")) >= 3
    assert len(values("dwc:countryCode")) > 15
    assert 0 < sum(values("dwc:typeStatus").values()) < 0.1 * RECORDS
    assert any(" | " in name for name in values("dwc:recordedBy"))
    assert {"urn", "https"} == {value.split(":")[0] for value in values("dwc:occurrenceID")}
    digits = {len(value.partition(".")[2]) for value in values("dwc:decimalLatitude")}
    assert len(digits) >= 4  # varied precision
    assert 0 < sum(values("dwc:coordinateUncertaintyInMeters").values()) < RECORDS
    assert set(values("dwc:sex")) >= {"male", "female"} and values("dwc:lifeStage")


def test_the_command_line_writes_an_archive(tmp_path: Path) -> None:
    out = tmp_path / "cli.zip"
    printed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dwca_generator.py"), str(out), "--records",
         "50", "--seed", "2"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "50 records" in printed
    with Archive(out) as archive:
        assert archive.check() == 50
