"""Quality checks on one Darwin Core row, each problem with a stable code.

Two weights:
- `REJECTING` problems stop the record (reported, nothing written): coordinates that are
  not numbers or out of range (every served map and DataCite's geoLocations would carry
  them), and a physical ID the dataset already used (which row is the specimen?).
- Warnings are reported and the record is still ingested as it is: a date that is not
  ISO 8601 and a `basisOfRecord` outside Darwin Core's vocabulary are facts about the
  source worth fixing there, not reasons to leave a specimen out.
Missing mandatory fields (a physical ID, an organisation) and schema violations are
checked by the ingest itself (repository/ingest/plans.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BASIS_OF_RECORD = ("PreservedSpecimen", "FossilSpecimen", "LivingSpecimen", "MaterialSample",
                   "MaterialEntity", "MaterialCitation", "HumanObservation",
                   "MachineObservation", "Occurrence", "Event", "Taxon")
_BASIS = {value.lower() for value in BASIS_OF_RECORD}
DATE_TERMS = ("dwc:eventDate", "dwc:dateIdentified")
# ISO 8601 as Darwin Core uses it: a year, month or day, optionally with a time, or an
# interval of two of those ("1998-07-04/1998-07-09", "1998/2001").
_POINT = (r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])"
          r"(T([01]\d|2[0-3])(:[0-5]\d(:[0-5]\d(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?")
_DATE = re.compile(rf"^{_POINT}(/({_POINT}|\d{{1,2}}(-\d{{1,2}})?))?$")
REJECTING = frozenset({"bad-coordinates", "coordinates-out-of-range", "duplicate-physical-id"})


@dataclass(frozen=True)
class Problem:
    code: str
    path: str  # the term, as a JSON Pointer into the source row: /dwc:eventDate
    message: str

    @property
    def rejects(self) -> bool:
        return self.code in REJECTING

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


def problems(terms: dict[str, str]) -> list[Problem]:
    found = []
    basis = terms.get("dwc:basisOfRecord")
    if basis and basis.lower() not in _BASIS:
        found.append(Problem("unknown-basis-of-record", "/dwc:basisOfRecord",
                             f"'{basis}' is not in Darwin Core's basisOfRecord vocabulary"))
    for term in DATE_TERMS:
        value = terms.get(term)
        if value and not _DATE.match(value):
            found.append(Problem("bad-date", f"/{term}",
                                 f"'{value}' is not an ISO 8601 date, date-time or interval"))
    for term, limit in (("dwc:decimalLatitude", 90.0), ("dwc:decimalLongitude", 180.0)):
        value = terms.get(term)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            found.append(Problem("bad-coordinates", f"/{term}", f"'{value}' is not a number"))
            continue
        if not -limit <= number <= limit:
            found.append(Problem("coordinates-out-of-range", f"/{term}",
                                 f"{number} is outside -{limit:g}..{limit:g}"))
    return found
