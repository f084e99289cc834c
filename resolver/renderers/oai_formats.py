"""The OAI-PMH metadata formats: one version of an object as the XML element that goes
inside `<metadata>`.

- `oai_dc`: unqualified Dublin Core, from the crosswalk `Summary` (as every other
  crosswalk is, so the formats agree).
- `oai_datacite`: the DataCite Metadata Schema 4.x `<resource>`, serialised by DataCite's
  own Python library (`datacite.schema45`) from our DataCite JSON record, the one the
  resolver serves as `application/vnd.datacite.datacite+json`. It is the bare kernel
  resource (as DataCite's own OAI-PMH `datacite` prefix serves it), not the older
  `oai_datacite` 1.1 envelope. DataCite records need a DOI, so this format is offered for
  the kinds whose PIDs are DOIs only.
- `ods_jsonld`: the openDS JSON-LD exactly as the resolver serves it as
  `application/ld+json`, as the text of one `<ods:jsonld>` element (schema shipped in
  schemas/oai-ods-jsonld.xsd and served at /oai/ods_jsonld.xsd).

Pure functions, like the other renderers. Stored text holds no character XML cannot
carry (the validator refuses them on write); request arguments echoed in a response may,
so `xml_text` and `xml_attribute` drop them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from datacite import schema45

from resolver.renderers import jsonld
from resolver.renderers.crosswalk import summarise
from resolver.renderers.datacite import datacite_json
from schemas import KINDS

XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
ODS_JSONLD = "urn:fdo-repository:oai:ods_jsonld:1"
ODS_JSONLD_SCHEMA_PATH = "/oai/ods_jsonld.xsd"
# What XML 1.0 cannot carry: C0 controls but tab, newline and return; lone surrogates;
# U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
Renderer = Callable[[dict[str, Any], str, int, str], str]


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    namespace: str
    schema: str  # a URL, or a path on our own base URL (starts with "/")
    render: Renderer
    doi_only: bool = False  # describes only the kinds whose PIDs are DOIs

    @property
    def kinds(self) -> tuple[str, ...]:
        """The names of the kinds whose objects it can describe."""
        return tuple(name for name, kind in KINDS.items() if kind.uses_doi or not self.doi_only)

    def schema_url(self, base_url: str) -> str:
        return base_url + self.schema if self.schema.startswith("/") else self.schema


def xml_text(value: Any) -> str:
    return escape(_NOT_XML.sub("", str(value)))


def xml_attribute(value: Any) -> str:
    """A quoted XML attribute value (quotes included)."""
    return quoteattr(_NOT_XML.sub("", str(value)), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def oai_dc(content: dict[str, Any], pid: str, version: int, base_url: str) -> str:
    summary = summarise(content, pid, version, base_url)
    elements: list[tuple[str, Any]] = [("title", summary.title),
                                       ("creator", summary.creator.name)]
    elements += [("subject", subject) for _, subject in summary.subjects]
    if summary.taxon:
        elements.append(("subject", summary.taxon[0]))
    elements += [("description", summary.description), ("publisher", summary.publisher.name)]
    elements += [("date", date) for date in (summary.created, summary.modified) if date]
    elements += [("type", summary.label),
                 ("type", summary.media_type or summary.kind.dcmi_type)]
    if summary.media_format:
        elements.append(("format", summary.media_format))
    elements += [("identifier", summary.pid_url), ("identifier", summary.url)]
    if summary.physical_id:
        elements.append(("identifier", summary.physical_id))
    if summary.content_url:
        elements.append(("identifier", summary.content_url))
    elements += [("relation", url) for _, url in summary.links]
    elements += [("coverage", f"{place.latitude}, {place.longitude}"
                  + (f" ({place.name})" if place.name else "")) for place in summary.places]
    if summary.licence:
        elements.append(("rights", summary.licence.url or summary.licence.text))
    body = "".join(f"<dc:{name}>{xml_text(value)}</dc:{name}>" for name, value in elements)
    return (f'<oai_dc:dc xmlns:oai_dc="{OAI_DC}" xmlns:dc="{DC}" xmlns:xsi="{XSI}" '
            f'xsi:schemaLocation="{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
            f"{body}</oai_dc:dc>")


def oai_datacite(content: dict[str, Any], pid: str, version: int, base_url: str) -> str:
    document: str = schema45.tostring(datacite_json(content, pid, version, base_url))
    return document.split("?>", 1)[1].strip() if document.startswith("<?xml") else document


def ods_jsonld(content: dict[str, Any], pid: str, version: int, base_url: str) -> str:
    document = jsonld.served(content, base_url)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return (f'<ods:jsonld xmlns:ods="{ODS_JSONLD}" xmlns:xsi="{XSI}" '
            f'xsi:schemaLocation="{ODS_JSONLD} {base_url}{ODS_JSONLD_SCHEMA_PATH}" '
            f'contentType="application/ld+json">{xml_text(text)}</ods:jsonld>')


FORMATS = {
    "oai_dc": MetadataFormat("oai_dc", OAI_DC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                             oai_dc),
    "oai_datacite": MetadataFormat("oai_datacite", DATACITE,
                                   "http://schema.datacite.org/meta/kernel-4.5/metadata.xsd",
                                   oai_datacite, doi_only=True),
    "ods_jsonld": MetadataFormat("ods_jsonld", ODS_JSONLD, ODS_JSONLD_SCHEMA_PATH, ods_jsonld),
}
