"""What the search index keeps about a version: read from the openDS content alone, so the
write path, `fdo rebuild-index` and `fdo verify` all derive the same document.

Terms are the values filters match and facets count (FIELDS names them, with the place
in openDS each is read from); the text is what free text searches. Values that are not
strings or numbers are ignored: a record may hold anything its schema allows, and one
odd record must never fail a write or break a search."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from repository import records  # records.py builds its entries with this module
from resolver.pids import find_pid
from schemas import KINDS, TOMBSTONE
from storage.search_tables import TERM_LENGTH, SearchDocument, fold

# Fields whose values are identifiers of things the text already names (a licence, an
# organisation's ROR): filtered by, never searched as words, which they would only clutter.
TERM_ONLY = frozenset({"license", "organisationID", "sourceSystemID", "target"})
RANKS = ("kingdom", "phylum", "class", "order", "family", "genus")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def search_document(kind: str, content: dict[str, Any]) -> SearchDocument:
    """The document of one version; a tombstone keeps what it last described."""
    terms = Terms()
    text: list[str] = []
    for field, value in _fields(kind, content):
        if field:
            terms.add(field, value)
        if field not in TERM_ONLY:
            text.append(value)
    for field, value in _taxon_fields(content):
        terms.add(field, value)
        text.append(value)
    event_date, latitude, longitude = _event_facts(content)
    if event_date:
        terms.add("year", event_date[:4])
    name = (_first(content, "ods:specimenName", "dcterms:title", "schema:name")
            or _annotation_name(content))
    catalogue = _first(content, "ods:physicalSpecimenID")
    return SearchDocument(
        name=name[:TERM_LENGTH], catalogue=catalogue[:TERM_LENGTH], event_date=event_date,
        latitude=latitude, longitude=longitude,
        thumbnail=_thumbnail(kind, content), text=_text(text),
        terms=terms.sorted())


class Terms:
    """(field, value) pairs, one per field and folded value, cut to TERM_LENGTH."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}

    def add(self, field: str, value: str) -> None:
        value = " ".join(value.split())[:TERM_LENGTH]
        if value:
            self._values.setdefault((field, fold(value)), value)

    def sorted(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((field, value) for (field, _), value in self._values.items()))


def _fields(kind: str, content: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(term field or None for text only, value) of everything searched."""
    for field, path in TOP_LEVEL:
        yield from _each(field, content.get(path))
    organisation = records.organisation_id(content)
    if organisation:
        yield "organisationID", organisation
    for identifier in _list(content.get("ods:hasIdentifiers")):
        yield from _each("physicalSpecimenID", identifier.get("dcterms:identifier"))
    for event in _list(content.get("ods:hasEvents")):
        yield from _event_fields(event)
    for identification in _list(content.get("ods:hasIdentifications")):
        yield from _each("typeStatus", identification.get("dwc:typeStatus"))
        for agent in _list(identification.get("ods:hasAgents")):
            yield from _each("identifiedBy", agent.get("schema:name"))
        yield from _each("identifiedBy", identification.get("dwc:identifiedBy"))
    if KINDS[kind].targets_object:
        yield from _annotation_fields(content)


TOP_LEVEL = (("specimenName", "ods:specimenName"),
             ("physicalSpecimenID", "ods:physicalSpecimenID"),
             (None, "ods:organisationName"), ("sourceSystemID", "ods:sourceSystemID"),
             (None, "ods:sourceSystemName"), ("license", "dcterms:license"),
             ("license", "dcterms:rights"), ("basisOfRecord", "dwc:basisOfRecord"),
             ("topicDiscipline", "ods:topicDiscipline"), ("collectionCode", "dwc:collectionCode"),
             (None, "dwc:collectionID"), (None, "dwc:datasetName"),
             ("title", "dcterms:title"), (None, "dcterms:description"))


def _event_fields(event: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    for agent in _list(event.get("ods:hasAgents")):
        yield from _each("recordedBy", agent.get("schema:name"))
    yield from _each("recordedBy", event.get("dwc:recordedBy"))
    location = event.get("ods:hasLocation")
    if isinstance(location, dict):
        for field, path in (("country", "dwc:country"), ("countryCode", "dwc:countryCode"),
                            ("locality", "dwc:locality"), (None, "dwc:stateProvince"),
                            (None, "dwc:county"), (None, "dwc:municipality")):
            for value in _strings(location.get(path)):
                yield field, value.upper() if field == "countryCode" else value


def _annotation_fields(content: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    target = content.get("oa:hasTarget")
    target_id = target.get("@id") if isinstance(target, dict) else None
    pid = find_pid(target_id) if isinstance(target_id, str) else None
    if pid:
        yield "target", pid
    yield from _each("motivation", content.get("oa:motivation"))
    yield from _each("mergingDecisionStatus", content.get("ods:mergingDecisionStatus"))
    creator = content.get("dcterms:creator")
    if isinstance(creator, dict):
        for path in ("@id", "schema:name"):
            yield from _each("creator", creator.get(path))
    body = content.get("oa:hasBody")
    if isinstance(body, dict):
        yield from _each(None, body.get("oa:value"))


def _identifications(content: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for identification in _list(content.get("ods:hasIdentifications")):
        yield from _list(identification.get("ods:hasTaxonIdentifications"))


def _scientific_names(taxon: dict[str, Any]) -> Iterator[str]:
    """The name with its authorship and without it."""
    for name in _strings(taxon.get("dwc:scientificName")):
        yield name
        for author in _strings(taxon.get("dwc:scientificNameAuthorship")):
            if name.endswith(author) and len(name) > len(author):
                yield name[:-len(author)].strip()


def _event_facts(content: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """The first event's date (ISO 8601, day, month or year) and coordinates."""
    event_date, latitude, longitude = "", None, None
    for event in _list(content.get("ods:hasEvents")):
        for value in _strings(event.get("dwc:eventDate")):
            match = _DATE.match(value)
            event_date = event_date or (match.group(0) if match else "")
        location = event.get("ods:hasLocation")
        georeference = location.get("ods:hasGeoreference") if isinstance(location, dict) else None
        if isinstance(georeference, dict) and latitude is None:
            latitude = _number(georeference.get("dwc:decimalLatitude"), 90)
            longitude = _number(georeference.get("dwc:decimalLongitude"), 180)
            if latitude is None or longitude is None:
                latitude = longitude = None
    return event_date, latitude, longitude


def _taxon_fields(content: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for taxon in _identifications(content):
        for name in _scientific_names(taxon):
            yield "specimenName", name
        for rank in RANKS:
            for value in _strings(taxon.get(f"dwc:{rank}")):
                yield rank, value
        species = _species(taxon)
        if species:
            yield "species", species


def _species(taxon: dict[str, Any]) -> str | None:
    genus = next(iter(_strings(taxon.get("dwc:genus"))), "")
    epithet = next(iter(_strings(taxon.get("dwc:specificEpithet"))), "")
    if genus and epithet:
        return f"{genus} {epithet}"
    rank = next(iter(_strings(taxon.get("dwc:taxonRank"))), "")
    names = list(_scientific_names(taxon))
    return names[-1] if rank.casefold() == "species" and names else None


def _annotation_name(content: dict[str, Any]) -> str:
    """An annotation's motivation and first value: "oa:commenting: label is wrong"."""
    motivation = next(iter(_strings(content.get("oa:motivation"))), "")
    body = content.get("oa:hasBody")
    value = next(iter(_strings(body.get("oa:value"))), "") if isinstance(body, dict) else ""
    return f"{motivation}: {value}" if motivation and value else motivation or value


def _thumbnail(kind: str, content: dict[str, Any]) -> str | None:
    if not KINDS[kind].media_file or content.get("ods:status") == TOMBSTONE:
        return None
    uri = content.get("ac:accessURI")
    return uri if isinstance(uri, str) and uri.startswith(("https://", "http://")) \
        and len(uri) <= 2048 else None


def _first(content: dict[str, Any], *paths: str) -> str:
    return next((value for path in paths for value in _strings(content.get(path))), "")


def _text(parts: list[str]) -> str:
    return "\n".join(dict.fromkeys(part for part in parts if part))[:65536]


def _each(field: str | None, value: Any) -> Iterator[tuple[str | None, str]]:
    """(field, string) for each of a value's strings."""
    return ((field, string) for string in _strings(value))


def _strings(value: Any) -> Iterator[str]:
    """A value's strings: itself, a number written out, or a list's (one level)."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item.strip():
            yield item.strip()
        elif isinstance(item, (int, float)) and not isinstance(item, bool) \
                and math.isfinite(item):
            yield str(item)


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(value: Any, limit: float) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None
