"""The change feed: every version as an Activity Streams 2.0 activity, in the shape of the
IIIF Change Discovery API 1.0, so aggregators can copy the repository once and then stay
in sync, tombstones included.

- `/activity` is an `OrderedCollection` with `totalItems` and its `first` and `last` pages.
- `/activity/page/<k>` (k = 0, 1, ...) holds feed positions k*size+1 ... (k+1)*size, oldest
  first (`startIndex` k*size, zero-based). Positions are dense and become visible in
  commit order (`storage.index_writes._next_sequence`), so a page that is full never changes:
  it is served with a strong ETag and `immutable`. A full page always links `next`, even
  while that page is still empty, so its bytes never change. The last page is the one
  still filling (empty when the feed is a multiple of the page size); it revalidates.
- `/activity/<n>` is the activity at position n: its `id`.
- Version 1 is a `Create`, a tombstone a `Delete`, every other version an `Update`. The
  `object` is the version's URL, typed with its openDS type, with `dcterms:isVersionOf`
  the PID; `actor` is the agent that asked for the change.
- JSON-LD with the Activity Streams context, or Turtle (and N-Triples) by negotiation.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from resolver.formats import FEED_FORMATS, json_document
from resolver.lookup import BoundedCache
from resolver.negotiation import Choice
from resolver.pids import pid_url
from resolver.renderers import jsonld, rdf
from resolver.responses import CORS_HEADERS, base_url, digest_tagged
from resolver.views import IMMUTABLE, lookup, negotiate
from schemas import KINDS, TOMBSTONE
from storage.index import Index
from storage.models import FeedEntry

activity = Blueprint("activity", __name__)
ODS = "https://github.com/DiSSCo/openDS/ods-ontology/terms/"
CONTEXT: list[Any] = [jsonld.ACTIVITY_STREAMS,
                      {"ods": ODS, "dcterms": "http://purl.org/dc/terms/",
                       "dcterms:isVersionOf": {"@type": "@id"}}]
PREFIXES = {"as": "https://www.w3.org/ns/activitystreams#", "ods": ODS,
            "dcterms": "http://purl.org/dc/terms/"}
ACTOR_TYPES = {"schema:Person": "Person", "schema:Organization": "Organization",
               "schema:SoftwareApplication": "Application"}
FULL_PAGES_CACHED = 256


class UnknownPage(LookupError):
    """The feed has no such page or position."""


def index() -> Index:
    return lookup().index


def full_pages() -> BoundedCache[tuple[int, str], bytes]:
    """Rendered full pages of this app's feed, by (page, format): they never change."""
    found: BoundedCache[tuple[int, str], bytes] = current_app.extensions["feed_pages"]
    return found


def page_size() -> int:
    return int(current_app.config["FDO_FEED_PAGE_SIZE"])


def feed_url(base: str, path: str = "") -> str:
    return f"{base}/activity{path}"


def page_ref(base: str, number: int) -> dict[str, str]:
    return {"id": feed_url(base, f"/page/{number}"), "type": "OrderedCollectionPage"}


# -- documents ------------------------------------------------------------------------

def collection(base: str, total: int, size: int) -> dict[str, Any]:
    return {"@context": CONTEXT, "id": feed_url(base), "type": "OrderedCollection",
            "totalItems": total, "first": page_ref(base, 0),
            "last": page_ref(base, total // size)}


def page(base: str, number: int, entries: list[FeedEntry], size: int) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": CONTEXT, "id": feed_url(base, f"/page/{number}"),
        "type": "OrderedCollectionPage",
        "partOf": {"id": feed_url(base), "type": "OrderedCollection"},
        "startIndex": number * size}
    if number > 0:
        document["prev"] = page_ref(base, number - 1)
    if len(entries) == size:
        document["next"] = page_ref(base, number + 1)
    document["orderedItems"] = [item(base, entry) for entry in entries]
    return document


def item(base: str, entry: FeedEntry) -> dict[str, Any]:
    actor: dict[str, Any] = {"type": ACTOR_TYPES.get(entry.agent_type, "Person"),
                             "name": entry.agent_name}
    if jsonld.is_iri(entry.agent_id):
        actor = {"id": entry.agent_id, **actor}
    return {
        "id": feed_url(base, f"/{entry.sequence}"),
        "type": _activity_type(entry),
        "endTime": entry.created,
        "actor": actor,
        "object": {"id": pid_url(base, entry.pid, entry.version),
                   "type": KINDS[entry.kind].object_type,
                   "dcterms:isVersionOf": pid_url(base, entry.pid)},
    }


def _activity_type(entry: FeedEntry) -> str:
    if entry.status == TOMBSTONE:
        return "Delete"
    return "Create" if entry.version == 1 else "Update"


# -- routes ---------------------------------------------------------------------------

@activity.get("/activity")
def feed() -> Response:
    choice = negotiate(FEED_FORMATS)
    document = collection(base_url(), index().feed_length(), page_size())
    return _send(_render(document, choice), choice, immutable=False)


@activity.get("/activity/page/<int:number>")
def feed_page(number: int) -> Response:
    choice = negotiate(FEED_FORMATS)
    size = page_size()
    key = (number, choice.offer.name)
    cached = full_pages().peek(key)
    if cached is not None:
        return _send(cached, choice, immutable=True)
    if number > index().feed_length() // size:
        raise UnknownPage(f"the change feed has no page {number} yet")
    entries = index().feed(number * size, size)
    body = _render(page(base_url(), number, entries, size), choice)
    full = len(entries) == size
    if full:
        full_pages().put(key, body)
    return _send(body, choice, immutable=full)


@activity.get("/activity/<int:position>")
def one_activity(position: int) -> Response:
    choice = negotiate(FEED_FORMATS)
    known = 1 <= position <= index().feed_length()
    entries = index().feed(position - 1, 1) if known else []
    if not entries or entries[0].sequence != position:
        raise UnknownPage(f"the change feed has no position {position}")
    document = {"@context": CONTEXT, **item(base_url(), entries[0])}
    return _send(_render(document, choice), choice, immutable=True)


def _render(document: dict[str, Any], choice: Choice) -> bytes:
    """The document in the chosen format: an RDF syntax from its graph, else JSON."""
    syntax = choice.offer.rdf_syntax
    if syntax:
        return rdf.write(rdf.jsonld_graph(document, base_url(), PREFIXES), syntax)
    return json_document(document)


def _send(body: bytes, choice: Choice, immutable: bool) -> Response:
    return digest_tagged(body, choice.offer.content_type(""),
                         IMMUTABLE if immutable else "no-cache", Vary="Accept", **CORS_HEADERS)
