"""Versions by date (Memento, RFC 7089) and FAIR Signposting, through the whole app.

The index queries behind them (version times, linked objects) run on SQLite and
PostgreSQL; the Signposting test parses our headers and linksets with the PyPI
`signposting` package against a real gunicorn."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import signposting
from flask import Flask
from flask.testing import FlaskClient

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from storage.versions import VersionRecord
from tests import records

pytestmark = pytest.mark.s3
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
BASE = "http://fdo.test"


def new_version(fdo: FDOService, record: VersionRecord, value: str) -> VersionRecord:
    prefix, suffix = record.pid.split("/")
    current = fdo.latest(record.kind, prefix, suffix)
    changed, _ = fdo.patch(record.kind, prefix, suffix,
                           [{"op": "add", "path": "/dwc:preparations", "value": value}],
                           current.digest, CURATOR)
    return changed


def links_of(header: str) -> dict[str, list[str]]:
    """rel -> hrefs of a Link header (rel values split on spaces)."""
    found: dict[str, list[str]] = {}
    for href, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', header):
        for name in rel.split():
            found.setdefault(name, []).append(href)
    return found


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@pytest.fixture
def fdo(app: Flask) -> FDOService:
    service: FDOService = app.extensions["fdo"]
    return service


@pytest.fixture
def three_versions(fdo: FDOService) -> list[VersionRecord]:
    """Versions 1 and 2 a second and more apart, 2 and 3 within the same second."""
    first = fdo.create("digital-specimens", records.specimen(), CURATOR)
    time.sleep(1.1)
    second = new_version(fdo, first, "pinned")
    third = new_version(fdo, first, "in ethanol")
    return [first, second, third]


def made(record: VersionRecord) -> datetime:
    return datetime.fromisoformat(record.content["dcterms:modified"].replace("Z", "+00:00"))


def test_timegate_redirects_to_the_version_current_at_a_date(
        client: FlaskClient, three_versions: list[VersionRecord]) -> None:
    first, second, third = three_versions
    pid = first.pid
    asks = {
        made(first) + timedelta(milliseconds=999 - made(first).microsecond // 1000): 1,
        made(third) + timedelta(seconds=1): 3,
        made(first) - timedelta(days=365): 1,  # before the first version: the first
        datetime.now(UTC) + timedelta(days=1): 3,
    }
    for moment, expected in asks.items():
        response = client.get(f"/{pid}?format=ttl",
                              headers={"Accept-Datetime": http_date(moment)})
        assert response.status_code == 302, moment
        assert response.headers["Location"] == f"{BASE}/{pid}/{expected}?format=ttl"
        assert "Accept-Datetime" in response.headers["Vary"]
        rels = links_of(response.headers["Link"])
        assert rels["original"] == [f"{BASE}/{pid}"] and rels["timemap"]
    if made(second).replace(microsecond=0) == made(third).replace(microsecond=0):
        same_second = client.get(f"/{pid}", headers={"Accept-Datetime": http_date(made(third))})
        assert same_second.headers["Location"].endswith(f"/{pid}/3")


def test_unparsable_accept_datetime_is_400(client: FlaskClient,
                                           three_versions: list[VersionRecord]) -> None:
    for value in ("yesterday", "2026-11-22T10:00:00Z", "Sun, 22 Nov 2026 10:00:00 +0100"):
        response = client.get(f"/{three_versions[0].pid}", headers={"Accept-Datetime": value})
        assert response.status_code == 400, value
        assert response.get_json()["code"] == "bad_accept_datetime"


def test_accept_datetime_past_any_calendar_is_400_through_gunicorn(
        gunicorn: str, service: FDOService) -> None:
    # Found by tests/test_hostile_input.py: a year or second too large for a C long
    # made the TimeGate answer 500.
    pid = service.create("digital-specimens", records.specimen(), CURATOR).pid
    for value in ("Sun, 22 Nov 99999999999999999999 10:00:00 GMT",
                  "Sun, 22 Nov 2026 10:00:99999999999999999999 GMT",
                  "Sun, 22 Nov 99999 10:00:00 GMT"):
        response = requests.get(f"{gunicorn}/{pid}", headers={"Accept-Datetime": value},
                                allow_redirects=False, timeout=10)
        assert response.status_code == 400, value
        assert response.json()["code"] == "bad_accept_datetime"


def test_mementos_carry_their_datetime_and_neighbours(
        client: FlaskClient, three_versions: list[VersionRecord]) -> None:
    pid = three_versions[0].pid
    middle = client.get(f"/{pid}/2", headers={"Accept": "application/json"})
    assert middle.headers["Memento-Datetime"] == http_date(made(three_versions[1]).replace(
        microsecond=0))
    rels = links_of(middle.headers["Link"])
    assert rels["first"] == [f"{BASE}/{pid}/1"] and rels["prev"] == [f"{BASE}/{pid}/1"]
    assert rels["next"] == [f"{BASE}/{pid}/3"] and rels["last"] == [f"{BASE}/{pid}/3"]
    assert rels["timegate"] == [f"{BASE}/{pid}"]
    assert f"{BASE}/{pid}/2" in rels["memento"]
    latest = client.get(f"/{pid}", headers={"Accept": "application/json"})
    assert "Memento-Datetime" not in latest.headers
    assert links_of(latest.headers["Link"])["last"] == [f"{BASE}/{pid}/3"]


def test_timemap_lists_every_version_even_within_one_second(
        client: FlaskClient, three_versions: list[VersionRecord]) -> None:
    pid = three_versions[0].pid
    link_format = client.get(f"/{pid}/timemap")
    assert link_format.mimetype == "application/link-format"
    rels = links_of(link_format.get_data(as_text=True))
    assert rels["memento"] == [f"{BASE}/{pid}/{n}" for n in (1, 2, 3)]
    assert rels["self"] == [f"{BASE}/{pid}/timemap"]
    as_json = client.get(f"/{pid}/timemap", headers={"Accept": "application/json"}).get_json()
    listed = as_json["mementos"]["list"]
    assert [m["uri"] for m in listed] == rels["memento"]
    assert len({m["created"] for m in listed}) == 3  # distinct, even in one second
    for memento in listed:  # and each reachable
        assert client.get(memento["uri"].removeprefix(BASE)).status_code == 200
    assert client.get("/10.82621/AAA-BBB-CCC/timemap").status_code == 404


def test_signposting_links_on_every_response(client: FlaskClient, fdo: FDOService) -> None:
    specimen = fdo.create("digital-specimens", records.specimen(**{
        "dcterms:license": "http://creativecommons.org/publicdomain/zero/1.0/"}), CURATOR)
    pid_url = f"{BASE}/{specimen.pid}"
    for accept in ("text/html", "application/ld+json", "text/turtle"):
        response = client.get(f"/{specimen.pid}", headers={"Accept": accept})
        rels = links_of(response.headers["Link"])
        assert rels["cite-as"] == [pid_url]
        assert f"{pid_url}?format=ttl" in rels["describedby"]
        assert rels["license"] == ["http://creativecommons.org/publicdomain/zero/1.0/"]
        assert rels["linkset"] == [f"{pid_url}/linkset"] * 2
        assert ("https://schema.org/AboutPage" in rels["type"]) == (accept == "text/html")
    linkset = client.get(f"/{specimen.pid}/linkset")
    assert linkset.mimetype == "application/linkset+json"
    anchors = {context["anchor"]: context for context in linkset.get_json()["linkset"]}
    assert anchors[pid_url]["cite-as"] == [{"href": pid_url}]
    assert anchors[f"{pid_url}?format=jsonld"]["describes"] == [{"href": pid_url}]
    text = client.get(f"/{specimen.pid}/linkset", headers={"Accept": "application/linkset"})
    assert text.mimetype == "application/linkset"
    assert f'<{pid_url}>; rel="cite-as"; anchor="{pid_url}"' in text.get_data(as_text=True)


def test_signposting_package_reads_headers_html_and_linksets(live: FDOService) -> None:
    specimen = live.create("digital-specimens", records.specimen(), CURATOR)
    image = live.create("digital-media", records.media(**{
        "dcterms:format": "image/jpeg",
        "ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": specimen.content["@id"],
            "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]}), CURATOR)
    url = specimen.content["@id"]
    for how, found in (("http", signposting.find_signposting_http(url)),
                       ("html", signposting.find_signposting_html(url)),
                       ("linkset", signposting.find_signposting_linkset(f"{url}/linkset")
                        .for_context(url))):
        assert found.citeAs is not None, (how, list(found.signposts))
        assert str(found.citeAs.target) == url
        described = {str(link.type): str(link.target) for link in found.describedBy}
        assert described["text/turtle"] == f"{url}?format=ttl"
        assert [str(item.target) for item in found.items] == [image.content["ac:accessURI"]]
    media = signposting.find_signposting_http(image.content["@id"])
    assert [str(item.target) for item in media.items] == [image.content["ac:accessURI"]]
