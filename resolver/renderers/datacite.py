"""DataCite JSON (application/vnd.datacite.datacite+json) for one version of an object.

The shape is the one DataCite's REST API and content negotiation serve (`id`, `doi`,
`identifiers`, `types` with its schemaOrg/citeproc/bibtex/ris mappings, then the
Metadata Schema 4.x properties). Where that output and DataCite's JSON Schema 4.5
disagree, we follow the schema: `publicationYear` is a string and `publisher` the 4.5
object with its ROR (as DiSSCo's own DataCite records send it).

The record describes this version: `id` and `url` are the version URL, and it
`IsVersionOf` the PID URL. We are the resolver, so no doi.org URL appears.
"""

from __future__ import annotations

from typing import Any

from resolver.renderers.citation import csl_type
from resolver.renderers.crosswalk import CitedAgent, Summary, summarise
from resolver.renderers.schemaorg import schema_org_class

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
_SCHEME_URIS = {"ROR": "https://ror.org", "ORCID": "https://orcid.org"}
# dcterms:type of a media file (openDS enumeration) -> DataCite resourceTypeGeneral.
_MEDIA_GENERAL = {
    "StillImage": "Image", "Image": "Image", "MovingImage": "Audiovisual", "Sound": "Sound",
    "Text": "Text", "Dataset": "Dataset", "Collection": "Collection", "Event": "Event",
    "InteractiveResource": "InteractiveResource", "PhysicalObject": "PhysicalObject",
    "Service": "Service", "Software": "Software",
}
_RIS = {"Image": "FIGURE", "Audiovisual": "VIDEO", "Sound": "SOUND", "Dataset": "DATA"}
# Our link relations -> DataCite relationType (read: "this version <relation> that").
_RELATION_TYPES = {
    "previousVersion": "IsNewVersionOf",
    "digitalSpecimen": "Documents",  # a media object documents its specimen
    "digitalMedia": "IsDocumentedBy",
    "target": "Describes",  # an annotation says something about its target
}


def datacite_json(content: dict[str, Any], pid: str, version: int,
                  base_url: str) -> dict[str, Any]:
    """The DataCite JSON record of version `version` of `pid` (tombstoned ones too)."""
    summary = summarise(content, pid, version, base_url)
    record: dict[str, Any] = {"id": summary.url}
    if summary.is_doi:
        record["doi"] = pid
    record |= {
        "identifiers": _identifiers(summary),
        "url": summary.url,
        "types": _types(summary),
        "creators": [_datacite_creator(summary.creator)],
        "titles": [{"title": summary.title}],
        "publisher": _publisher(summary.publisher),
        "publicationYear": summary.year,
        "subjects": _datacite_subjects(summary),
        "dates": _dates(summary),
        "formats": [summary.media_format] if summary.media_format else [],
        "version": str(version),
        "rightsList": _rights(summary),
        "descriptions": _descriptions(summary),
        "geoLocations": _geo_locations(summary),
        "relatedIdentifiers": _related(summary),
        "schemaVersion": SCHEMA_VERSION,
    }
    return {key: value for key, value in record.items() if value not in ([], None)}


def resource_type_general(summary: Summary) -> str:
    """The kind's, or a media file's by its dcterms:type (`media_type` is None for others)."""
    return _MEDIA_GENERAL.get(summary.media_type or "", summary.kind.datacite_type)


def _types(summary: Summary) -> dict[str, str]:
    general = resource_type_general(summary)
    return {
        "resourceTypeGeneral": general,
        "resourceType": summary.label,
        "schemaOrg": schema_org_class(summary),
        "citeproc": csl_type(summary),
        "bibtex": "misc",
        "ris": _RIS.get(general, summary.kind.ris_type),
    }


def _identifiers(summary: Summary) -> list[dict[str, str]]:
    """Alternate identifiers: the Handle itself (it has no `doi` field to go in) and the
    specimen's physical ID (as DiSSCo registers it)."""
    identifiers = []
    if not summary.is_doi:
        identifiers.append({"identifier": summary.pid, "identifierType": "Handle"})
    if summary.kind.physical_specimen and summary.physical_id:
        identifiers.append({"identifier": summary.physical_id,
                            "identifierType": "physicalSpecimenID"})
    return identifiers


def _name_identifiers(agent: CitedAgent) -> list[dict[str, str]]:
    if not agent.id:
        return []
    scheme = agent.id_scheme
    identifier = {"nameIdentifier": agent.id, "nameIdentifierScheme": scheme or "URL"}
    if scheme:
        identifier["schemeUri"] = _SCHEME_URIS[scheme]
    return [identifier]


def _datacite_creator(agent: CitedAgent) -> dict[str, Any]:
    creator: dict[str, Any] = {"name": agent.name}
    name_type = {"Person": "Personal", "Organization": "Organizational"}.get(agent.schema_type)
    if name_type:
        creator["nameType"] = name_type
    identifiers = _name_identifiers(agent)
    if identifiers:
        creator["nameIdentifiers"] = identifiers
    return creator


def _publisher(agent: CitedAgent) -> dict[str, str]:
    publisher = {"name": agent.name}
    if agent.id_scheme == "ROR" and agent.id:
        publisher |= {"publisherIdentifier": agent.id, "publisherIdentifierScheme": "ROR",
                      "schemeUri": _SCHEME_URIS["ROR"]}
    return publisher


def _datacite_subjects(summary: Summary) -> list[dict[str, str]]:
    subjects = [{"subject": subject, "subjectScheme": scheme}
                for scheme, subject in summary.subjects]
    if summary.taxon:
        name, taxon_id = summary.taxon
        subject = {"subject": name, "subjectScheme": "scientificName"}
        subjects.append(subject | ({"valueUri": taxon_id} if taxon_id else {}))
    return subjects


def _dates(summary: Summary) -> list[dict[str, str]]:
    dated = (("Created", summary.created), ("Updated", summary.modified),
             ("Withdrawn", summary.tombstone_date))
    return [{"date": date, "dateType": date_type} for date_type, date in dated if date]


def _rights(summary: Summary) -> list[dict[str, str]]:
    licence = summary.licence
    if licence is None:
        return []
    rights = {"rights": licence.text}
    if licence.url:
        rights["rightsUri"] = licence.url
    if licence.spdx:
        rights |= {"rightsIdentifier": licence.spdx, "rightsIdentifierScheme": "SPDX",
                   "schemeUri": "https://spdx.org/licenses/"}
    return [rights]


def _descriptions(summary: Summary) -> list[dict[str, str]]:
    descriptions = [{"description": summary.description,
                     "descriptionType": summary.kind.datacite_description}]
    if summary.tombstoned:
        text = summary.tombstone_text or "no reason given"
        descriptions.append({"description": f"Tombstoned: {text}", "descriptionType": "Other"})
    return descriptions


def _geo_locations(summary: Summary) -> list[dict[str, Any]]:
    locations = []
    for place in summary.places:
        location: dict[str, Any] = {"geoLocationPoint": {
            "pointLatitude": place.latitude, "pointLongitude": place.longitude}}
        if place.name:
            location["geoLocationPlace"] = place.name
        if location not in locations:  # the schema wants them unique
            locations.append(location)
    return locations


def _related(summary: Summary) -> list[dict[str, str]]:
    related = [_url_relation("IsVersionOf", summary.pid_url)]
    related += [_url_relation(_RELATION_TYPES[relation], url) for relation, url in summary.links]
    if summary.successor:
        related.append(_url_relation("IsObsoletedBy", summary.successor))
    return related


def _url_relation(relation_type: str, url: str) -> dict[str, str]:
    return {"relatedIdentifier": url, "relatedIdentifierType": "URL",
            "relationType": relation_type}
