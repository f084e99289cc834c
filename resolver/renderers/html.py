"""HTML landing pages for curators: the facts of one version, its media, annotations,
history and citation, with schema.org JSON-LD and FAIR signposting in the head.

Pages are self-contained (inline CSS, no script, no web fonts): the only remote
resources are media thumbnails, which are the media objects' own `ac:accessURI`.
Everything from stored content is autoescaped; provider HTML is reduced to <i>/<em>.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from resolver.renderers import display

if TYPE_CHECKING:  # a type only: signposting reads resolver.formats, which imports us
    from resolver.signposting import Link

KIND_LABELS = {
    "digital-specimens": "Digital specimen",
    "digital-media": "Digital media",
    "annotations": "Annotation",
}


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    url: str
    created: str
    agent_name: str
    activity: str
    summary: str
    current: bool


@dataclass(frozen=True)
class Related:
    """A media object or annotation linked to the object, with its latest content."""

    url: str
    kind: str
    content: dict[str, Any]


@dataclass(frozen=True)
class LandingPage:
    content: dict[str, Any]
    pid: str
    pid_url: str
    version: int
    latest_version: int
    kind: str
    history: list[HistoryEntry]
    related: list[Related]
    links: list[Link]
    citation: str
    schema_org: dict[str, Any]
    formats: list[tuple[str, str]]
    tombstone: dict[str, Any] | None
    base_url: str


# Created once: the loader reads templates shipped as package data (resolver/templates).
ENVIRONMENT = Environment(
    loader=PackageLoader("resolver", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["when"] = display.display_time


def thumbnail(item: Related) -> dict[str, Any]:
    """A related media object as a thumbnail: no `src` unless it is an http(s) URL."""
    content = item.content
    title = display.text(content.get("dcterms:title"))
    kind = display.text(content.get("dcterms:type")) or "Media"
    return {"url": item.url, "src": display.safe_url(content.get("ac:accessURI")),
            "alt": f"{kind}: {title}" if title else kind, "caption": title or kind}


def annotation_item(item: Related) -> dict[str, Any]:
    content = item.content
    selector = display.first_dict(display.first_dict(content.get("oa:hasTarget"))
                                  .get("oa:hasSelector"))
    return {
        "url": item.url,
        "motivation": display.motivation(content) or "annotation",
        "value": display.body_text(content),
        "field": display.field_name(selector.get("ods:term") or selector.get("ods:class")),
        "creator": display.text(display.first_dict(content.get("dcterms:creator"))
                                .get("schema:name")),
        "date": display.text(content.get("dcterms:issued") or content.get("dcterms:created")),
    }


def specimen_item(item: Related) -> dict[str, Any]:
    content = item.content
    return {"url": item.url, "name": display.title_of("digital-specimens", content),
            "number": display.text(content.get("ods:physicalSpecimenID"))}


def tombstone_view(tombstone: dict[str, Any] | None) -> dict[str, Any] | None:
    if tombstone is None:
        return None
    return {
        "reason": display.text(tombstone.get("ods:tombstoneText")),
        "date": display.text(tombstone.get("ods:tombstoneDate")),
        "agent": display.agent_names(tombstone.get("ods:hasAgents")),
        "successors": display.successors(tombstone),
    }


def related_of(page: LandingPage, kind: str) -> list[Related]:
    return [item for item in page.related if item.kind == kind]


def render_landing(page: LandingPage) -> str:
    """The landing page of one version (and the 410 page when `tombstone` is given)."""
    content = page.content
    title = display.title_of(page.kind, content)
    return ENVIRONMENT.get_template("landing.html").render(
        page=page,
        base_url=page.base_url,
        kind_label=KIND_LABELS.get(page.kind, "Digital object"),
        title=title,
        plain_title=title.striptags() if isinstance(title, Markup) else title,
        facts=display.facts_of(page.kind, content),
        image=display.safe_url(content.get("ac:accessURI")) if page.kind == "digital-media"
        else None,
        thumbnails=[thumbnail(item) for item in related_of(page, "digital-media")],
        annotations=[annotation_item(item) for item in related_of(page, "annotations")],
        specimens=[specimen_item(item) for item in related_of(page, "digital-specimens")],
        tombstone=tombstone_view(page.tombstone),
        history=sorted(page.history, key=lambda entry: entry.version, reverse=True),
    )


def render_error(status: int, title: str, message: str, base_url: str) -> str:
    """A page for 400/404/406/410 (gone without a record) and the like."""
    return ENVIRONMENT.get_template("error.html").render(
        status=status, title=title, message=message, base_url=base_url)
