"""Sitemaps and robots.txt through the whole app, over real S3 and a real index: every
live object's landing page once, with lastmod; tombstones left out; parsed with lxml."""

from __future__ import annotations

import pytest
from lxml import etree

from repository.access import trusted
from repository.provenance import Agent
from resolver import sitemaps
from tests.records import specimen

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
KIND = "digital-specimens"
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
NS = {"s": sitemaps.NAMESPACE}


def xml(client, path: str) -> etree._Element:
    response = client.get(path)
    assert response.status_code == 200 and response.content_type.startswith("application/xml")
    return etree.fromstring(response.data)


def listed(client) -> dict[str, str]:
    """loc -> lastmod of every URL in every sitemap the index lists."""
    root = xml(client, "/sitemap.xml")
    assert root.tag == f"{{{sitemaps.NAMESPACE}}}sitemapindex"
    found: dict[str, str] = {}
    for loc in root.findall("s:sitemap/s:loc", NS):
        urlset = xml(client, loc.text.removeprefix(BASE))
        assert urlset.tag == f"{{{sitemaps.NAMESPACE}}}urlset"
        urls = urlset.findall("s:url", NS)
        assert len(urls) <= sitemaps.SITEMAP_URLS
        for url in urls:
            loc_text = url.findtext("s:loc", namespaces=NS)
            assert loc_text not in found
            found[loc_text] = url.findtext("s:lastmod", namespaces=NS)
    return found


def test_robots_txt_points_at_the_sitemap_index(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    assert f"Sitemap: {BASE}/sitemap.xml" in response.text.splitlines()


def test_every_live_object_is_listed_once_with_its_last_change(client, service):
    kept = service.create(KIND, specimen(), AGENT)
    gone = service.create(KIND, specimen(), AGENT)
    prefix, suffix = kept.pid.split("/")
    updated, _ = service.replace(KIND, prefix, suffix,
                                 {**kept.content, "ods:specimenName": "B. lucorum"},
                                 kept.digest, AGENT)
    prefix, suffix = gone.pid.split("/")
    service.tombstone(KIND, prefix, suffix, "duplicate", None, None, AGENT)
    assert listed(client) == {f"{BASE}/{kept.pid}": updated.content["dcterms:modified"]}
    page = client.get(f"/{kept.pid}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b'application/ld+json' in page.data  # schema.org


def test_sitemaps_split_by_feed_position_and_stay_under_the_limit(client, service,
                                                                   monkeypatch):
    monkeypatch.setattr(sitemaps, "SITEMAP_URLS", 2)  # the protocol says 50,000
    created = [service.create(KIND, specimen(), AGENT) for _ in range(5)]
    root = xml(client, "/sitemap.xml")
    assert [loc.text for loc in root.findall("s:sitemap/s:loc", NS)] == [
        f"{BASE}/sitemaps/{number}.xml" for number in range(3)]
    assert set(listed(client)) == {f"{BASE}/{record.pid}" for record in created}


@pytest.mark.parametrize("path", ["/sitemaps/1.xml", "/sitemaps/99999999999999999999.xml"])
def test_sitemaps_the_index_does_not_list_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.json["code"] == "unknown_sitemap"
