"""What every metadata crosswalk needs from one stored openDS version, read in one place.

DataCite JSON, CSL-JSON, BibTeX, text citations and schema.org all state the same few
facts (title, creator, publisher, year, licence, places, links). Reading them once keeps
the formats in agreement; each renderer is then a plain mapping from a `Summary`.
Pure functions: no Flask, no I/O, so the results can be cached by version digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from resolver.pids import PidRef, find_pid, pid_url
from schemas import ANNOTATION, MEDIA, SOURCE_SYSTEM, SPECIMEN, TOMBSTONE, Kind, kind_of_type

_RELATIONS = {"hasDigitalSpecimen": "digitalSpecimen", "hasDigitalMedia": "digitalMedia"}
# Epoch milliseconds (seen in real openDS records), ASCII digits up to the year 2286:
# more digits overflow datetime.
EPOCH_MILLISECONDS = re.compile(r"[0-9]{10,13}")
_TOPICS = ("ods:topicDiscipline", "ods:topicDomain", "ods:topicOrigin", "ods:topicCategory")
_CC_URL = re.compile(r"creativecommons\.org/(?:licenses/([a-z-]+)|publicdomain/(zero))/(\d\.\d)",
                     re.IGNORECASE)
_CC_TEXT = re.compile(r"^CC[\s-]*(0|BY(?:[\s-]+(?:NC|SA|ND))*)(?:[\s-]+(\d\.\d))?$",
                      re.IGNORECASE)


@dataclass(frozen=True)
class CitedAgent:
    """Who a citation or metadata record names as creator or publisher."""

    name: str
    id: str | None = None  # a ROR, ORCID or other URL
    schema_type: str = "Organization"  # schema.org class: Person, Organization, ...

    @property
    def id_scheme(self) -> str | None:
        host = urlsplit(self.id or "").netloc.lower()
        return {"ror.org": "ROR", "orcid.org": "ORCID"}.get(host)


@dataclass(frozen=True)
class Licence:
    text: str
    url: str | None = None
    spdx: str | None = None


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    name: str | None = None


@dataclass(frozen=True)
class Summary:
    kind: Kind
    pid: str
    version: int
    is_doi: bool
    url: str  # this version's URL: what a citation of this version points at
    pid_url: str  # the object's URL, whatever its version
    title: str
    creator: CitedAgent
    publisher: CitedAgent
    created: str | None
    modified: str | None
    year: str | None
    description: str
    licence: Licence | None = None
    places: tuple[Place, ...] = ()
    subjects: tuple[tuple[str, str], ...] = ()  # (scheme, subject)
    taxon: tuple[str, str | None] | None = None  # (scientific name, taxon ID URL)
    physical_id: str | None = None
    collection: str | None = None
    media_type: str | None = None
    media_format: str | None = None
    content_url: str | None = None
    links: tuple[tuple[str, str], ...] = ()  # (relation, URL): digitalSpecimen, target, ...
    tombstoned: bool = False
    tombstone_date: str | None = None
    tombstone_text: str | None = None
    successor: str | None = None

    @property
    def label(self) -> str:
        """What a person calls the kind; DiSSCo's DataCite records use it as resourceType."""
        return self.kind.label


def summarise(content: dict[str, Any], pid: str, version: int, base_url: str) -> Summary:
    """The crosswalk-neutral reading of one stored version (tombstoned ones included)."""
    kind = kind_of(content)
    publisher = _organisation(content) or _repository(base_url)
    created, modified = iso_datetime(content.get("dcterms:created")), iso_datetime(
        content.get("dcterms:modified"))
    tombstone = _dict(content.get("ods:hasTombstoneMetadata"))
    return Summary(
        kind=kind, pid=pid, version=version, is_doi=PidRef(pid).is_doi,
        url=pid_url(base_url, pid, version), pid_url=pid_url(base_url, pid),
        title=_title(kind, content), creator=_creator(kind, content, publisher),
        publisher=publisher, created=created, modified=modified,
        year=(created or modified or "")[:4] or None,
        description=_description(kind, content, publisher),
        licence=licence_of(content), places=_places(content), subjects=_subjects(content),
        taxon=_taxon(content), physical_id=_text(content.get("ods:physicalSpecimenID")),
        collection=_text(content.get("dwc:datasetName") or content.get("dwc:collectionID")),
        media_type=_text(content.get("dcterms:type")) if kind.media_file else None,
        media_format=_text(content.get("dcterms:format")),
        content_url=_text(content.get("ac:accessURI")),
        links=_links(content, version, base_url, pid),
        tombstoned=content.get("ods:status") == TOMBSTONE,
        tombstone_date=iso_datetime(tombstone.get("ods:tombstoneDate")),
        tombstone_text=_text(tombstone.get("ods:tombstoneText")),
        successor=successor(tombstone, base_url),
    )


def kind_of(content: dict[str, Any]) -> Kind:
    """The kind of a stored object, by its @type (guessed from its fields without one)."""
    kind = kind_of_type(content.get("@type"))
    if kind:
        return kind
    if "oa:motivation" in content or "oa:hasTarget" in content:
        return ANNOTATION
    return MEDIA if "ac:accessURI" in content else SPECIMEN


def iso_datetime(value: Any) -> str | None:
    """An ISO 8601 timestamp as stored, or epoch milliseconds (seen in real openDS
    records) turned into one; None for anything else."""
    if isinstance(value, str) and EPOCH_MILLISECONDS.fullmatch(value):
        moment = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    try:
        valid = isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if valid else None


def _taxon(content: dict[str, Any]) -> tuple[str, str | None] | None:
    """(name, taxon ID) of the verified identification's first taxon."""
    for identification in content.get("ods:hasIdentifications") or []:
        if not isinstance(identification, dict) or not identification.get(
                "ods:isVerifiedIdentification"):
            continue
        taxa = identification.get("ods:hasTaxonIdentifications") or [{}]
        first = _dict(taxa[0])
        name = _text(first.get("dwc:scientificName"))
        if name:
            return name, _url(first.get("dwc:taxonID"))
    return None


def _title(kind: Kind, content: dict[str, Any]) -> str:
    reader = _TITLES.get(kind)
    return reader(content) if reader else _text(content.get("dcterms:title")) or kind.label


def _specimen_title(content: dict[str, Any]) -> str:
    taxon = _taxon(content)
    name = taxon[0] if taxon else _text(content.get("ods:specimenName")) or "Unnamed specimen"
    physical = _text(content.get("ods:physicalSpecimenID"))
    return f"{name} ({physical})" if physical else name


def _media_title(content: dict[str, Any]) -> str:
    media_type = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(content.get("dcterms:type", "")))
    media_format = _text(content.get("dcterms:format"))
    described = f"{media_type.capitalize()} ({media_format})" if media_format else (
        media_type.capitalize())
    return _text(content.get("dcterms:title")) or described or "Digital media"


def _annotation_title(content: dict[str, Any]) -> str:
    motivation = str(content.get("oa:motivation", "")).split(":")[-1]
    target = _dict(content.get("oa:hasTarget")).get("@id")
    target_name = (find_pid(target) or target) if isinstance(target, str) else None
    title = f"{motivation.capitalize() or 'An'} annotation"
    return f"{title} on {target_name}" if target_name else title


def _source_system_title(content: dict[str, Any]) -> str:
    return _text(content.get("schema:name")) or SOURCE_SYSTEM.label


# Kind-specific titles; any other kind is titled by dcterms:title, else its label.
_TITLES = {SPECIMEN: _specimen_title, MEDIA: _media_title, ANNOTATION: _annotation_title,
           SOURCE_SYSTEM: _source_system_title}
# Kinds cited by their own author; the others by the institution that holds them.
_AUTHORED = (ANNOTATION,)


def _creator(kind: Kind, content: dict[str, Any], publisher: CitedAgent) -> CitedAgent:
    """The institution for specimens and media (as DiSSCo's DataCite records have it);
    the annotation's own creator, else its generator, for annotations."""
    if kind not in _AUTHORED:
        return publisher
    for key in ("dcterms:creator", "as:generator"):
        agent = _dict(content.get(key))
        name, agent_id = _text(agent.get("schema:name")), _text(agent.get("@id"))
        if name or agent_id:
            schema_type = str(agent.get("@type", "")).split(":")[-1]
            schema_type = {"SoftwareAgent": "SoftwareApplication"}.get(schema_type, schema_type)
            return CitedAgent(name or str(agent_id), _url(agent_id), schema_type or "Person")
    return publisher


def _organisation(content: dict[str, Any]) -> CitedAgent | None:
    name, ror = _text(content.get("ods:organisationName")), _url(content.get("ods:organisationID"))
    return CitedAgent(name or str(ror), ror) if name or ror else None


def _repository(base_url: str) -> CitedAgent:
    """Who publishes what has no organisation (annotations): this repository."""
    return CitedAgent(urlsplit(base_url).netloc or base_url, base_url)


def _description(kind: Kind, content: dict[str, Any], publisher: CitedAgent) -> str:
    reader = _DESCRIPTIONS.get(kind)
    return reader(content, publisher) if reader else _text(
        content.get("dcterms:description")) or f"{kind.label} held by {publisher.name}."


def _specimen_description(content: dict[str, Any], publisher: CitedAgent) -> str:
    physical = content.get("ods:physicalSpecimenID", "unidentified")
    return f"Digital specimen of the physical specimen {physical}, held by {publisher.name}."


def _media_description(content: dict[str, Any], publisher: CitedAgent) -> str:
    return _text(content.get("dcterms:description")) or (
        f"Digital media object held by {publisher.name}.")


def _annotation_description(content: dict[str, Any], publisher: CitedAgent) -> str:
    values = _dict(content.get("oa:hasBody")).get("oa:value") or []
    body = "; ".join(str(value) for value in values if value)
    return body or f"{_annotation_title(content)}."


def _source_system_description(content: dict[str, Any], publisher: CitedAgent) -> str:
    return _text(content.get("schema:description")) or (
        f"Source system of {publisher.name}: where its records come from.")


_DESCRIPTIONS = {SPECIMEN: _specimen_description, MEDIA: _media_description,
                 ANNOTATION: _annotation_description,
                 SOURCE_SYSTEM: _source_system_description}


def licence_of(content: dict[str, Any]) -> Licence | None:
    """`dcterms:license` (specimens) or `dcterms:rights` (media), with a licence URL and
    SPDX identifier when it is a Creative Commons licence written as URL or as text."""
    value = _text(content.get("dcterms:license") or content.get("dcterms:rights")
                  or content.get("xmpRights:WebStatement"))
    if not value:
        return None
    by_url, by_text = _CC_URL.search(value), _CC_TEXT.match(value.strip())
    if by_url:
        spdx = "CC0-1.0" if by_url[2] else f"CC-{by_url[1].upper()}-{by_url[3]}"
    elif by_text:
        words = re.split(r"[\s-]+", by_text[1].upper())
        spdx = "CC0-1.0" if words == ["0"] else f"CC-{'-'.join(words)}-{by_text[2] or '4.0'}"
    else:
        return Licence(value, _url(value))
    return Licence(value, _url(value) or _cc_url(spdx), spdx)


def _cc_url(spdx: str) -> str:
    if spdx == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    parts = spdx.split("-")
    return f"https://creativecommons.org/licenses/{'-'.join(parts[1:-1]).lower()}/{parts[-1]}/"


def _places(content: dict[str, Any]) -> tuple[Place, ...]:
    places = []
    for event in content.get("ods:hasEvents") or []:
        location = _dict(_dict(event).get("ods:hasLocation"))
        point = _dict(location.get("ods:hasGeoreference"))
        latitude = _number(point.get("dwc:decimalLatitude"), 90)
        longitude = _number(point.get("dwc:decimalLongitude"), 180)
        if latitude is not None and longitude is not None:
            words = [location.get(key) for key in ("dwc:locality", "dwc:country")]
            name = ", ".join(str(word) for word in words if word) or None
            places.append(Place(latitude, longitude, name))
    return tuple(places)


def _number(value: Any, limit: float) -> float | None:
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return number if number is not None and -limit <= number <= limit else None


def _subjects(content: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((key.removeprefix("ods:"), str(content[key]))
                 for key in _TOPICS if _text(content.get(key)))


def _links(content: dict[str, Any], version: int, base_url: str,
           pid: str) -> tuple[tuple[str, str], ...]:
    """(relation, URL): the previous version, the specimen a media object shows or the
    media a specimen has, an annotation's target."""
    links = [("previousVersion", pid_url(base_url, pid, version - 1))] if version > 1 else []
    for relationship in content.get("ods:hasEntityRelationships") or []:
        relationship = _dict(relationship)
        relation = _RELATIONS.get(str(relationship.get("dwc:relationshipOfResource")))
        url = _link_url(relationship.get("ods:relatedResourceURI"), base_url) or _link_url(
            relationship.get("dwc:relatedResourceID"), base_url)
        if relation and url:
            links.append((relation, url))
    target = _link_url(_dict(content.get("oa:hasTarget")).get("@id"), base_url)
    if target:
        links.append(("target", target))
    return tuple(links)


def _link_url(value: Any, base_url: str) -> str | None:
    """A URL as given, or our own URL for a bare PID."""
    if not isinstance(value, str):
        return None
    pid = None if _url(value) else find_pid(value)
    return _url(value) or (pid_url(base_url, pid) if pid else None)


def served_content(content: dict[str, Any], base_url: str) -> dict[str, Any]:
    """What the resolver serves of a version's content: the stored content, plus
    `dcterms:isReplacedBy` on a tombstone that names a successor."""
    tombstone = content.get("ods:hasTombstoneMetadata")
    replaced_by = successor(tombstone, base_url) if isinstance(tombstone, dict) else None
    return {**content, "dcterms:isReplacedBy": replaced_by} if replaced_by else content


def successor(tombstone: dict[str, Any], base_url: str) -> str | None:
    """The PID URL a tombstone names as its replacement (openDS `IsReplacedWith`)."""
    for related in tombstone.get("ods:hasRelatedPIDs") or []:
        related = _dict(related)
        if related.get("ods:relationshipType") == "IsReplacedWith":
            for key in ("dcterms:identifier", "schema:identifier"):
                url = _link_url(related.get(key), base_url)
                if url:
                    return url
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _url(value: Any) -> str | None:
    text = _text(value)
    return text if text and re.match(r"^https?://\S+$", text) else None
