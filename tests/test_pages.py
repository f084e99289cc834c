"""The home page and the search page through the app (Flask's test client over real S3 and
a real index, SQLite and PostgreSQL): their counts are the search API's, their links carry
the filters, what records hold is escaped, a bad parameter is a 400 page, and both work as
plain GET forms without JavaScript. The browser tests are tests/test_search_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from tests import records

pytestmark = pytest.mark.s3

CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ROR = "https://ror.org/0566bfb96"


def specimen(name: str, country: str, year: str, discipline: str = "Zoology",
             **fields: object) -> dict[str, object]:
    return records.specimen(**{
        "ods:specimenName": name, "ods:topicDiscipline": discipline,
        "ods:organisationName": "Naturalis Biodiversity Center",
        "dwc:collectionCode": "ENT",
        "ods:hasEvents": [{"@type": "ods:Event", "dwc:eventDate": f"{year}-06-01",
                           "ods:hasLocation": {"@type": "ods:Location",
                                               "dwc:countryCode": country}}],
        **fields})


@pytest.fixture
def filled(app: Flask) -> FDOService:
    fdo: FDOService = app.extensions["fdo"]
    for number, (country, year) in enumerate([("NL", "1998"), ("NL", "1999"), ("BE", "2001")]):
        fdo.create("digital-specimens", specimen(f"Bombus terrestris {number}", country, year),
                   CURATOR)
    fdo.create("digital-specimens", specimen("Carabus auratus", "BE", "1850", "Botany"), CURATOR)
    fdo.create("digital-media", records.media(**{"dcterms:title": "Dorsal view"}), CURATOR)
    return fdo


class Links(HTMLParser):
    """Every <a href> of a page, with its text; and the forms' method and fields."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in values:
            self._href, self._text = values["href"], []
        elif tag == "form":
            self.forms.append(values)

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def page_links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def link_to(html: str, text: str) -> str:
    return next(href for href, shown in page_links(html).links if shown.startswith(text))


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_home_page_counts_are_the_search_apis(client: FlaskClient, filled: FDOService) -> None:
    # The newest object names no organisation: the name comes from the others.
    filled.create("digital-specimens", records.specimen(**{"ods:specimenName": "Apis"}), CURATOR)
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    everything = client.get("/api/v1/search?facet=organisation").get_json()
    assert re.search(rf'id="total">{everything["total"]}<', html)
    for kind in ("digital-specimens", "digital-media", "annotations"):
        total = client.get(f"/api/v1/{kind}/search").get_json()["total"]
        link = f'href="http://fdo.test/search?kind={kind}"'
        assert re.search(rf'{re.escape(link)}>[^<]*</a> <span class="number">{total}<', html), kind
    organisation = everything["facets"]["organisation"][0]
    assert organisation["label"] == "Naturalis Biodiversity Center"
    assert f'Naturalis Biodiversity Center</a> <span class="number">{organisation["count"]}<' \
        in html
    disciplines = client.get("/api/v1/digital-specimens/search?facet=topicDiscipline") \
        .get_json()["facets"]["topicDiscipline"]
    assert {(v["value"], v["count"]) for v in disciplines} == {("Zoology", 3), ("Botany", 1)}
    assert "Zoology: 3" in html and "Botany: 1" in html  # the chart's text alternative
    assert "Netherlands: 2" in html  # the map's, from the countryCode facet


def test_home_page_shows_the_latest_changes_and_the_harvesting_endpoints(
        client: FlaskClient, filled: FDOService) -> None:
    html = client.get("/").get_data(as_text=True)
    changes = html[html.index('id="change-list"'):]
    assert changes.index("Dorsal view") < changes.index("Carabus auratus")  # newest first
    assert "Create" in changes
    for path in ("/oai?verb=Identify", "/activity", "/sitemap.xml", "/dumps/",
                 "/api/v1/search"):
        assert f'href="http://fdo.test{path}"' in html
    assert client.get("/oai?verb=Identify").status_code == 200


def test_home_page_years_span_more_than_forty_years_as_decades(
        client: FlaskClient, filled: FDOService) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Specimens by decade of collection" in html
    assert "1990s: 2" in html and "2000s: 1" in html and "1850s: 1" in html
    decade = "http://fdo.test/search?kind=digital-specimens&amp;eventDate=1990..1999"
    assert decade in html
    assert client.get(decade.replace("&amp;", "&")).status_code == 200


def test_facet_links_add_their_filter_and_filters_can_be_removed(
        client: FlaskClient, filled: FDOService) -> None:
    html = client.get("/search?q=bombus").get_data(as_text=True)
    assert re.search(r'id="total">3<', html)
    discipline = link_to(html, "Zoology")
    assert query_of(discipline) == [("q", "bombus"), ("topicDiscipline", "Zoology")]
    narrowed = client.get(discipline).get_data(as_text=True)
    assert re.search(r'id="total">3<', narrowed)
    removal = link_to(narrowed, "Discipline: Zoology")
    assert query_of(removal) == [("q", "bombus")]
    organisation = link_to(html, "Naturalis Biodiversity Center")
    assert ("organisationID", ROR) in query_of(organisation)
    only_ror = client.get(organisation).get_data(as_text=True)
    assert re.search(r'id="total">3<', only_ror)
    assert "Institution: Naturalis Biodiversity Center" in only_ror


def test_paging_forward_by_cursor_and_back_to_the_first_page(
        client: FlaskClient, filled: FDOService) -> None:
    first = client.get("/search?kind=digital-specimens&pageSize=3").get_data(as_text=True)
    assert 'id="first-page"' not in first
    following = client.get(link_to(first, "Next page")).get_data(as_text=True)
    assert following.count('class="name"') == 1 and 'id="next-page"' not in following
    back = link_to(following, "« First page")
    assert query_of(back) == [("kind", "digital-specimens"), ("pageSize", "3")]
    names = re.findall(r'class="name" href="([^"]+)"', first + following)
    api = client.get("/api/v1/digital-specimens/search?pageSize=4").get_json()
    assert names == [hit["@id"] for hit in api["hits"]]


def test_hits_link_their_landing_page_and_show_the_snippet(
        client: FlaskClient, filled: FDOService) -> None:
    html = client.get("/search?q=carabus").get_data(as_text=True)
    api = client.get("/api/v1/search?q=carabus").get_json()
    assert f'class="name" href="{api["hits"][0]["@id"]}">Carabus auratus</a>' in html
    assert "<mark>Carabus</mark>" in html


def test_hostile_values_are_escaped_everywhere(client: FlaskClient, app: Flask) -> None:
    fdo: FDOService = app.extensions["fdo"]
    fdo.create("digital-specimens", specimen(HOSTILE, "NL", "1990", **{
        "ods:organisationName": HOSTILE, "dwc:collectionCode": HOSTILE}), CURATOR)
    pages = [client.get("/").get_data(as_text=True),
             client.get("/search", query_string={"specimenName": HOSTILE, "view": "map"})
             .get_data(as_text=True),
             client.get("/search", query_string={"specimenName": HOSTILE,
                                                 "q": HOSTILE}).get_data(as_text=True)]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in pages[1]


def test_a_bad_parameter_is_a_400_page(client: FlaskClient) -> None:
    for query in ("colour=red", "sort=sideways", "kind=planets", "view=globe", "cursor=forged",
                  "pageSize=0", "bbox=1,2"):
        answer = client.get(f"/search?{query}", headers={"Accept": "application/json"})
        assert answer.status_code == 400, query
        assert answer.mimetype == "text/html", query
        html = answer.get_data(as_text=True)
        assert "<h1>" in html and query.split("=")[0] in html


def test_the_search_form_is_a_get_form_that_carries_the_filters(
        client: FlaskClient, filled: FDOService) -> None:
    html = client.get("/search?countryCode=NL&sort=-eventDate").get_data(as_text=True)
    form = page_links(html).forms[0]
    assert form["method"] == "get" and form["action"] == "http://fdo.test/search"
    assert '<input type="hidden" name="countryCode" value="NL">' in html
    assert '<option value="-eventDate" selected>' in html
    # What submitting it sends, as a browser without JavaScript would.
    answer = client.get("/search?q=bombus&kind=all&sort=-eventDate&countryCode=NL")
    assert re.search(r'id="total">2<', answer.get_data(as_text=True))
    home = client.get("/").get_data(as_text=True)
    assert page_links(home).forms[0]["method"] == "get"
    assert client.get("/search?q=&kind=&sort=").status_code == 200


def test_the_map_view_draws_the_hits_with_coordinates(client: FlaskClient, app: Flask) -> None:
    fdo: FDOService = app.extensions["fdo"]
    located = specimen("Bombus located", "NL", "2000")
    located["ods:hasEvents"][0]["ods:hasLocation"]["ods:hasGeoreference"] = {  # type: ignore[index]
        "@type": "ods:Georeference", "dwc:decimalLatitude": 52.16,
        "dwc:decimalLongitude": 4.49}
    fdo.create("digital-specimens", located, CURATOR)
    html = client.get("/search?view=map").get_data(as_text=True)
    assert '<svg' in html and "1 hit" in html
    cell = next(href for href, _ in page_links(html).links if "bbox=" in href)
    narrowed = client.get(cell.replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(r'id="total">1<', narrowed)
    assert link_to(html, "List only") == "http://fdo.test/search"


def test_landing_pages_link_their_institution_collection_and_taxon_to_searches(
        client: FlaskClient, app: Flask) -> None:
    fdo: FDOService = app.extensions["fdo"]
    taxon = {"@type": "ods:TaxonIdentification", "dwc:scientificName": "Carabus auratus",
             "dwc:family": "Carabidae", "dwc:genus": "Carabus"}
    identification = {"@type": "ods:Identification", "ods:isVerifiedIdentification": True,
                      "ods:hasTaxonIdentifications": [taxon]}
    created = fdo.create("digital-specimens", specimen(
        "Carabus auratus", "BE", "1850", **{"ods:hasIdentifications": [identification]}),
        CURATOR)
    fdo.create("digital-specimens", specimen("Bombus terrestris", "NL", "1990"), CURATOR)
    landing = client.get(f"/{created.pid}", headers={"Accept": "text/html"})
    assert landing.status_code == 200
    html = landing.get_data(as_text=True)
    expected = {"Search its objects": ("organisationID", ROR),
                "Search this collection": ("collectionCode", "ENT"),
                "Search the genus": ("genus", "Carabus"),
                "Search specimens of this name": ("specimenName", "Carabus auratus")}
    for text, pair in expected.items():
        url = link_to(html, text)
        assert query_of(url) == [pair], text
        found = client.get(url).get_data(as_text=True)
        assert f"/{created.pid}\"" in found, text
    assert "Bombus" not in client.get(link_to(html, "Search the genus")).get_data(as_text=True)
