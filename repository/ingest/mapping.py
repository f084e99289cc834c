"""Darwin Core rows to openDS digital specimens: our mapping table.

The reference is DiSSCo's SSSOM mapping (`shared/opends/schemas/data-mapping/0.4.0/
sssom_dwca.tsv`). openDS keeps Darwin Core's term names, so the table says only where
each term goes: on the specimen itself, or in its event, location, georeference,
identification or taxon identification. Which terms each of those classes holds is read
from our openDS schema (`schemas/`), so the mapping and the validator cannot disagree.

Rules, and where we depart from the SSSOM file:
- `ods:physicalSpecimenID` is the first of `dwc:occurrenceID`, `dwc:catalogNumber`,
  `dwc:materialEntityID`, `dwc:materialSampleID` that the row has (the SSSOM order, with
  the exact match `materialEntityID` before the narrow `materialSampleID`); an http(s)
  ID is `Resolvable`, a `urn:` or UUID is `Global`, anything else `Local`.
- Every identifier the row has (`occurrenceID`, `catalogNumber`, `materialEntityID`,
  `materialSampleID`, `otherCatalogNumbers`) is also kept in `ods:hasIdentifiers`, titled
  with its term, as the SSSOM file's `ods:Identifier` rows do.
- `ods:organisationID` is the ingest's `--organisation`, else `dwc:institutionID` when
  it is a ROR or Wikidata URL (the SSSOM maps it the same way).
- `dcterms:license` is the row's `dcterms:license`, else the ingest's `--license`.
- The SSSOM file spells some terms with a capital (`dwc:GeoreferenceVerificationStatus`,
  `dwc:GeoreferencedDate`): Darwin Core and openDS do not, and neither do we.
- `dwc:institutionCode` and `dwc:ownerInstitutionCode` become `ods:organisationCode`
  and `ods:ownerOrganisationCode`, as in the SSSOM file.
- Licences: records under CC0, CC BY (any version) or in the public domain (the Public
  Domain Mark, or the words) are full digital specimens; records under any other licence,
  or none, get a PID record only (`pid_record`): the identifying kernel (physical ID and
  its type, organisation, source system, licence, basis of record), no content and no
  media, as enrolment rules in the field require.
- Media come from the Audubon Core and GBIF Simple Multimedia extensions: one digital
  media object per row with an access URI (`ac:accessURI`, else `dcterms:identifier`),
  its type (DCMI type, prefix or not), format, title, description, rights
  (`dcterms:license` or `dcterms:rights` become `dcterms:rights`, openDS media have no
  `dcterms:license`), owner and the rest of `MEDIA_TERMS`. Specimen and media point at
  each other with entity relationships (`hasDigitalMedia`, `hasDigitalSpecimen`).
- `dwc:associatedMedia` (URLs separated by `|`, as the SSSOM file splits it) are media
  rows too, with only an access URI; one that a media extension row also has is that
  row.
- Agents: `dwc:recordedBy` becomes the event's `ods:hasAgents` (role `collector`) and
  `dwc:identifiedBy` the identification's (role `identifier`), one `schema:Person` per
  name, the names split on `|` or `&` as the SSSOM file says; `dwc:recordedByID` and
  `dwc:identifiedByID`, split the same way, give each agent its `schema:identifier` (and
  `@id` when it is a URL, such as an ORCID) by position.
- Terms openDS has no place for are left out, and reported as such per dataset (not per
  row: a dataset has the same columns in every row). Not mapped: geological context and
  extensions other than media, Identification and MeasurementOrFact.
- Identification extension rows are more identifications, after the core row's own;
  MeasurementOrFact (and the OBIS extended) rows are `ods:hasAssertions`, as are a core
  row's own measurement terms.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from repository.ingest.dwca import Record
from repository.provenance import Agent
from resolver.renderers.crosswalk import Licence, licence_of
from schemas import MEDIA, SPECIMEN

PHYSICAL_ID_TERMS = ("dwc:occurrenceID", "dwc:catalogNumber", "dwc:materialEntityID",
                     "dwc:materialSampleID")
IDENTIFIER_TERMS = (*PHYSICAL_ID_TERMS, "dwc:otherCatalogNumbers")
ORGANISATION = re.compile(r"^https?://(ror\.org/0\w{6}\d{2}|www\.wikidata\.org/wiki/Q\w+)$")
_CLASSES = ("taxonIdentification", "identification", "georeference", "location", "event",
            "assertion")
# Extensions whose rows are more of the specimen's identifications or assertions.
IDENTIFICATION_ROW_TYPES = ("http://rs.tdwg.org/dwc/terms/Identification",)
ASSERTION_ROW_TYPES = ("http://rs.tdwg.org/dwc/terms/MeasurementOrFact",
                       "http://rs.iobis.org/obis/terms/ExtendedMeasurementOrFact")
RENAMED = {"dwc:institutionCode": "ods:organisationCode",
           "dwc:ownerInstitutionCode": "ods:ownerOrganisationCode"}


@dataclass(frozen=True)
class Source:
    """What an ingest run knows about where its records come from."""

    system_id: str  # the source system's PID URL (openDS `ods:sourceSystemID`)
    system_name: str
    organisation_id: str | None = None
    licence: str | None = None
    # The person the run acts for (an ingest job's submitter): provenance names them as
    # the one the source system acted on behalf of.
    started_by: Agent | None = None


@cache
def _terms() -> dict[str, frozenset[str]]:
    """The Darwin Core terms each openDS class holds, from our schema."""
    specimen = json.loads((files("schemas") / SPECIMEN.schema_file).read_text())
    shared = json.loads((files("schemas") / "shared-v1.0.0.json").read_text())
    definitions = {**shared["$defs"], **specimen["$defs"]}
    found = {name: frozenset(key for key in definitions[name]["properties"]
                             if key.startswith("dwc:"))
             for name in _CLASSES}
    found["specimen"] = frozenset(key for key in specimen["properties"]
                                  if key.startswith(("dwc:", "dcterms:")))
    return found


def physical_id(terms: dict[str, str]) -> tuple[str, str] | None:
    """(ID, openDS ID type) of the row, or None if it has none."""
    for term in PHYSICAL_ID_TERMS:
        value = terms.get(term)
        if value:
            return value, _id_type(value)
    return None


def _id_type(value: str) -> str:
    if value.startswith(("http://", "https://")):
        return "Resolvable"
    if value.lower().startswith("urn:"):
        return "Global"
    try:
        uuid.UUID(value)
        return "Global"
    except ValueError:
        return "Local"


def organisation(terms: dict[str, str], source: Source) -> str | None:
    if source.organisation_id:
        return source.organisation_id
    institution = terms.get("dwc:institutionID", "")
    return institution if ORGANISATION.match(institution) else None


def unmapped(terms: dict[str, str]) -> set[str]:
    """The row's terms that openDS has no place for."""
    placed = _placed()
    return {term for term in terms if term not in placed}


@cache
def _placed() -> frozenset[str]:
    """Every source term the mapping puts somewhere."""
    return frozenset().union(*_terms().values(), RENAMED, IDENTIFIER_TERMS, AGENT_TERMS,
                             {id_term for id_term, _ in AGENT_TERMS.values()},
                             {"dwc:institutionID", "dwc:associatedMedia"})


# The name term of each agent a row can have: (its ID term, the agent's role).
AGENT_TERMS = {"dwc:recordedBy": ("dwc:recordedByID", "collector"),
               "dwc:identifiedBy": ("dwc:identifiedByID", "identifier")}
_AGENT_SEPARATOR = re.compile(r"\s*[|&]\s*")


def agents(terms: dict[str, str], name_term: str) -> list[dict[str, Any]]:
    """The openDS agents a row names in one term (`dwc:recordedBy`, ...), in order."""
    id_term, role = AGENT_TERMS[name_term]
    names = [name for name in _AGENT_SEPARATOR.split(terms.get(name_term, "")) if name]
    ids = [value for value in _AGENT_SEPARATOR.split(terms.get(id_term, "")) if value]
    found = []
    for position, name in enumerate(names, start=1):
        agent: dict[str, Any] = {"@type": "schema:Person", "schema:name": name}
        if position <= len(ids):
            agent["schema:identifier"] = ids[position - 1]
            if ids[position - 1].startswith(("http://", "https://")):
                agent["@id"] = ids[position - 1]
        agent["ods:hasRoles"] = [{"@type": "schema:Role", "schema:roleName": role,
                                  "schema:position": position}]
        found.append(agent)
    return found


def specimen(record: Record, source: Source) -> dict[str, Any]:
    """The openDS digital specimen of one core row (without server-owned fields). The
    caller checks the physical ID and organisation first (`physical_id`, `organisation`)."""
    terms = record.terms
    found = physical_id(terms)
    if found is None:
        raise ValueError("the row has no physical specimen ID")
    classes = _terms()
    content: dict[str, Any] = {
        "ods:physicalSpecimenID": found[0],
        "ods:physicalSpecimenIDType": found[1],
        "ods:organisationID": organisation(terms, source),
        "ods:sourceSystemID": source.system_id,
        "ods:sourceSystemName": source.system_name,
    }
    content |= {term: value for term, value in terms.items() if term in classes["specimen"]}
    content |= {RENAMED[term]: value for term, value in terms.items() if term in RENAMED}
    identifiers = [{"@type": "ods:Identifier", "dcterms:title": term,
                    "dcterms:identifier": terms[term]} for term in IDENTIFIER_TERMS
                   if terms.get(term)]
    if identifiers:
        content["ods:hasIdentifiers"] = identifiers
    licence = terms.get("dcterms:license") or source.licence
    if licence:
        content["dcterms:license"] = licence
    if terms.get("dwc:scientificName"):
        content["ods:specimenName"] = terms["dwc:scientificName"]
    identifications = [held for rows in ([terms], *(
        record.extensions.get(row_type, []) for row_type in IDENTIFICATION_ROW_TYPES))
        for row in rows if (held := _identification(row))]
    if identifications:
        content["ods:hasIdentifications"] = identifications
    assertions = [part for rows in ([terms], *(
        record.extensions.get(row_type, []) for row_type in ASSERTION_ROW_TYPES))
        for row in rows if len(part := _part(row, "assertion", "ods:Assertion")) > 1]
    if assertions:
        content["ods:hasAssertions"] = assertions
    georeference = _part(terms, "georeference", "ods:Georeference")
    location = _part(terms, "location", "ods:Location")
    if len(georeference) > 1:
        location["ods:hasGeoreference"] = georeference
    event = _part(terms, "event", "ods:Event")
    if terms.get("dwc:recordedBy"):
        event["ods:hasAgents"] = agents(terms, "dwc:recordedBy")
    if len(location) > 1:
        event["ods:hasLocation"] = location
    if len(event) > 1:
        content["ods:hasEvents"] = [event]
    return {key: value for key, value in content.items() if value is not None}


def _identification(terms: dict[str, str]) -> dict[str, Any] | None:
    """The identification a row holds (the core row's, or an Identification extension
    row's), with its taxon and its identifiers as agents; None if it holds none."""
    identification = _part(terms, "identification", "ods:Identification")
    if terms.get("dwc:identifiedBy"):
        identification["ods:hasAgents"] = agents(terms, "dwc:identifiedBy")
    taxon = _part(terms, "taxonIdentification", "ods:TaxonIdentification")
    if taxon.get("dwc:scientificName"):
        identification["ods:hasTaxonIdentifications"] = [taxon]
    if len(identification) == 1:
        return None
    identification["ods:isVerifiedIdentification"] = False
    return identification


def _part(terms: dict[str, str], name: str, opends_type: str) -> dict[str, Any]:
    held = _terms()[name]
    return {"@type": opends_type, **{term: _typed(term, value) for term, value in terms.items()
                                     if term in held}}


_NUMBERS = {"dwc:decimalLatitude", "dwc:decimalLongitude", "dwc:coordinateUncertaintyInMeters",
            "dwc:minimumElevationInMeters", "dwc:maximumElevationInMeters",
            "dwc:minimumDepthInMeters", "dwc:maximumDepthInMeters"}


def _typed(term: str, value: str) -> Any:
    """Numbers where openDS has numbers (a value that is no number stays text, and the
    validator reports it)."""
    if term in _NUMBERS:
        try:
            return float(value)
        except ValueError:
            return value
    return value


MEDIA_ROW_TYPES = ("http://rs.tdwg.org/ac/terms/Multimedia",
                   "http://rs.gbif.org/terms/1.0/Multimedia")
# Source term -> openDS media term; the first source term a row has wins.
MEDIA_TERMS = (
    ("ac:accessURI", "ac:accessURI"), ("dcterms:identifier", "ac:accessURI"),
    ("dc:type", "dcterms:type"), ("dcterms:type", "dcterms:type"),
    ("dcterms:format", "dcterms:format"), ("dc:format", "dcterms:format"),
    ("dcterms:title", "dcterms:title"), ("dcterms:description", "dcterms:description"),
    ("ac:caption", "dcterms:description"), ("dcterms:license", "dcterms:rights"),
    ("dcterms:rights", "dcterms:rights"), ("xmpRights:Owner", "xmpRights:Owner"),
    ("dcterms:rightsHolder", "xmpRights:Owner"), ("xmpRights:UsageTerms", "xmpRights:UsageTerms"),
    ("xmpRights:WebStatement", "xmpRights:WebStatement"), ("ac:variant", "ac:variant"),
    ("dcterms:source", "dcterms:source"), ("ac:comments", "ac:comments"),
)
_DCMI = "http://purl.org/dc/dcmitype/"


@cache
def _media_types() -> frozenset[str]:
    schema = json.loads((files("schemas") / MEDIA.schema_file).read_text())
    return frozenset(schema["properties"]["dcterms:type"]["enum"])


def media_rows(record: Record) -> list[dict[str, str]]:
    """The record's media rows: its Audubon Core and Simple Multimedia extension rows,
    then each `dwc:associatedMedia` URL that none of them has."""
    rows = [row for row_type in MEDIA_ROW_TYPES for row in record.extensions.get(row_type, [])]
    known = {row.get("ac:accessURI") or row.get("dcterms:identifier") for row in rows}
    for url in record.terms.get("dwc:associatedMedia", "").split("|"):
        if url.strip() and url.strip() not in known:
            known.add(url.strip())
            rows.append({"ac:accessURI": url.strip()})
    return rows


def media(row: dict[str, str], specimen_url: str, source: Source,
          organisation_id: str) -> dict[str, Any] | None:
    """The openDS digital media object of one media row (None without an access URI)."""
    content: dict[str, Any] = {}
    for term, target in MEDIA_TERMS:
        if row.get(term) and target not in content:
            content[target] = row[term]
    if "ac:accessURI" not in content:
        return None
    media_type = str(content.pop("dcterms:type", "")).removeprefix(_DCMI)
    if media_type in _media_types():
        content["dcterms:type"] = media_type
    return {**content, "ods:organisationID": organisation_id,
            "ods:sourceSystemID": source.system_id, "ods:sourceSystemName": source.system_name,
            "ods:hasEntityRelationships": [relationship("hasDigitalSpecimen", specimen_url)]}


def relationship(name: str, url: str) -> dict[str, str]:
    return {"@type": "ods:EntityRelationship", "dwc:relationshipOfResource": name,
            "dwc:relatedResourceID": url, "ods:relatedResourceURI": url}


_PUBLIC_DOMAIN = re.compile(r"creativecommons\.org/publicdomain/mark|^\s*(public domain|pdm)",
                            re.IGNORECASE)
PID_RECORD_TERMS = ("ods:physicalSpecimenID", "ods:physicalSpecimenIDType", "ods:organisationID",
                    "ods:sourceSystemID", "ods:sourceSystemName", "dcterms:license",
                    "dwc:basisOfRecord")


def open_licence(licence: str | None) -> bool:
    """CC0, CC BY or public domain: what a full digital specimen may be published under."""
    if not licence:
        return False
    if _PUBLIC_DOMAIN.search(licence):
        return True
    # "creativecommons.org/licences/by/4.0" (British spelling, in real ABCD data) means
    # the licence its path names.
    spelled = re.sub(r"creativecommons\.org/licences/", "creativecommons.org/licenses/", licence,
                     flags=re.IGNORECASE)
    spdx = (licence_of({"dcterms:license": spelled}) or Licence(spelled)).spdx or ""
    return spdx == "CC0-1.0" or re.fullmatch(r"CC-BY-\d\.\d", spdx) is not None


def pid_record(content: dict[str, Any]) -> dict[str, Any]:
    """The kernel of a specimen whose licence allows no more than a PID record."""
    return {term: content[term] for term in PID_RECORD_TERMS if term in content}


def identifier(content: dict[str, Any], term: str) -> str | None:
    """The value of one source identifier (`dwc:catalogNumber`, ...) kept in a specimen."""
    for item in content.get("ods:hasIdentifiers") or []:
        if isinstance(item, dict) and item.get("dcterms:title") == term:
            return str(item.get("dcterms:identifier"))
    return None
