"""Sitemaps and robots.txt, so search engines find every live object's landing page
(which embeds schema.org JSON-LD: structured data for crawlers).

`/sitemap.xml` is a sitemap index; `/sitemaps/<k>.xml` lists the live objects whose
version 1 has a change-feed position in (k x 50,000, (k + 1) x 50,000], each with the
time of its latest version as `lastmod`. A feed position is one version, so no sitemap
lists more than the protocol's 50,000 URLs, and a sitemap is one indexed range query,
however large the repository: no OFFSET. Tombstoned objects (410) are left out.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response

from resolver.pids import pid_url
from resolver.responses import base_url, digest_tagged
from resolver.views import lookup
from storage.index import Index

sitemaps = Blueprint("sitemaps", __name__)
SITEMAP_URLS = 50_000  # the protocol's limit per sitemap
NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML = "application/xml; charset=utf-8"


class UnknownSitemap(LookupError):
    """The sitemap index lists no such sitemap."""


def index() -> Index:
    return lookup().index


def sitemap_count(feed_length: int) -> int:
    return max(1, -(-feed_length // SITEMAP_URLS))


@sitemaps.get("/robots.txt")
def robots() -> Response:
    # Crawlers belong on the landing pages: the JSON APIs only repeat them.
    body = (f"User-agent: *\nDisallow: /api/\nAllow: /\n\n"
            f"Sitemap: {base_url()}/sitemap.xml\n")
    return _send(body.encode(), "text/plain; charset=utf-8")


@sitemaps.get("/sitemap.xml")
def sitemap_index() -> Response:
    entries = "".join(f"<sitemap><loc>{escape(base_url())}/sitemaps/{number}.xml</loc>"
                      "</sitemap>\n"
                      for number in range(sitemap_count(index().feed_length())))
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NAMESPACE}">\n'
            f"{entries}</sitemapindex>\n")
    return _send(body.encode(), XML)


@sitemaps.get("/sitemaps/<int:number>.xml")
def sitemap(number: int) -> Response:
    if number >= sitemap_count(index().feed_length()):
        raise UnknownSitemap(f"the sitemap index lists no sitemap {number}")
    objects = index().live_objects_created(number * SITEMAP_URLS, (number + 1) * SITEMAP_URLS)
    urls = "".join(f"<url><loc>{escape(pid_url(base_url(), pid))}</loc>"
                   f"<lastmod>{escape(modified)}</lastmod></url>\n"
                   for pid, modified in objects)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NAMESPACE}">\n'
            f"{urls}</urlset>\n")
    return _send(body.encode(), XML)


def _send(body: bytes, content_type: str) -> Response:
    return digest_tagged(body, content_type, "no-cache")
