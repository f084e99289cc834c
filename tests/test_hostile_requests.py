"""Headers and paths a client controls never make the resolver answer 500, never smuggle
text into a response, and a response depends only on what its Vary names."""

from __future__ import annotations

import pytest
import requests
from rdflib import Graph

from repository.access import trusted
from repository.provenance import Agent
from tests.records import specimen

pytestmark = pytest.mark.s3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
# Each malformed Accept, and what it amounts to once its malformed ranges are dropped.
BAD_ACCEPTS = {";": None, "text/html, ;": "text/html", ",;,": None, ";;q=0.5": None,
               "text/turtle;q=x, ;": None, '"': None, "/": None, "a/b/c": None,
               "text/turtle;q=2, ;": None}
BAD_DATETIMES = ["garbage", "Thu, 31 Dec 99999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
                 "Fri, 31 Dec 9999 23:59:59 GMT", ";", "99 GMT"]
UNICODE_VERSIONS = ["²", "١", "٣", "𝟙", "１"]  # superscript, Arabic-Indic, math, fullwidth


@pytest.fixture
def urls(service) -> list[str]:
    """A PID URL, a version URL, a provenance URL and the feed, of a two-version object."""
    record = service.create("digital-specimens", specimen(), AGENT)
    prefix, suffix = record.pid.split("/")
    service.replace("digital-specimens", prefix, suffix,
                    {**specimen(), "ods:physicalSpecimenID": record.content[
                        "ods:physicalSpecimenID"]}, record.digest, AGENT)
    return [f"/{record.pid}", f"/{record.pid}/1", f"/{record.pid}/1/provenance",
            f"/doi:{record.pid}/2", "/activity", "/activity/page/1", f"/{record.pid}/timemap",
            f"/{record.pid}/linkset", "/10.82621/ZZZ-ZZZ-ZZZ"]


@pytest.mark.parametrize("accept", BAD_ACCEPTS)
def test_a_malformed_accept_loses_its_malformed_ranges(client, urls, accept):
    meant = BAD_ACCEPTS[accept]
    for url in urls:
        response = client.get(url, headers={"Accept": accept})
        absent = client.get(url, headers={"Accept": meant} if meant else {})
        assert response.status_code == absent.status_code, (url, response.data[:300])
        assert response.mimetype == absent.mimetype


@pytest.mark.parametrize("value", BAD_DATETIMES)
def test_odd_accept_datetimes_are_400_or_a_redirect(client, urls, value):
    response = client.get(urls[0], headers={"Accept-Datetime": value})
    assert response.status_code in (302, 400), response.data[:300]


@pytest.mark.parametrize("digit", UNICODE_VERSIONS)
def test_version_numbers_are_ascii_digits_only(client, service, digit):
    record = service.create("digital-specimens", specimen(), AGENT)
    api = f"/api/v1/digital-specimens/{record.pid}/versions"
    for url in (f"/{record.pid}/{digit}", f"/doi:{record.pid}/{digit}",
                f"/https://doi.org/{record.pid}/{digit}", f"/{record.pid}/{digit}/provenance",
                f"{api}/{digit}", f"{api}/{digit}/provenance"):
        response = client.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        assert response.json["code"] in ("malformed_pid", "not_found", "unknown_pid")
    assert client.get(f"/{record.pid}/1").status_code == 200


def test_oai_errors_for_unicode_digits_stay_oai_pmh_xml(client, service):
    record = service.create("digital-specimens", specimen(), AGENT)
    for digit in UNICODE_VERSIONS:
        response = client.get("/oai", query_string={
            "verb": "GetRecord", "metadataPrefix": "oai_dc",
            "identifier": f"doi:{record.pid}/{digit}"})
        assert response.status_code == 200 and response.mimetype == "text/xml"
        assert b'code="idDoesNotExist"' in response.data


@pytest.mark.parametrize("accept", ["text/turtle", "application/n-triples"])
def test_error_comments_in_rdf_bodies_carry_no_line_breaks_from_the_request(client, accept):
    injected = "%0D%0A_:s%20%3Curn:x:p%3E%20%22x%22%20.%0A"  # a triple, if on its own line
    for url in (f"/10.82621/ABC{injected}", f"/10.82621{injected}/ABC-DEF-GHJ",
                f"/hdl/20.500.14920/{injected}-DEF-GHJ"):
        response = client.get(url, headers={"Accept": accept})
        assert 400 <= response.status_code < 500
        text = response.get_data(as_text=True)
        assert text.count("\n") == 1 and "\r" not in text and text.startswith("# ")
        assert len(Graph().parse(data=text, format="nt" if "triples" in accept
                                 else "turtle")) == 0


def test_the_representation_does_not_depend_on_the_user_agent(client, urls):
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    for url in urls[:4]:
        for accept in (None, "*/*", "application/*"):
            headers = {"Accept": accept} if accept else {}
            plain = client.get(url, headers=headers)
            browser = client.get(url, headers={**headers, "User-Agent": firefox})
            assert plain.mimetype == browser.mimetype and plain.data == browser.data, url
            assert "User-Agent" not in plain.headers.get("Vary", "")
    page = client.get(urls[0], headers={"User-Agent": firefox, "Accept":
                      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert page.mimetype == "text/html"  # what a browser's navigation sends


def test_hostile_headers_and_paths_through_gunicorn(gunicorn, service):
    record = service.create("digital-specimens", specimen(), AGENT)
    for url in (f"/{record.pid}", f"/{record.pid}/1", f"/{record.pid}/1/provenance",
                "/activity"):
        for accept in BAD_ACCEPTS:
            response = requests.get(gunicorn + url, headers={"Accept": accept}, timeout=30)
            assert response.status_code in (200, 406), (url, accept, response.text[:200])
        for value in BAD_DATETIMES:
            response = requests.get(gunicorn + url, headers={"Accept-Datetime": value},
                                    timeout=30, allow_redirects=False)
            assert response.status_code in (200, 302, 400), (url, value)
    for agent in ("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0"):
        response = requests.get(f"{gunicorn}/{record.pid}", timeout=30,
                                headers={"Accept": "*/*", "User-Agent": agent})
        assert response.headers["Content-Type"].startswith("application/ld+json")
        assert response.headers["Vary"] == "Accept, Accept-Datetime"
    for digit in UNICODE_VERSIONS:
        response = requests.get(f"{gunicorn}/doi:{record.pid}/{digit}", timeout=30)
        assert response.status_code == 400 and response.json()["code"] == "malformed_pid"
        oai = requests.get(f"{gunicorn}/oai", timeout=30, params={
            "verb": "GetRecord", "metadataPrefix": "oai_dc",
            "identifier": f"doi:{record.pid}/{digit}"})
        assert oai.status_code == 200 and 'code="idDoesNotExist"' in oai.text
    response = requests.get(f"{gunicorn}/10.82621/ABC%0D%0A_:s%20%3Curn:x:p%3E%20%22x%22%20.",
                            headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 400 and response.text.count("\n") == 1
