"""The quality checks on Darwin Core rows (repository/ingest/quality.py): each problem
with its stable code and term, and which ones stop a record."""

from __future__ import annotations

import pytest

from repository.ingest.quality import problems


def codes(**terms: str) -> list[tuple[str, str, bool]]:
    return [(problem.code, problem.path, problem.rejects)
            for problem in problems({f"dwc:{name}": value for name, value in terms.items()})]


@pytest.mark.parametrize("date", ["1998", "1998-07", "1998-07-04", "1998-07-04T10:30",
                                  "1998-07-04T10:30:15Z", "1998-07-04T10:30:15.5+02:00",
                                  "1998-07-04/1998-07-09", "1998/2001", "1998-07-04/09"])
def test_iso_8601_dates_and_intervals_pass(date: str) -> None:
    assert codes(eventDate=date, dateIdentified=date) == []


@pytest.mark.parametrize("date", ["04-07-1998", "1998/07/04", "1998-13-01", "1998-02-32",
                                  "July 1998", "1998-07-04 10:30", "unknown"])
def test_other_dates_are_warnings(date: str) -> None:
    assert codes(eventDate=date) == [("bad-date", "/dwc:eventDate", False)]


def test_basis_of_record_follows_the_vocabulary_whatever_its_case() -> None:
    assert codes(basisOfRecord="PreservedSpecimen") == []
    assert codes(basisOfRecord="preservedspecimen") == []
    assert codes(basisOfRecord="Herbarium sheet") == [
        ("unknown-basis-of-record", "/dwc:basisOfRecord", False)]


@pytest.mark.parametrize(("latitude", "longitude", "expected"), [
    ("52.1", "4.3", []),
    ("-90", "180", []),
    ("90.01", "4.3", [("coordinates-out-of-range", "/dwc:decimalLatitude", True)]),
    ("52.1", "-180.5", [("coordinates-out-of-range", "/dwc:decimalLongitude", True)]),
    ("52°N", "4.3", [("bad-coordinates", "/dwc:decimalLatitude", True)]),
])
def test_coordinates_must_be_numbers_in_range(latitude: str, longitude: str,
                                              expected: list) -> None:
    assert codes(decimalLatitude=latitude, decimalLongitude=longitude) == expected
