"""The resolver through the whole app (real S3, real index): negotiation, PID forms,
errors in the negotiated format, tombstones, caching, Memento and Signposting."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient

from repository.access import trusted
from repository.errors import SchemaInvalid
from repository.provenance import Agent
from repository.services import FDOService
from resolver.renderers import rdf
from storage.versions import VersionRecord
from tests import records

pytestmark = pytest.mark.s3
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
BASE = "http://fdo.test"


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite here, except where a test asks for PostgreSQL too (the index queries the
    resolver adds); test_memento_signposting runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"t_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def fdo(app: Flask) -> FDOService:
    service: FDOService = app.extensions["fdo"]
    return service


@pytest.fixture
def specimen(fdo: FDOService) -> VersionRecord:
    return fdo.create("digital-specimens", records.specimen(), CURATOR)


def path_of(record: VersionRecord, version: int | None = None) -> str:
    return f"/{record.pid}" + (f"/{version}" if version else "")


def update(fdo: FDOService, record: VersionRecord, **fields: Any) -> VersionRecord:
    prefix, suffix = record.pid.split("/")
    current = fdo.latest(record.kind, prefix, suffix)
    changed, _ = fdo.patch(record.kind, prefix, suffix,
                           [{"op": "add", "path": f"/{name}", "value": value}
                            for name, value in fields.items()], current.digest, CURATOR)
    return changed


FORMATS = {
    "jsonld": "application/ld+json", "json": "application/json", "ttl": "text/turtle",
    "rdf": "application/rdf+xml", "nt": "application/n-triples", "html": "text/html",
    "datacite": "application/vnd.datacite.datacite+json",
    "csl": "application/vnd.citationstyles.csl+json", "bibtex": "application/x-bibtex",
    "citation": "text/x-bibliography",
}


@pytest.mark.parametrize(("name", "media_type"), FORMATS.items())
def test_every_format_by_accept_and_by_parameter(client: FlaskClient, specimen: VersionRecord,
                                                  name: str, media_type: str) -> None:
    by_accept = client.get(path_of(specimen), headers={"Accept": media_type})
    by_format = client.get(path_of(specimen) + f"?format={name}")
    for response in (by_accept, by_format):
        assert response.status_code == 200
        assert response.mimetype == media_type
        assert response.headers["Vary"] == "Accept, Accept-Datetime"
    assert by_accept.data == by_format.data
    assert specimen.pid in by_accept.get_data(as_text=True)


def test_jsonld_and_json_are_the_object(client: FlaskClient, specimen: VersionRecord) -> None:
    plain = client.get(path_of(specimen), headers={"Accept": "application/json"}).get_json()
    assert plain == specimen.content
    linked = json.loads(client.get(path_of(specimen), headers={"Accept": "*/*"}).data)
    assert linked["@context"] == f"{BASE}/contexts/opends-v1.0.0.jsonld"
    assert linked["@id"] == f"{BASE}/{specimen.pid}"
    expanded = client.get(path_of(specimen), headers={
        "Accept": 'application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"'})
    assert "json-ld#expanded" in expanded.headers["Content-Type"]
    assert isinstance(json.loads(expanded.data), list)


def test_browsers_get_the_page_and_scripts_get_data(client: FlaskClient,
                                                    specimen: VersionRecord) -> None:
    browser = client.get(path_of(specimen), headers={
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
    assert browser.mimetype == "text/html"
    assert client.get(path_of(specimen)).mimetype == "application/ld+json"  # no Accept
    assert client.get(path_of(specimen), headers={"Accept": "*/*"}).mimetype == (
        "application/ld+json")


def test_citation_styles(client: FlaskClient, specimen: VersionRecord) -> None:
    apa = client.get(path_of(specimen, 1), headers={"Accept": "text/x-bibliography"})
    harvard = client.get(path_of(specimen, 1),
                         headers={"Accept": "text/x-bibliography; style=harvard"})
    assert apa.status_code == harvard.status_code == 200
    assert apa.data != harvard.data
    assert f"{BASE}/{specimen.pid}/1" in apa.get_data(as_text=True)
    unknown = client.get(path_of(specimen) + "?format=citation&style=chicago")
    assert unknown.status_code == 400
    assert unknown.get_json()["code"] == "unknown_style"


def test_nothing_acceptable_is_406_listing_the_offers(client: FlaskClient,
                                                      specimen: VersionRecord) -> None:
    response = client.get(path_of(specimen), headers={"Accept": "image/png"})
    assert response.status_code == 406
    body = response.get_json()
    assert body["code"] == "not_acceptable"
    assert {"type": "text/turtle", "format": "ttl"} in body["offered"]
    bad_format = client.get(path_of(specimen) + "?format=pdf")
    assert bad_format.status_code == 400
    assert any(offer["format"] == "jsonld" for offer in bad_format.get_json()["offered"])


def test_pid_forms_resolve_to_the_same_object(client: FlaskClient,
                                             specimen: VersionRecord) -> None:
    prefix, suffix = specimen.pid.split("/")
    encoded = f"https%3A%2F%2Fdoi.org%2F{prefix}%2F{suffix}"
    forms = [f"/{prefix}/{suffix.lower()}", f"/doi/{prefix}/{suffix}",
             f"/hdl/{prefix}/{suffix.lower()}", f"/{encoded}", f"/doi:{prefix}/{suffix}",
             f"/https%3A%2F%2Fhdl.handle.net%2F{prefix}%2F{suffix}"]
    for form in forms:
        response = client.get(form, headers={"Accept": "application/json"})
        assert response.status_code == 200, form
        assert response.get_json()["@id"] == f"{BASE}/{specimen.pid}", form


def test_unknown_pid_is_404_in_the_negotiated_format(client: FlaskClient) -> None:
    missing = "/10.82621/AAA-BBB-CCC"
    as_json = client.get(missing, headers={"Accept": "application/ld+json"})
    assert as_json.status_code == 404
    assert as_json.get_json()["code"] == "unknown_pid"
    as_turtle = client.get(missing, headers={"Accept": "text/turtle"})
    assert (as_turtle.status_code, as_turtle.mimetype) == (404, "text/turtle")
    assert len(rdflib.Graph().parse(data=as_turtle.data, format="turtle")) == 0
    as_xml = client.get(missing, headers={"Accept": "application/rdf+xml"})
    assert len(rdflib.Graph().parse(data=as_xml.data, format="xml")) == 0
    as_html = client.get(missing, headers={"Accept": "text/html"})
    assert (as_html.status_code, as_html.mimetype) == (404, "text/html")
    assert client.get(missing + "/7").status_code == 404


def test_malformed_pid_and_missing_version(client: FlaskClient, specimen: VersionRecord) -> None:
    assert client.get("/10.82621/NOT-A-PID!").status_code == 400
    assert client.get("/10.82621/ABC-DEF-GH").get_json()["code"] == "malformed_pid"
    assert client.get("/doi:nonsense").status_code == 400
    missing = client.get(path_of(specimen, 2), headers={"Accept": "application/json"})
    assert (missing.status_code, missing.get_json()["code"]) == (404, "unknown_version")


def test_tombstone_is_410_in_every_format_and_versions_still_resolve(
        client: FlaskClient, fdo: FDOService, specimen: VersionRecord) -> None:
    successor = fdo.create("digital-specimens", records.specimen(), CURATOR)
    prefix, suffix = specimen.pid.split("/")
    fdo.tombstone(specimen.kind, prefix, suffix, "duplicate of another record",
                  successor.pid, None, CURATOR)
    for name in FORMATS:
        response = client.get(path_of(specimen) + f"?format={name}")
        assert response.status_code == 410, name
    gone = client.get(path_of(specimen), headers={"Accept": "application/json"}).get_json()
    assert gone["ods:status"] == "Tombstone"
    assert gone["ods:hasTombstoneMetadata"]["ods:tombstoneText"] == "duplicate of another record"
    assert gone["dcterms:isReplacedBy"] == f"{BASE}/{successor.pid}"
    page = client.get(path_of(specimen), headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "duplicate of another record" in page and successor.pid in page
    assert client.get(path_of(specimen, 1)).status_code == 200
    assert client.get(path_of(specimen, 2)).status_code == 200  # the tombstone version


def test_version_urls_are_immutable_and_revalidate(client: FlaskClient,
                                                   specimen: VersionRecord) -> None:
    first = client.get(path_of(specimen, 1), headers={"Accept": "application/json"})
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert first.headers["ETag"] == f'"{specimen.digest}"'
    turtle = client.get(path_of(specimen, 1), headers={"Accept": "text/turtle"})
    assert turtle.headers["ETag"] not in (first.headers["ETag"], None)
    again = client.get(path_of(specimen, 1), headers={
        "Accept": "application/json", "If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")
    latest = client.get(path_of(specimen), headers={"Accept": "application/json"})
    assert latest.headers["Cache-Control"] == "no-cache"
    assert f'<{BASE}/{specimen.pid}/1>; rel="first last memento"' in latest.headers["Link"]
    revalidated = client.get(path_of(specimen), headers={
        "Accept": "application/json", "If-None-Match": latest.headers["ETag"]})
    assert revalidated.status_code == 304


def test_latest_url_changes_with_a_new_version(client: FlaskClient, fdo: FDOService,
                                               specimen: VersionRecord) -> None:
    before = client.get(path_of(specimen), headers={"Accept": "application/json"})
    update(fdo, specimen, **{"dwc:preparations": "pinned"})
    after = client.get(path_of(specimen), headers={
        "Accept": "application/json", "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.get_json()["dwc:preparations"] == "pinned"


def test_a_second_request_does_not_re_serialize(client: FlaskClient, specimen: VersionRecord,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real: Callable[[dict[str, Any], str, str], bytes] = rdf.serialize

    def counting(document: dict[str, Any], base_url: str, syntax: str) -> bytes:
        calls.append(document["@id"])
        return real(document, base_url, syntax)

    monkeypatch.setattr(rdf, "serialize", counting)  # what the Turtle row renders with
    bodies = [client.get(path_of(specimen, 1) + "?format=ttl").data for _ in range(3)]
    bodies.append(client.get(path_of(specimen) + "?format=ttl").data)  # same version
    assert calls == [f"{BASE}/{specimen.pid}"]
    assert len(set(bodies)) == 1


def test_provenance_is_served_and_linked(client: FlaskClient, fdo: FDOService,
                                        specimen: VersionRecord) -> None:
    update(fdo, specimen, **{"dwc:preparations": "pinned"})
    version = client.get(path_of(specimen, 2), headers={"Accept": "application/json"})
    provenance_url = f"{BASE}/{specimen.pid}/2/provenance"
    assert f'<{provenance_url}>; rel="http://www.w3.org/ns/prov#has_provenance"' in (
        version.headers["Link"])
    event = client.get(f"/{specimen.pid}/2/provenance", headers={"Accept": "application/json"})
    assert event.get_json()["prov:Activity"]["@type"] == "ods:Update"
    turtle = client.get(f"/{specimen.pid}/2/provenance", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=turtle.data, format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    assert (rdflib.URIRef(f"{BASE}/{specimen.pid}/2"), prov.wasRevisionOf,
            rdflib.URIRef(f"{BASE}/{specimen.pid}/1")) in graph


def test_media_and_annotations_show_on_the_specimen(client: FlaskClient, fdo: FDOService,
                                                   specimen: VersionRecord) -> None:
    image = fdo.create("digital-media", records.media(**{
        "dcterms:format": "image/jpeg",
        "ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": f"https://doi.org/{specimen.pid.lower()}",
            "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]}), CURATOR)
    fdo.create("annotations", records.annotation(f"{BASE}/{specimen.pid}"), CURATOR)
    page = client.get(path_of(specimen), headers={"Accept": "text/html"}).get_data(as_text=True)
    assert image.content["ac:accessURI"] in page
    assert "Label says Leiden" in page
    links = client.get(path_of(specimen), headers={"Accept": "text/turtle"}).headers["Link"]
    assert f'<{image.content["ac:accessURI"]}>; rel="item"; type="image/jpeg"' in links


def test_noredirect_shows_the_handle_record_and_locatt_picks_a_location(
        client: FlaskClient, specimen: VersionRecord) -> None:
    page = client.get(path_of(specimen) + "?noredirect")
    assert (page.status_code, page.mimetype) == (200, "text/html")
    text = page.get_data(as_text=True)
    assert specimen.pid in text and "10320/loc" in text and "pidStatus" in text
    located = client.get(path_of(specimen).lower() + "?locatt=view:json")
    assert located.status_code == 302
    assert located.headers["Location"] == f"{BASE}/{specimen.pid}?format=json"
    followed = client.get(located.headers["Location"].removeprefix(BASE))
    assert followed.get_json()["@id"] == f"{BASE}/{specimen.pid}"
    assert client.get(path_of(specimen) + "?locatt=view:html").headers["Location"] == (
        f"{BASE}/{specimen.pid}")
    assert client.get(path_of(specimen) + "?locatt=view:pdf").status_code == 400
    assert client.get("/10.82621/AAA-BBB-CCC?noredirect").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_cached_responses_follow_linked_objects(client: FlaskClient, fdo: FDOService,
                                                specimen: VersionRecord) -> None:
    """Responses are cached per state; a new or changed media object or annotation on the
    specimen is a new state, without a new version of the specimen."""
    def items() -> list[str]:
        header = client.get(path_of(specimen), headers={"Accept": "text/turtle"}).headers
        return [part.split(">")[0].lstrip("<") for part in header["Link"].split(", ")
                if 'rel="item"' in part]

    def page() -> str:
        return client.get(path_of(specimen), headers={"Accept": "text/html"}).get_data(
            as_text=True)

    assert items() == [] and "Label says Leiden" not in page()
    image = fdo.create("digital-media", records.media(**{
        "ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": f"{BASE}/{specimen.pid}",
            "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]}), CURATOR)
    assert items() == [image.content["ac:accessURI"]]
    moved = update(fdo, image, **{"ac:accessURI": "https://images.example.org/moved.jpg"})
    assert items() == [moved.content["ac:accessURI"]]
    fdo.create("annotations", records.annotation(f"{BASE}/{specimen.pid}"), CURATOR)
    assert "Label says Leiden" in page()
    prefix, suffix = image.pid.split("/")
    fdo.tombstone(image.kind, prefix, suffix, "wrong specimen", None, None, CURATOR)
    assert items() == []


def test_provider_urls_cannot_break_link_headers(client: FlaskClient, fdo: FDOService) -> None:
    fields = {"ac:accessURI": "https://images.example.org/a.jpg\r\nSet-Cookie: stolen=1",
              "dcterms:rights": "https://example.org/licence/café>; rel=\"cite-as\""}
    with pytest.raises(SchemaInvalid):  # refused on write now: no IRI has a line break
        fdo.create("digital-media", records.media(**fields), CURATOR)
    # As stored before links were checked on write (a bulk write checks nothing itself).
    draft = fdo.writes.draft("digital-media", "10.82621/AAA-BBB-CCC", records.media(**fields),
                             CURATOR.agent)
    with ThreadPoolExecutor(1) as pool:
        [written] = fdo.writes.finish_writes(fdo.writes.start_writes([draft], pool))
    injected = written.record
    assert written.written and isinstance(injected, VersionRecord)
    response = client.get(path_of(injected), headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert 'rel="item"' not in response.headers["Link"]
    # '>' and '"' are not IRI characters: the licence is linked percent-encoded, so it
    # stays one link (the line break in the access URI is no IRI at all: left out).
    assert ('<https://example.org/licence/caf%C3%A9%3E;%20rel=%22cite-as%22>; rel="license"'
            in response.headers["Link"])
    assert response.headers["Link"].count('rel="cite-as"') == 1
    encoded = fdo.create("digital-media", records.media(**{
        "dcterms:rights": "https://example.org/licences/libre-réutilisation"}), CURATOR)
    links = client.get(path_of(encoded), headers={"Accept": "text/turtle"}).headers["Link"]
    assert '<https://example.org/licences/libre-r%C3%A9utilisation>; rel="license"' in links
