"""HTML landing pages for curators: the facts of one version, its media, annotations,
history and citation, with schema.org JSON-LD and FAIR signposting in the head.

Pages are self-contained (inline CSS, no script, no web fonts): the only remote
resources are media thumbnails, which are the media objects' own `ac:accessURI`.
Everything from stored content is autoescaped; provider HTML is reduced to <i>/<em>.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from resolver import geo, maps
from resolver.comparison import FieldChange, proposed_change
from resolver.proposals import MISSING
from resolver.renderers import display
from schemas import KINDS, TOMBSTONE, Kind

if TYPE_CHECKING:  # a type only: signposting reads resolver.formats, which imports us
    from resolver.signposting import Link


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
    kind: str  # the kind's name
    content: dict[str, Any]


@dataclass(frozen=True)
class LandingPage:
    content: dict[str, Any]
    pid: str
    pid_url: str
    version: int
    latest_version: int
    kind: str  # the kind's name
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
# A PID (with its version) in a history line, such as the annotation a version was
# approved from: linked to where it resolves.
_PID_IN_SUMMARY = re.compile(r"(?<![\w./])((?:10|20|21)\.[0-9A-Za-z.]+/"
                             r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}(?:/[0-9]{1,18})?)")


def linked_pids(text: str, base_url: str) -> Markup:
    """`text`, escaped, with each PID in it a link."""
    escaped = str(Markup.escape(text))
    return Markup(_PID_IN_SUMMARY.sub(
        lambda match: f'<a href="{Markup.escape(base_url)}/{match[1]}">{match[1]}</a>', escaped))


ENVIRONMENT.filters["linked_pids"] = linked_pids
ENVIRONMENT.globals["TOMBSTONE"] = TOMBSTONE  # the activity of a tombstoning version


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
        "status": display.text(content.get("ods:mergingDecisionStatus")),
        "decision": display.decision_text(content),
    }


def specimen_item(item: Related) -> dict[str, Any]:
    content = item.content
    return {"url": item.url, "name": display.title_of(KINDS[item.kind], content),
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


def change_rows(changes: list[FieldChange]) -> list[dict[str, Any]]:
    """Field changes as the changes table shows them: values as text, None for none."""
    return [{"label": change.label, "old": _shown(change.old), "new": _shown(change.new),
             "steps": change.steps} for change in changes]


def _shown(value: Any) -> str | None:
    if value is MISSING:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_comparison(pid: str, pid_url: str, base_url: str, first: int, last: int,
                      changes: list[FieldChange]) -> str:
    return ENVIRONMENT.get_template("compare.html").render(
        base_url=base_url, pid=pid, pid_url=pid_url, changes=change_rows(changes),
        heading=f"What changed from version {first} to version {last}",
        before=f"Version {first}", after=f"Version {last}")


def _proposed(kind: Kind, content: dict[str, Any],
              related: list[tuple[Kind, Related]]) -> list[dict[str, Any]]:
    """What approving this (pending) annotation would change in its target now."""
    if not kind.targets_object or content.get("ods:mergingDecisionStatus") != "Pending":
        return []
    targets = [item.content for of, item in related if of.physical_specimen or of.media_file]
    change = proposed_change(content, targets[0]) if targets else None
    return change_rows([change]) if change else []


def render_landing(page: LandingPage) -> str:
    """The landing page of one version (and the 410 page when `tombstone` is given)."""
    content = page.content
    kind = KINDS[page.kind]
    title = display.title_of(kind, content)
    related = [(KINDS[item.kind], item) for item in page.related]
    return ENVIRONMENT.get_template("landing.html").render(
        page=page,
        base_url=page.base_url,
        kind_label=kind.sentence_label,
        title=title,
        plain_title=title.striptags() if isinstance(title, Markup) else title,
        facts=display.facts_of(kind, content),
        image=display.safe_url(content.get("ac:accessURI")) if kind.media_file else None,
        # What points at a specimen is its object: the one an annotation is about.
        specimens_heading="Annotated object" if kind.targets_object else "Specimen",
        thumbnails=[thumbnail(item) for of, item in related if of.media_file],
        annotations=[annotation_item(item) for of, item in related if of.targets_object],
        specimens=[specimen_item(item) for of, item in related if of.physical_specimen],
        tombstone=tombstone_view(page.tombstone),
        history=sorted(page.history, key=lambda entry: entry.version, reverse=True),
        place=place_view(content),
        taxon_search=display.taxon_search(kind, content),
        proposed=_proposed(kind, content, related),
    )


def place_view(content: dict[str, Any]) -> dict[str, Any] | None:
    """The small map of where the record's first georeferenced event happened."""
    point = geo.record_coordinates(content)
    if point is None:
        return None
    return {"map": maps.place_map(*point), "text": maps.degrees_text(*point)}


def render_error(status: int, title: str, message: str, base_url: str) -> str:
    """A page for 400/404/406/410 (gone without a record) and the like."""
    return ENVIRONMENT.get_template("error.html").render(
        status=status, title=title, message=message, base_url=base_url)
