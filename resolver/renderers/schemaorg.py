"""schema.org JSON-LD of one version, for the HTML landing page (and its signposting type).

Classes, and why:
- a digital specimen is a `Dataset`: it is a data record about a physical specimen, and
  schema.org core has no specimen class (Bioschemas' `Sample` is a draft profile outside
  core). `Dataset` is what dataset search engines and DataCite's own schemaOrg mapping
  understand; the taxon goes in `about` as a `Taxon`, the place in `spatialCoverage`.
- a digital media object is an `ImageObject`, `VideoObject` or `AudioObject` by its
  `dcterms:type`, else a `MediaObject`, with `contentUrl` and `encodingFormat`.
- an annotation is a `Comment` about its target: every openDS annotation (commenting,
  assessing, editing, adding, deleting) is one agent's remark on an object.
The document describes this version (`@id`/`url` = version URL); `exampleOfWork` is the
object it is a version of, whose PID is the `identifier`.
"""

from __future__ import annotations

from typing import Any

from resolver.renderers.crosswalk import CitedAgent, Summary, kind_of, summarise
from schemas import ANNOTATION, MEDIA, SPECIMEN, TOMBSTONE, Kind

SCHEMA_ORG = "https://schema.org/"
_MEDIA_CLASSES = {"StillImage": "ImageObject", "Image": "ImageObject",
                  "MovingImage": "VideoObject", "Sound": "AudioObject"}


def schema_org_class(summary: Summary) -> str:
    """The schema.org class name (`Dataset`, `ImageObject`, `Comment`, ...)."""
    return _class(summary.kind, summary.media_type)


def schema_org_type(content: dict[str, Any]) -> str:
    """The full class IRI, e.g. `https://schema.org/Dataset`, for signposting `type` links."""
    return SCHEMA_ORG + _class(kind_of(content), content.get("dcterms:type"))


def _class(kind: Kind, media_type: Any) -> str:
    if not kind.media_file:
        return kind.schema_org_class
    return _MEDIA_CLASSES.get(str(media_type), kind.schema_org_class)


def schema_org(content: dict[str, Any], pid: str, version: int,
               base_url: str) -> dict[str, Any]:
    """A schema.org JSON-LD object (with `"@context": "https://schema.org"`)."""
    summary = summarise(content, pid, version, base_url)
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": schema_org_class(summary),
        "@id": summary.url,
        "identifier": {"@type": "PropertyValue", "propertyID": "DOI" if summary.is_doi
                       else "Handle", "value": pid, "url": summary.pid_url},
        "url": summary.url,
        "name": summary.title,
        "description": summary.description,
        "version": version,
        "exampleOfWork": {"@id": summary.pid_url},
        "dateCreated": summary.created,
        "dateModified": summary.modified,
        "creator": _agent(summary.creator),
        "publisher": _agent(summary.publisher),
        "provider": _agent(summary.publisher),
        "additionalType": content.get("ods:fdoType"),
    }
    document |= _licence(summary) | _by_kind(summary) | _tombstone(summary)
    return {key: value for key, value in document.items() if value not in (None, [], "")}


def _agent(agent: CitedAgent) -> dict[str, Any]:
    schema_type = agent.schema_type if agent.schema_type == "Person" else "Organization"
    node: dict[str, Any] = {"@type": schema_type, "name": agent.name}
    if agent.id:
        node["@id"] = agent.id
    return node


def _licence(summary: Summary) -> dict[str, Any]:
    licence = summary.licence
    return {"license": licence.url or licence.text} if licence else {}


def _by_kind(summary: Summary) -> dict[str, Any]:
    return _BY_KIND.get(summary.kind, _nothing_more)(summary)


def _media(summary: Summary) -> dict[str, Any]:
    specimen = dict(summary.links).get("digitalSpecimen")
    return {"contentUrl": summary.content_url, "encodingFormat": summary.media_format,
            "about": {"@id": specimen} if specimen else None}


def _annotation(summary: Summary) -> dict[str, Any]:
    target = dict(summary.links).get("target")
    return {"text": summary.description, "about": {"@id": target} if target else None}


def _nothing_more(summary: Summary) -> dict[str, Any]:
    return {}


def _specimen(summary: Summary) -> dict[str, Any]:
    found: dict[str, Any] = {
        "keywords": [subject for _, subject in summary.subjects],
        "spatialCoverage": [_place(place.latitude, place.longitude, place.name)
                            for place in summary.places],
    }
    if summary.taxon:
        name, taxon_id = summary.taxon
        found["about"] = {"@type": "Taxon", "name": name} | ({"@id": taxon_id} if taxon_id
                                                             else {})
    if summary.collection:
        found["isPartOf"] = {"@type": "Collection", "name": summary.collection}
    return found


def _place(latitude: float, longitude: float, name: str | None) -> dict[str, Any]:
    place: dict[str, Any] = {"@type": "Place", "geo": {
        "@type": "GeoCoordinates", "latitude": latitude, "longitude": longitude}}
    if name:
        place["name"] = name
    return place


def _tombstone(summary: Summary) -> dict[str, Any]:
    return {"creativeWorkStatus": TOMBSTONE} if summary.tombstoned else {}


# The properties each kind adds; any other kind adds none.
_BY_KIND = {SPECIMEN: _specimen, MEDIA: _media, ANNOTATION: _annotation}
