"""ABCD 2.06 documents (BioCASe protocol responses with one or many units), streamed.

Each `abcd:Unit` becomes a `Record` of Darwin Core terms, the same shape a Darwin Core
Archive row has, so one mapping and one ingest serve both (repository/ingest/mapping.py,
run.py). The correspondence follows DiSSCo's SSSOM file for ABCD-EFG (`shared/opends/
schemas/data-mapping/0.4.0/sssom_abcdefg.tsv`) in its order: `UnitGUID` before `UnitID`
for the physical ID (here `dwc:occurrenceID` before `dwc:catalogNumber`, which the
mapping tries in that order), the preferred identification (else the first), the
dataset's licence (`Metadata/IPRStatements/Licenses/License`) for every unit, each
`MultiMediaObject` with a `FileURI` as a media row, the gathering agents (a person's
`FullName`, else `AgentText`) as `dwc:recordedBy` and the preferred identification's
identifiers as `dwc:identifiedBy`, joined with ` | `.

Documents are read with lxml's `iterparse` and every unit is cleared once read, so
memory does not grow with the number of units. Entities are never expanded and a
document that declares a DTD is refused (`ArchiveError`), as are documents that are not
well-formed XML or hold no ABCD 2.06 dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from repository.ingest.dwca import ArchiveError, Record
from repository.ingest.mapping import MEDIA_ROW_TYPES

ABCD = "http://www.tdwg.org/schemas/abcd/2.06"
_A = f"{{{ABCD}}}"
# Path below abcd:Unit (abcd: prefixes left out) -> Darwin Core term.
UNIT_TERMS = (
    ("UnitGUID", "dwc:occurrenceID"),
    ("UnitID", "dwc:catalogNumber"),
    ("SourceInstitutionID", "dwc:institutionCode"),
    ("SourceID", "dwc:collectionCode"),
    ("RecordBasis", "dwc:basisOfRecord"),
    ("SpecimenUnit/NomenclaturalTypeDesignations/NomenclaturalTypeDesignation/TypeStatus",
     "dwc:typeStatus"),
    ("Gathering/DateTime/ISODateTimeBegin", "dwc:eventDate"),
    ("Gathering/DateTime/DateText", "dwc:verbatimEventDate"),
    ("Gathering/LocalityText", "dwc:locality"),
    ("Gathering/Country/Name", "dwc:country"),
    ("Gathering/Country/ISO3166Code", "dwc:countryCode"),
    ("Gathering/Altitude/MeasurementOrFactText", "dwc:verbatimElevation"),
    ("Gathering/SiteCoordinateSets/SiteCoordinates/CoordinatesLatLong/LatitudeDecimal",
     "dwc:decimalLatitude"),
    ("Gathering/SiteCoordinateSets/SiteCoordinates/CoordinatesLatLong/LongitudeDecimal",
     "dwc:decimalLongitude"),
    ("Gathering/SiteCoordinateSets/SiteCoordinates/CoordinatesLatLong/SpatialDatum",
     "dwc:geodeticDatum"),
)
# Below the chosen abcd:Identification.
IDENTIFICATION_TERMS = (
    ("Result/TaxonIdentified/ScientificName/FullScientificNameString", "dwc:scientificName"),
    ("Date/ISODateTimeBegin", "dwc:dateIdentified"),
)
HIGHER_RANKS = {"regnum": "dwc:kingdom", "phylum": "dwc:phylum", "classis": "dwc:class",
                "ordo": "dwc:order", "familia": "dwc:family", "genus": "dwc:genus"}
MEDIA_TERMS = (("FileURI", "ac:accessURI"), ("Format", "dcterms:format"),
               ("Context", "dcterms:description"), ("Creator", "xmpRights:Owner"),
               ("IPR/Licenses/License/Text", "dcterms:license"))
# Below the dataset's abcd:Metadata: its licence, URI first.
_LICENCE = (f"{_A}IPRStatements/{_A}Licenses/{_A}License/{_A}URI",
            f"{_A}IPRStatements/{_A}Licenses/{_A}License/{_A}Text")


class AbcdDocuments:
    """One or many ABCD documents read as one dataset."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        for path in paths:
            with path.open("rb") as stream:
                head = stream.read(4096)
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise ArchiveError(f"{path.name} declares a DTD, which ABCD documents do not "
                                   "use (refused: entity expansion is never done)")

    def check(self) -> int:
        """Read every document through (well-formed, ABCD): the number of units."""
        return sum(1 for _ in self.records())

    def records(self) -> Iterator[Record]:
        for path in self.paths:
            yield from self._units(path)

    def _units(self, path: Path) -> Iterator[Record]:
        licence: str | None = None
        datasets = 0
        # Opened here, not by lxml: a refusal mid-document closes the file with it.
        with path.open("rb") as stream:
            events = etree.iterparse(stream, events=("start", "end"), resolve_entities=False,
                                     no_network=True, load_dtd=False, huge_tree=False)
            try:
                for event, element in events:
                    if event == "start":
                        if element.getparent() is None:  # the root: its doctype is parsed
                            _refuse_doctype(path, element)
                        if element.tag == f"{_A}DataSet":
                            datasets, licence = datasets + 1, None
                        continue
                    parent = element.getparent()
                    if element.tag == f"{_A}Metadata" and parent is not None \
                            and parent.tag == f"{_A}DataSet":
                        licence = next((text for where in _LICENCE
                                        if (text := _text(element, where))), None)
                    elif element.tag == f"{_A}Unit":
                        yield _record(element, licence)
                        element.clear()
                        while element.getprevious() is not None:
                            del element.getparent()[0]
            except etree.XMLSyntaxError as error:
                raise ArchiveError(f"{path.name} is not well-formed XML: {error}") from error
        if datasets == 0:
            raise ArchiveError(f"{path.name} holds no ABCD 2.06 DataSet ({ABCD})")


def _refuse_doctype(path: Path, root: Any) -> None:
    """What the cheap look at a document's first 4 KiB misses: a DTD after a long
    comment. Refused on the parsed document, as dwca.py does for meta.xml."""
    if root.getroottree().docinfo.doctype:
        raise ArchiveError(f"{path.name} declares a DTD, which ABCD documents do not use "
                           "(refused: entity expansion is never done)")


def _record(unit: Any, licence: str | None) -> Record:
    terms = {term: value for path, term in UNIT_TERMS
             if (value := _text(unit, _qualified(path)))}
    identifications = unit.findall(f"{_A}Identifications/{_A}Identification")
    preferred = next((item for item in identifications
                      if (_text(item, f"{_A}PreferredFlag") or "").lower() in ("true", "1")),
                     identifications[0] if identifications else None)
    if preferred is not None:
        terms |= {term: value for path, term in IDENTIFICATION_TERMS
                  if (value := _text(preferred, _qualified(path)))}
        for higher in preferred.findall(
                f"{_A}Result/{_A}TaxonIdentified/{_A}HigherTaxa/{_A}HigherTaxon"):
            rank = (_text(higher, f"{_A}HigherTaxonRank") or "").lower()
            name = _text(higher, f"{_A}HigherTaxonName")
            if rank in HIGHER_RANKS and name:
                terms.setdefault(HIGHER_RANKS[rank], name)
    collectors = [name for agent in unit.findall(
                      f"{_A}Gathering/{_A}Agents/{_A}GatheringAgent")
                  if (name := _text(agent, f"{_A}Person/{_A}FullName")
                      or _text(agent, f"{_A}AgentText"))]
    collectors = collectors or [name for name in [_text(
        unit, f"{_A}Gathering/{_A}Agents/{_A}GatheringAgentsText")] if name]
    if collectors:
        terms["dwc:recordedBy"] = " | ".join(collectors)
    if preferred is not None:
        identifiers = [name for identifier in preferred.findall(
                           f"{_A}Identifiers/{_A}Identifier")
                       if (name := _text(identifier, f"{_A}PersonName/{_A}FullName"))]
        identifiers = identifiers or [name for name in [_text(
            preferred, f"{_A}Identifiers/{_A}IdentifiersText")] if name]
        if identifiers:
            terms["dwc:identifiedBy"] = " | ".join(identifiers)
    if licence:
        terms.setdefault("dcterms:license", licence)
    media = [row for item in unit.findall(f"{_A}MultiMediaObjects/{_A}MultiMediaObject")
             if (row := {term: value for path, term in MEDIA_TERMS
                         if (value := _text(item, _qualified(path)))})]
    line = unit.sourceline or 0
    record = Record(terms.get("dwc:occurrenceID") or terms.get("dwc:catalogNumber") or "",
                    terms, line=line)
    if media:
        record.extensions[MEDIA_ROW_TYPES[0]] = media
    return record


def _qualified(path: str) -> str:
    return "/".join(f"{_A}{step}" for step in path.split("/"))


def _text(element: Any, path: str) -> str | None:
    found = element.findtext(path)
    return found.strip() if found and found.strip() else None
