"""Nothing a client stores breaks a read, its own or anyone else's: links no IRI parser
takes and numbers JSON cannot carry are refused on write (422 naming the term), and a
link stored before it was checked is left out of the headers instead of failing them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rdflib import Graph

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from repository.tokens import create_token
from storage.versions import VersionRecord
from tests.records import media, specimen

pytestmark = pytest.mark.s3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
BAD_LINKS = ["https://[ü", "http://ü:abc", "http://ü:99999999", "http://[::1ü]/"]
RDF_FORMATS = {"text/turtle": "turtle", "application/n-triples": "nt",
               "application/rdf+xml": "xml"}
FORMATS = ["text/html", "application/ld+json", "application/json", *RDF_FORMATS]


def api_path(record_id: str, kind: str = "digital-specimens") -> str:
    return f"/api/v1/{kind}/" + record_id.split("/", 3)[3]


@pytest.mark.parametrize("link", BAD_LINKS)
@pytest.mark.parametrize(("kind", "make", "term"), [
    ("digital-specimens", specimen, "dcterms:license"),
    ("digital-media", media, "ac:accessURI"),
    ("digital-specimens", specimen, "dwciri:measurementType"),
])
def test_a_link_no_iri_can_express_is_refused_naming_the_term(client, auth, link, kind, make,
                                                             term):
    fields = {term: link}
    if term.startswith("dwciri:"):  # a term nested in an assertion
        fields = {"ods:hasAssertions": [{"@type": "ods:Assertion", term: link}]}
    response = client.post(f"/api/v1/{kind}", json=make(**fields), headers=auth)
    assert response.status_code == 422, response.json
    [error] = response.json["errors"]
    assert error["path"].endswith("/" + term)
    assert any(word in error["message"] for word in ("IRI", "port", "IPv6")), error


def test_links_people_write_and_words_without_a_scheme_are_accepted(client, auth):
    response = client.post("/api/v1/digital-media", json=media(**{
        "ac:accessURI": "https://bilder.example.org/käfer/1.jpg?größe=groß#ü",
        "ac:metadataLanguage": "urn:ietf:bcp:47:nl"}), headers=auth)
    assert response.status_code == 201, response.json
    for words in ("http://[2001:db8::1]:8080/licence", "CC BY 4.0", "Licence: CC0"):
        response = client.post("/api/v1/digital-specimens", json=specimen(**{
            "dcterms:license": words, "ods:hasAssertions": [{
                "@type": "ods:Assertion",
                "dwciri:measurementType": "vocab.nerc.ac.uk/collection/P01/current/LSTAGE01"}]}),
            headers=auth)
        assert response.status_code == 201, response.json


def test_a_link_with_spaces_as_providers_write_it_is_accepted_and_reads_in_every_format(
        client, auth):
    """openDS's own annotation example carries a GBIF query with spaces in it: the link is
    kept as written, and every format serves it percent-encoded."""
    link = "https://api.gbif.org/v1/occurrence/search?catalogNumber=B -W 00965 -02 0"
    response = client.post("/api/v1/digital-specimens", json=specimen(**{
        "dcterms:license": link}), headers=auth)
    assert response.status_code == 201, response.json
    assert response.json["dcterms:license"] == link
    path = "/" + response.json["@id"].split("/", 3)[3]
    for accept, rdf_format in RDF_FORMATS.items():
        served = client.get(path, headers={"Accept": accept})
        assert served.status_code == 200
        objects = {str(o) for o in Graph().parse(data=served.text, format=rdf_format).objects()}
        assert link.replace(" ", "%20") in objects, (accept, objects)
    assert "B%20-W" in client.get(path).headers.get("Link", "")


def stored_unchecked(service: FDOService, kind: str, client_part: dict) -> VersionRecord:
    """An object as a version without today's checks left it in S3 and the index."""
    record = service.writes.draft(kind, "10.82621/" + client_part.pop("suffix"), client_part,
                                  AGENT.agent)
    with ThreadPoolExecutor(1) as pool:
        [written] = service.writes.finish_writes(service.writes.start_writes([record], pool))
    assert written.written and isinstance(written.record, VersionRecord)
    return written.record


def test_links_stored_before_they_were_checked_break_no_read_through_gunicorn(
        gunicorn, service):
    """Someone else's specimen: the media object that points at it carries a link no
    header can hold, and that specimen's every format still answers 200."""
    others = service.create("digital-specimens", specimen(), AGENT)
    own = stored_unchecked(service, "digital-specimens", specimen(
        suffix="AAA-BBB-CCC", **{"dcterms:license": BAD_LINKS[0]}))
    hostile = [stored_unchecked(service, "digital-media", media(suffix=suffix, **{
        "ac:accessURI": link, "dcterms:rights": link,
        "ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": others.content["@id"]}]}))
        for suffix, link in zip(["MMM-MMM-MM1", "MMM-MMM-MM2", "MMM-MMM-MM3", "MMM-MMM-MM4"],
                                BAD_LINKS, strict=True)]
    for record in (others, own, *hostile):
        path = record.content["@id"].split("/", 3)[3]
        for accept in FORMATS:
            response = requests.get(f"{gunicorn}/{path}", headers={"Accept": accept},
                                    timeout=30)
            assert response.status_code == 200, (record.pid, accept, response.text[:300])
            assert "xn--" not in response.headers.get("Link", "") + accept  # left out
            if accept in RDF_FORMATS:
                Graph().parse(data=response.text, format=RDF_FORMATS[accept])
        assert requests.get(f"{gunicorn}/{path}/linkset", timeout=30).status_code == 200


SAMPLE_SIZE = "/ods:hasEvents/0/dwc:sampleSizeValue"  # {"type": "number"} in the schema


def with_sample_size(number: str) -> str:
    """A specimen whose event's sample size is `number`, as raw JSON text."""
    body = specimen(**{"ods:hasEvents": [{"@type": "ods:Event", "dwc:sampleSizeValue": 0}]})
    return json.dumps(body).replace('"dwc:sampleSizeValue": 0', f'"dwc:sampleSizeValue": {number}')


@pytest.mark.parametrize("number", ["1e999", "-1e999", "9" * 401, "-" + "9" * 401,
                                    str(2**53)])
def test_numbers_json_cannot_carry_are_refused_naming_the_term(client, auth, number):
    response = client.post("/api/v1/digital-specimens", data=with_sample_size(number),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.json
    [error] = response.json["errors"]
    assert error["path"] == SAMPLE_SIZE and "number" in error["message"]


@pytest.mark.parametrize("number", ["1e308", "-0.5", str(2**53 - 1), "1.5e-300"])
def test_numbers_every_format_carries_are_accepted(client, auth, number):
    response = client.post("/api/v1/digital-specimens", data=with_sample_size(number),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_numbers_are_not_json(client, auth, literal):
    text = json.dumps(specimen()).replace('"PreservedSpecimen"', literal)
    response = client.post("/api/v1/digital-specimens", data=text, headers={
        **auth, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["code"] == "malformed_json"


def test_numbers_json_cannot_carry_are_refused_through_gunicorn(gunicorn, service):
    token = create_token(service.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    fine = requests.post(f"{gunicorn}/api/v1/digital-specimens", headers=headers, timeout=30,
                         data=with_sample_size(str(2**53 - 1)))
    assert fine.status_code == 201
    path = fine.json()["@id"].split("/", 3)[3]
    for number in ("1e999", "9" * 401):
        refused = requests.post(f"{gunicorn}/api/v1/digital-specimens", timeout=30,
                                data=with_sample_size(number), headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == (
            SAMPLE_SIZE)
        patched = requests.patch(
            f"{gunicorn}/api/v1/digital-specimens/{path}", timeout=30,
            data=f'[{{"op": "replace", "path": "{SAMPLE_SIZE}", "value": {number}}}]',
            headers={**headers, "Content-Type": "application/json-patch+json",
                     "If-Match": fine.headers["ETag"]})
        assert patched.status_code == 422
    for accept in FORMATS:
        assert requests.get(f"{gunicorn}/{path}", headers={"Accept": accept},
                            timeout=30).status_code == 200
