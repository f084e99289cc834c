"""Display facts read from openDS content for the landing pages.

Records differ wildly in how much they say (a bare specimen has three fields, a full one
hundreds), so every reader here tolerates missing and odd-typed fields and returns ''
or an empty list rather than failing. Provider HTML is reduced to <i>/<em>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup, escape

from schemas import ANNOTATION, MEDIA, SOURCE_SYSTEM, SPECIMEN, Kind


@dataclass(frozen=True)
class Fact:
    """One labelled value on a page; `href` only when it is a safe http(s) URL."""

    label: str
    value: str | Markup
    href: str | None = None
    # A search for more like it: (a /search parameter, its value), and what it finds.
    search: tuple[str, str] | None = None
    search_label: str = ""


# -- small readers of openDS content, robust to missing or odd-typed fields ---------------


def text(value: Any) -> str:
    """A scalar as display text; anything else (lists, objects, None) as ''."""
    return str(value).strip() if isinstance(value, str | int | float) else ""


def safe_url(value: Any) -> str | None:
    """An http(s) URL fit for href/src; provider data could hold `javascript:` URLs."""
    url = text(value)
    return url if url.lower().startswith(("https://", "http://")) else None


def first_dict(value: Any) -> dict[str, Any]:
    items = value if isinstance(value, list) else [value]
    return next((item for item in items if isinstance(item, dict)), {})


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def display_time(value: Any) -> str:
    """ISO timestamps as 'YYYY-MM-DD HH:MM UTC'; dates and anything else unchanged."""
    raw = text(value)
    if "T" not in raw:
        return raw
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class _LabelSanitiser(HTMLParser):
    """Keeps the text and bare <i>/<em> of provider HTML; drops every other tag, every
    attribute, and the content of <script>/<style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in ("i", "em") and not self.hidden:
            self.out.append(f"<{tag}>")
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.open and not self.hidden:
            while self.open:
                closed = self.open.pop()
                self.out.append(f"</{closed}>")
                if closed == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(str(escape(data)))

    def result(self) -> Markup:
        self.close()
        return Markup("".join(self.out + [f"</{tag}>" for tag in reversed(self.open)]))


def sanitise_label(html: str) -> Markup:
    """Provider HTML (`ods:scientificNameHTMLLabel`) reduced to text with <i>/<em>."""
    sanitiser = _LabelSanitiser()
    sanitiser.feed(html)
    return sanitiser.result()


def taxon_of(content: dict[str, Any]) -> dict[str, Any]:
    """The taxon of the verified identification, else of the first one naming a taxon."""
    identifications = dicts(content.get("ods:hasIdentifications"))
    verified = [i for i in identifications if i.get("ods:isVerifiedIdentification") is True]
    taxa = (first_dict(i.get("ods:hasTaxonIdentifications")) for i in verified + identifications)
    return next((taxon for taxon in taxa if taxon), {})


def scientific_name(content: dict[str, Any]) -> str | Markup:
    taxon = taxon_of(content)
    label = text(taxon.get("ods:scientificNameHTMLLabel"))
    if label and sanitise_label(label).striptags():
        return sanitise_label(label)
    return text(taxon.get("dwc:scientificName")) or text(content.get("ods:specimenName"))


def event_of(content: dict[str, Any]) -> dict[str, Any]:
    """The first event with a date (the collecting event, in practice), else the first."""
    events = dicts(content.get("ods:hasEvents"))
    return next((e for e in events if text(e.get("dwc:eventDate"))), first_dict(events))


def coordinates(location: dict[str, Any]) -> str:
    point = first_dict(location.get("ods:hasGeoreference"))
    lat, lon = point.get("dwc:decimalLatitude"), point.get("dwc:decimalLongitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return f"{lat:.5f}, {lon:.5f}"
    return ""


def agent_names(agents: Any, role: str | None = None) -> str:
    """Names of the agents (with `role`, when given), '; '-separated."""
    names = [text(a.get("schema:name")) for a in dicts(agents)
             if role is None or role in [r.get("schema:roleName")
                                         for r in dicts(a.get("ods:hasRoles"))]]
    return "; ".join(name for name in names if name)


def place(location: dict[str, Any]) -> str:
    country = text(location.get("dwc:country")) or text(location.get("dwc:countryCode"))
    return ", ".join(p for p in (text(location.get("dwc:locality")), country) if p)


def linked(label: str, value: Any, href: Any = None) -> list[Fact]:
    """A one-fact list when `value` has text (linked when `href` is a safe URL), else []."""
    shown = value if isinstance(value, Markup) else text(value)
    return [Fact(label, shown, safe_url(href))] if shown else []


def searched(facts: list[Fact], parameter: str, value: Any, label: str) -> list[Fact]:
    """The facts, each linking the search for `value` in `parameter` when it has text."""
    term = text(value)
    return [replace(fact, search=(parameter, term), search_label=label)
            for fact in facts] if term else facts


def institution(content: dict[str, Any]) -> list[Fact]:
    org_id = content.get("ods:organisationID")
    return searched(linked("Institution", text(content.get("ods:organisationName")) or org_id,
                           org_id), "organisationID", org_id, "Search its objects")


def lowest_rank(taxon: dict[str, Any]) -> tuple[str, str] | None:
    """(rank, name) of the most specific rank the taxon names, genus to kingdom."""
    for rank in ("genus", "family", "order", "class", "phylum", "kingdom"):
        if text(taxon.get(f"dwc:{rank}")):
            return rank, text(taxon.get(f"dwc:{rank}"))
    return None


def taxon_search(kind: Kind, content: dict[str, Any]) -> tuple[str, str] | None:
    """The search for specimens of a specimen's taxon: by its scientific name."""
    if kind is not SPECIMEN:
        return None
    name = text(taxon_of(content).get("dwc:scientificName")) or text(
        content.get("ods:specimenName"))
    return ("specimenName", name) if name else None


def licence(content: dict[str, Any]) -> list[Fact]:
    value = content.get("dcterms:license") or content.get("dcterms:rights")
    return linked("Licence", value, value)


def specimen_facts(content: dict[str, Any]) -> list[Fact]:
    event = event_of(content)
    location = first_dict(event.get("ods:hasLocation"))
    taxon = taxon_of(content)
    ranks = ("dwc:kingdom", "dwc:phylum", "dwc:class", "dwc:order", "dwc:family")
    physical_id = content.get("ods:physicalSpecimenID")
    collection = content.get("dwc:collectionID") or content.get("dwc:collectionCode")
    rank = lowest_rank(taxon)
    classification = linked("Classification",
                            " › ".join(t for r in ranks if (t := text(taxon.get(r)))))
    return [
        *linked("Catalogue number", physical_id, physical_id),
        *institution(content),
        *linked("Collected", event.get("dwc:eventDate") or event.get("dwc:verbatimEventDate")),
        *linked("Place", place(location)),
        *linked("Coordinates", coordinates(location)),
        *linked("Collectors", agent_names(event.get("ods:hasAgents"), "collector")),
        *(searched(classification, rank[0], rank[1], f"Search the {rank[0]}")
          if rank else classification),
        *linked("Basis of record", content.get("dwc:basisOfRecord")),
        *searched(linked("Collection", collection, collection), "collectionCode",
                  content.get("dwc:collectionCode"), "Search this collection"),
        *licence(content),
    ]


def media_facts(content: dict[str, Any]) -> list[Fact]:
    uri = content.get("ac:accessURI")
    return [
        *linked("Title", content.get("dcterms:title")),
        *linked("Type", content.get("dcterms:type")),
        *linked("Format", content.get("dcterms:format")),
        *linked("File", uri, uri),
        *institution(content),
        *linked("Creator", agent_names(content.get("ods:hasAgents"))
                or first_dict(content.get("dcterms:creator")).get("schema:name")),
        *licence(content),
    ]


def annotation_facts(content: dict[str, Any]) -> list[Fact]:
    target = first_dict(content.get("oa:hasTarget"))
    selector = first_dict(target.get("oa:hasSelector"))
    return [
        *linked("Motivation", motivation(content)),
        *linked("Target", target.get("@id"), target.get("@id")),
        *linked("Field", field_name(selector.get("ods:term") or selector.get("ods:class"))),
        *linked("Value", body_text(content)),
        *linked("Creator", first_dict(content.get("dcterms:creator")).get("schema:name")),
        *linked("Issued", display_time(content.get("dcterms:issued"))),
        *linked("Generator", first_dict(content.get("as:generator")).get("schema:name")),
        *linked("Decision", decision_text(content)),
    ]


def decision_text(content: dict[str, Any]) -> str | None:
    """'Approved by Cur Ator, 7 Dec 2026 09:00 UTC', 'Pending', or None (no change
    proposed)."""
    status = content.get("ods:mergingDecisionStatus")
    if not isinstance(status, str):
        return None
    by = first_dict(content.get("ods:hasMergingStateChangedBy")).get("schema:name")
    when = display_time(content.get("ods:mergingStateChangeDate"))
    return ", ".join(text(part) for part in (f"{status} by {by}" if by else status, when)
                     if part)


def source_system_facts(content: dict[str, Any]) -> list[Fact]:
    url = content.get("schema:url")
    return [
        *linked("Name", content.get("schema:name")),
        *linked("Description", content.get("schema:description")),
        *institution(content),
        *linked("Dataset", url, url),
        *linked("Format", content.get("ods:translatorType")),
        *linked("Collection management system", content.get("ltc:collectionManagementSystem")),
        *linked("Default licence", content.get("ods:defaultLicense"),
                content.get("ods:defaultLicense")),
    ]


def field_name(path: Any) -> str:
    """The term a selector's JSONPath ends in: `$['ods:hasEvents'][0]['dwc:country']` ->
    `dwc:country`; anything else as given."""
    names = re.findall(r"\['([^'\]]+)'\]", text(path))
    return names[-1] if names else text(path)


def motivation(content: dict[str, Any]) -> str:
    return text(content.get("oa:motivation")).removeprefix("oa:").removeprefix("ods:")


def body_text(content: dict[str, Any]) -> str:
    values = first_dict(content.get("oa:hasBody")).get("oa:value")
    items = values if isinstance(values, list) else [values]
    return "; ".join(t for item in items if (t := text(item)))


def title_of(kind: Kind, content: dict[str, Any]) -> str | Markup:
    """The page heading: scientific name, media title, or what an annotation says; for
    another kind its dcterms:title, else its label."""
    reader = _TITLES.get(kind)
    return reader(content) if reader else text(content.get("dcterms:title")) or kind.label


def specimen_title(content: dict[str, Any]) -> str | Markup:
    return scientific_name(content) or text(content.get("ods:physicalSpecimenID")) \
        or "Unnamed specimen"


def media_title(content: dict[str, Any]) -> str:
    return text(content.get("dcterms:title")) or "Media object"


def annotation_title(content: dict[str, Any]) -> str:
    body = body_text(content)
    return (body[:97] + "…" if len(body) > 100 else body) \
        or f"Annotation ({motivation(content) or 'unspecified'})"


def source_system_title(content: dict[str, Any]) -> str:
    return text(content.get("schema:name")) or "Source system"


def generic_facts(content: dict[str, Any]) -> list[Fact]:
    """What any openDS object may say of itself, for a kind without a reader of its own."""
    return [
        *linked("Title", content.get("dcterms:title")),
        *linked("Description", content.get("dcterms:description")),
        *institution(content),
        *licence(content),
    ]


def facts_of(kind: Kind, content: dict[str, Any]) -> list[Fact]:
    return _FACTS.get(kind, generic_facts)(content)


_TITLES = {SPECIMEN: specimen_title, MEDIA: media_title, ANNOTATION: annotation_title,
           SOURCE_SYSTEM: source_system_title}
_FACTS = {SPECIMEN: specimen_facts, MEDIA: media_facts, ANNOTATION: annotation_facts,
          SOURCE_SYSTEM: source_system_facts}


def successors(tombstone: dict[str, Any]) -> list[Fact]:
    """Where a tombstoned object went: `dcterms:isReplacedBy` and related PIDs."""
    found = linked("Replaced by", tombstone.get("dcterms:isReplacedBy"),
                   tombstone.get("dcterms:isReplacedBy"))
    related = dicts(tombstone.get("ods:hasRelatedPIDs")) + dicts(tombstone.get("ods:hasRelatedPID"))
    for item in related:
        target = item.get("dcterms:identifier") or item.get("schema:identifier")
        kind = text(item.get("ods:relationshipType"))
        # openDS tombstone-metadata's relationship types: IsReplacedWith, IsDuplicateOf, ...
        label = {"IsReplacedWith": "Replaced by", "": "Replaced by",
                 "IsDuplicateOf": "Duplicate of", "RelatedTo": "Related to"}.get(kind, kind)
        found += linked(label, target, target)
    return found
