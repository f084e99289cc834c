"""FAIR Signposting (levels 1 and 2): typed links from a PID to what it is and describes.

Level 1: `Link` headers on every PID and version response. Level 2: the same links,
with the anchors of the metadata records, as a linkset (RFC 9264) at `/<pid>/linkset`.
Every URI is absolute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from resolver.formats import METADATA_FORMATS, Format
from resolver.pids import pid_url

ABOUT_PAGE = "https://schema.org/AboutPage"
LINKSET_JSON = "application/linkset+json"
LINKSET = "application/linkset"


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str | None = None
    profile: str | None = None

    def header_value(self) -> str:
        value = f'<{self.href}>; rel="{self.rel}"'
        if self.type:
            value += f'; type="{self.type}"'
        if self.profile:
            value += f'; profile="{self.profile}"'
        return value


@dataclass(frozen=True)
class Subject:
    """What the links are about: one PID, or one version of it."""

    base_url: str
    pid: str
    version: int | None  # None: the PID URL (latest)
    schema_type: str  # the schema.org class IRI
    license: str | None
    items: tuple[tuple[str, str | None], ...]  # (file URL, media type) of media files

    @property
    def url(self) -> str:
        return pid_url(self.base_url, self.pid, self.version)


def format_url(url: str, offer: Format) -> str:
    return f"{url}?format={offer.name}"


def links(subject: Subject, html: bool = False) -> list[Link]:
    """The signposting links of a PID or version response (`html`: of its landing page)."""
    url = subject.url
    found = [Link(url, "cite-as")]
    found += [Link(format_url(url, offer), "describedby", offer.media_type)
              for offer in METADATA_FORMATS]
    found.append(Link(subject.schema_type, "type"))
    if html:
        found.append(Link(ABOUT_PAGE, "type"))
    if subject.license:
        found.append(Link(subject.license, "license"))
    found += [Link(href, "item", media_type) for href, media_type in subject.items]
    linkset = f"{pid_url(subject.base_url, subject.pid)}/linkset"
    found += [Link(linkset, "linkset", LINKSET_JSON), Link(linkset, "linkset", LINKSET)]
    return found


def header(values: Iterable[str]) -> str:
    return ", ".join(values)


def linkset_json(subject: Subject) -> dict[str, Any]:
    """RFC 9264 JSON: the PID's links, and each metadata record's `describes` back link."""
    url = subject.url
    anchor: dict[str, Any] = {"anchor": url}
    for link in links(subject):
        if link.rel == "linkset":
            continue
        target: dict[str, str] = {"href": link.href}
        if link.type:
            target["type"] = link.type
        anchor.setdefault(link.rel, []).append(target)
    described = [{"anchor": format_url(url, offer), "describes": [{"href": url}]}
                 for offer in METADATA_FORMATS]
    return {"linkset": [anchor, *described]}


def linkset_text(subject: Subject) -> str:
    """RFC 9264 `application/linkset`: RFC 8288 links with explicit anchors."""
    values = []
    for context in linkset_json(subject)["linkset"]:
        anchor = context["anchor"]
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            for target in targets:
                value = f'<{target["href"]}>; rel="{rel}"; anchor="{anchor}"'
                if "type" in target:
                    value += f'; type="{target["type"]}"'
                values.append(value)
    return ",\n".join(values) + "\n"
