"""The change feed (/activity) through the whole app, over real S3 and a real index
(SQLite and PostgreSQL): order, paging, immutable full pages, resuming, RDF."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from pyld import jsonld as pyld_jsonld
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from repository.access import trusted
from repository.integrity import rebuild_index
from repository.provenance import Agent
from resolver.renderers.jsonld import document_loader
from tests.records import specimen
from tests.threads import run_in_threads

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
KIND = "digital-specimens"
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
LOADER = trusted(Agent(id="https://example.org/loader", name="loader", role="machine"))
AS = "https://www.w3.org/ns/activitystreams#"
PAGE = 3


@pytest.fixture
def feed(config, make_app):
    return make_app(replace(config, feed_page_size=PAGE)).test_client()


def get(client, path: str, accept: str = "application/ld+json") -> dict[str, Any]:
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, response.data
    return response.json


def items(client) -> list[dict[str, Any]]:
    """The whole feed, walked from the first page along `next`."""
    found = []
    url = get(client, "/activity")["first"]["id"]
    while url:
        page = get(client, url.removeprefix(BASE))
        found += page["orderedItems"]
        url = page.get("next", {}).get("id")
    return found


def test_every_change_is_an_activity_oldest_first(feed, service):
    first = service.create(KIND, specimen(), AGENT)
    second = service.create(KIND, specimen(), LOADER)
    prefix, suffix = first.pid.split("/")
    service.replace(KIND, prefix, suffix, {**first.content, "ods:specimenName": "B. lucorum"},
                    first.digest, AGENT)
    prefix, suffix = second.pid.split("/")
    service.tombstone(KIND, prefix, suffix, "duplicate", None, None, AGENT)

    collection = get(feed, "/activity")
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 4
    assert collection["first"]["id"] == f"{BASE}/activity/page/0"
    assert collection["last"]["id"] == f"{BASE}/activity/page/1"
    found = items(feed)
    assert [(item["type"], item["object"]["id"]) for item in found] == [
        ("Create", f"{BASE}/{first.pid}/1"), ("Create", f"{BASE}/{second.pid}/1"),
        ("Update", f"{BASE}/{first.pid}/2"), ("Delete", f"{BASE}/{second.pid}/2")]
    assert [item["id"] for item in found] == [f"{BASE}/activity/{n}" for n in (1, 2, 3, 4)]
    assert found[0]["object"] == {"id": f"{BASE}/{first.pid}/1", "type": "ods:DigitalSpecimen",
                                  "dcterms:isVersionOf": f"{BASE}/{first.pid}"}
    assert found[0]["actor"] == {"id": AGENT.agent.id, "type": "Person", "name": "Ada Curator"}
    assert found[1]["actor"]["type"] == "Application"
    assert found[0]["endTime"] == first.content["dcterms:modified"]
    page = get(feed, "/activity/page/1")
    assert page["startIndex"] == PAGE and page["prev"]["id"] == f"{BASE}/activity/page/0"
    assert page["partOf"] == {"id": f"{BASE}/activity", "type": "OrderedCollection"}
    assert "next" not in page  # the last page, still filling
    assert get(feed, "/activity/4") == {"@context": page["@context"], **found[3]}


def test_a_full_page_never_changes_and_is_cached_forever(feed, service):
    for _ in range(PAGE):
        service.create(KIND, specimen(), AGENT)
    full = feed.get("/activity/page/0")
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.json["next"]["id"] == f"{BASE}/activity/page/1"  # linked while still empty
    empty = feed.get("/activity/page/1")
    assert empty.status_code == 200 and empty.json["orderedItems"] == []
    assert empty.headers["Cache-Control"] == "no-cache"
    for _ in range(PAGE + 1):
        service.create(KIND, specimen(), AGENT)
    again = feed.get("/activity/page/0")
    assert again.data == full.data and again.headers["ETag"] == full.headers["ETag"]
    revalidated = feed.get("/activity/page/0", headers={"If-None-Match": full.headers["ETag"]})
    assert revalidated.status_code == 304
    assert len(get(feed, "/activity/page/1")["orderedItems"]) == PAGE
    assert get(feed, "/activity")["last"]["id"] == f"{BASE}/activity/page/2"


def test_a_harvester_resuming_from_its_last_activity_gets_exactly_the_new_ones(feed, service):
    created = [service.create(KIND, specimen(), AGENT) for _ in range(4)]
    seen = items(feed)
    last = int(seen[-1]["id"].rsplit("/", 1)[1])
    prefix, suffix = created[0].pid.split("/")
    service.replace(KIND, prefix, suffix, {**created[0].content, "ods:specimenName": "x"},
                    created[0].digest, AGENT)
    more = [service.create(KIND, specimen(), AGENT) for _ in range(5)]
    # Resume: the page holding the last position seen, then on along `next`.
    url: str | None = f"/activity/page/{(last - 1) // PAGE}"
    new = []
    while url:
        page = get(feed, url.removeprefix(BASE))
        new += [item for item in page["orderedItems"]
                if int(item["id"].rsplit("/", 1)[1]) > last]
        url = page.get("next", {}).get("id")
    assert [item["object"]["id"] for item in new] == (
        [f"{BASE}/{created[0].pid}/2"] + [f"{BASE}/{record.pid}/1" for record in more])
    assert len(seen) + len(new) == get(feed, "/activity")["totalItems"] == 10


def test_concurrent_writers_leave_the_feed_dense_and_complete(feed, service):
    def write() -> None:
        for _ in range(5):
            service.create(KIND, specimen(), AGENT)

    assert run_in_threads(write, 4) == []
    found = items(feed)
    assert [item["id"] for item in found] == [f"{BASE}/activity/{n}" for n in range(1, 21)]
    assert len({item["object"]["id"] for item in found}) == 20
    # Each version's recorded time (the OAI-PMH datestamp) never decreases along the feed,
    # however the writers interleaved: what makes a time range a feed-position range.
    recorded = [row.recorded for row in sorted(service.index.all_versions(),
                                               key=lambda row: row.sequence)]
    assert None not in recorded and recorded == sorted(recorded)


def test_turtle_and_json_ld_of_a_page_are_one_graph(feed, service):
    for _ in range(PAGE):
        service.create(KIND, specimen(), AGENT)
    turtle = feed.get("/activity/page/0", headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and turtle.content_type.startswith("text/turtle")
    graph = Graph().parse(data=turtle.data, format="turtle")
    document = json.loads(feed.get("/activity/page/0").data)
    # The Activity Streams context as a client fetches it; our loader holds its terms.
    expanded = pyld_jsonld.to_rdf(document, {"documentLoader": document_loader(BASE),
                                             "format": "application/n-quads"})
    assert isomorphic(graph, Graph().parse(data=expanded, format="nt"))
    page = URIRef(f"{BASE}/activity/page/0")
    assert (page, RDF.type, URIRef(AS + "OrderedCollectionPage")) in graph
    activities = list(graph.subjects(RDF.type, URIRef(AS + "Create")))
    assert len(activities) == PAGE
    assert all(str(predicate).startswith(("http://", "https://"))
               for predicate in graph.predicates())


def test_rebuild_index_renumbers_the_feed_in_time_order(feed, service):
    records = [service.create(KIND, specimen(), AGENT) for _ in range(4)]
    before = items(feed)
    rebuild_index(service)
    assert items(feed) == before
    newer = service.create(KIND, specimen(), AGENT)
    assert items(feed)[-1]["object"]["id"] == f"{BASE}/{newer.pid}/1"
    assert items(feed)[-1]["id"] == f"{BASE}/activity/{len(records) + 1}"


@pytest.mark.parametrize("path", ["/activity/page/2", "/activity/0", "/activity/1",
                                  "/activity/page/99999999999"])
def test_positions_and_pages_the_feed_does_not_have_are_404(feed, path):
    response = feed.get(path)
    assert response.status_code == 404
    assert response.json["code"] == "unknown_page"


def test_unknown_feed_formats_are_refused_with_the_offers(feed):
    assert feed.get("/activity", headers={"Accept": "text/html"}).status_code == 406
    assert feed.get("/activity?format=html").status_code == 400
    response = feed.get("/activity", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert {offer["format"] for offer in response.json["offered"]} == {"jsonld", "json", "ttl",
                                                                       "nt"}


def test_feed_json_ld_is_served_as_plain_json_ld_without_an_empty_profile(feed, service):
    service.create(KIND, specimen(), AGENT)
    for path in ("/activity", "/activity/page/0", "/activity/1"):
        answer = feed.get(path, headers={"Accept": "application/ld+json"})
        assert answer.status_code == 200, path
        assert answer.headers["Content-Type"] == "application/ld+json", path
