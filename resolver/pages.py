"""What a landing page and the signposting links are built from: the version shown, the
object's history, and the objects linked with it (media, annotations)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from resolver.formats import METADATA_FORMATS
from resolver.iris import header_uri
from resolver.lookup import Lookup
from resolver.pids import pid_url
from resolver.renderers.citation import bibliography
from resolver.renderers.html import HistoryEntry, LandingPage, Related
from resolver.renderers.schemaorg import schema_org, schema_org_type
from resolver.signposting import Subject, format_url, links
from schemas import KINDS, TOMBSTONE
from storage.models import ObjectState
from storage.versions import VersionRecord

MAX_RELATED = 100  # per page; the linkset and the API list them all


def linked_records(lookup: Lookup, row: ObjectState) -> list[tuple[str, VersionRecord]]:
    """(relation, latest record) of every live object linked with this one."""
    return [(relation, lookup.record(other.pid, other.version))
            for relation, other in lookup.linked(row)[:MAX_RELATED]
            if other.status != TOMBSTONE]


_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def _license(content: dict[str, Any]) -> str | None:
    for field in ("dcterms:license", "dcterms:rights"):
        uri = header_uri(content.get(field))
        if uri:
            return uri
    return None


def _media_file(content: dict[str, Any]) -> tuple[str, str | None] | None:
    uri = header_uri(content.get("ac:accessURI"))
    if uri is None:
        return None
    media_type = content.get("dcterms:format")
    valid_type = isinstance(media_type, str) and _MEDIA_TYPE.fullmatch(media_type)
    return uri, media_type if valid_type else None


def signposting_subject(base_url: str, record: VersionRecord, version: int | None,
                        linked: list[tuple[str, VersionRecord]]) -> Subject:
    """The media files of a media object are its own file; of a specimen, its media's."""
    sources = [record] if KINDS[record.kind].media_file else [
        other for _, other in linked if KINDS[other.kind].media_file]
    items = tuple(item for item in (_media_file(other.content) for other in sources) if item)
    return Subject(base_url, record.pid, version, schema_org_type(record.content),
                   _license(record.content), items)


def state_key(row: ObjectState, number: int, latest: bool) -> tuple[Any, ...]:
    """Everything a response about version `number` shows, named: that version, the
    object's current version and status (history, Memento links) and the stamp of its
    linked objects (media, annotations)."""
    return (row.pid, number, row.version, row.status, row.linked_modified, latest)


def page_etag(key: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()


def landing_page(lookup: Lookup, base_url: str, row: ObjectState, record: VersionRecord,
                 subject: Subject, linked: list[tuple[str, VersionRecord]],
                 latest: bool) -> LandingPage:
    content = record.content
    shown_url = pid_url(base_url, record.pid, None if latest else record.version)
    history = [HistoryEntry(version=v.version, url=pid_url(base_url, v.pid, v.version),
                            created=v.created, agent_name=v.agent_name, activity=v.activity,
                            summary=v.summary, current=v.version == record.version)
               for v in lookup.versions(row.pid)]
    related = [Related(url=pid_url(base_url, other.pid), kind=other.kind,
                       content=other.content) for _, other in linked]
    formats = [(offer.label, format_url(shown_url, offer)) for offer in METADATA_FORMATS]
    tombstone = content.get("ods:hasTombstoneMetadata")
    return LandingPage(
        content=content, pid=record.pid, pid_url=pid_url(base_url, record.pid),
        version=record.version, latest_version=row.version, kind=record.kind,
        history=history, related=related, links=links(subject, html=True),
        citation=bibliography(content, record.pid, record.version, base_url),
        schema_org=schema_org(content, record.pid, record.version, base_url),
        formats=formats, tombstone=tombstone if isinstance(tombstone, dict) else None,
        base_url=base_url)
