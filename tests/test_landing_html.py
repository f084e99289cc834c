"""The HTML landing pages, rendered without a server and read back with an HTML5 parser
(html5lib in strict mode fails on any parse error)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pytest

from resolver.pids import pid_url
from resolver.renderers.html import (
    HistoryEntry,
    LandingPage,
    Related,
    render_error,
    render_landing,
)
from resolver.signposting import Link
from tests import records
from tests.material import files

BASE = "http://fdo.test"
PID = "10.82621/ABC-DEF-GHJ"
TOMBSTONE = {
    "@type": "ods:Tombstone",
    "ods:tombstoneDate": "2026-11-23T09:30:00.000Z",
    "ods:tombstoneText": "Duplicate of another specimen record",
    "ods:hasAgents": [{"@type": "schema:Person", "schema:name": "Ada Curator"}],
    "ods:hasRelatedPIDs": [{"dcterms:identifier": f"{BASE}/10.82621/XYZ-XYZ-XYZ",
                            "ods:relationshipType": "IsReplacedWith"}],
}


def stored(content: dict[str, Any], kind: str, version: int, pid: str = PID) -> dict[str, Any]:
    """`content` with the server fields a stored object carries."""
    types = {"digital-specimens": "ods:DigitalSpecimen", "digital-media": "ods:DigitalMedia",
             "annotations": "ods:Annotation"}
    url = pid_url(BASE, pid)
    server = ("@id", "@type", "dcterms:identifier", "ods:version", "ods:status",
              "dcterms:created", "dcterms:modified")
    client = {k: v for k, v in content.items() if k not in server}
    return {"@id": url, "@type": types[kind], "dcterms:identifier": url, "ods:version": version,
            "ods:status": "Active", "dcterms:created": "2026-11-20T08:00:00.000Z",
            "dcterms:modified": f"2026-11-2{version}T08:00:00.000Z", **client}


def history(versions: int, shown: int, base_url: str = BASE) -> list[HistoryEntry]:
    summaries = {1: "created"}
    return [HistoryEntry(version=n, url=pid_url(base_url, PID, n),
                         created=f"2026-11-2{n}T08:00:00.000Z", agent_name="Ada Curator",
                         activity="Create" if n == 1 else "Update",
                         summary=summaries.get(n, "changed dwc:basisOfRecord"),
                         current=n == shown)
            for n in range(1, versions + 1)]


def landing_page(content: dict[str, Any], kind: str = "digital-specimens", version: int = 1,
                 latest: int = 1, related: list[Related] | None = None,
                 base_url: str = BASE) -> LandingPage:
    """A page as the resolver view would fill it."""
    url = pid_url(base_url, PID)
    tombstone = content.get("ods:hasTombstoneMetadata")
    return LandingPage(
        content=content, pid=PID, pid_url=url, version=version, latest_version=latest,
        kind=kind, history=history(latest, version, base_url), related=related or [],
        links=[Link(f"{url}/{version}", "cite-as"),
               Link(f"{url}/{version}?format=jsonld", "describedby", "application/ld+json",
                    "https://schema.org/"),
               Link("https://schema.org/Thing", "type")],
        citation=f"Ada Curator (2026). Specimen record (Version {version}). {url}/{version}",
        schema_org={"@context": "https://schema.org", "@type": "Thing", "@id": url,
                    "name": "A </script><script>alert(1)</script> name", "version": version},
        formats=[("JSON-LD", f"{url}/{version}?format=jsonld"),
                 ("Turtle", f"{url}/{version}?format=ttl")],
        tombstone=tombstone if isinstance(tombstone, dict) else None,
        base_url=base_url,
    )


def parse(document: str) -> Element:
    """The document as an element tree; html5lib strict raises on every parse error."""
    assert document.startswith("<!DOCTYPE html>")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    tree: Element = parser.parse(document)
    return tree


def text_of(tree: Element) -> str:
    return " ".join(" ".join(tree.itertext()).split())


def hrefs(tree: Element) -> list[str]:
    return [a.get("href", "") for a in tree.iter("a")]


def by_class(tree: Element, tag: str, name: str) -> list[Element]:
    return [e for e in tree.iter(tag) if name in (e.get("class") or "").split()]


KIND_OF_TYPE = {"ods:DigitalSpecimen": "digital-specimens", "ods:DigitalMedia": "digital-media"}
OUR_RECORDS = [("records.specimen", "digital-specimens", records.specimen()),
               ("records.media", "digital-media", records.media()),
               ("records.annotation", "annotations",
                records.annotation(pid_url(BASE, "10.82621/XYZ-XYZ-XYZ")))]


def expected_facts(kind: str, content: dict[str, Any]) -> list[str]:
    """What a curator must find on the page, read straight from the openDS paths."""
    if kind == "annotations":
        return [*content["oa:hasBody"]["oa:value"], content["dcterms:creator"]["schema:name"]]
    if kind == "digital-media":
        keys = ("dcterms:title", "dcterms:format", "ods:organisationName", "ac:accessURI")
        return [content[key] for key in keys if key in content]
    event = (content.get("ods:hasEvents") or [{}])[0]
    location = event.get("ods:hasLocation", {})
    values = [content["ods:physicalSpecimenID"], content.get("ods:organisationName"),
              event.get("dwc:eventDate"), location.get("dwc:locality"),
              location.get("dwc:country")]
    return [value for value in values if value]


def expected_name(content: dict[str, Any]) -> str:
    """The verified identification's taxon name, else the first taxon name, else the
    specimen name."""
    identifications = content.get("ods:hasIdentifications") or []
    ordered = [i for i in identifications if i.get("ods:isVerifiedIdentification")]
    for identification in ordered + identifications:
        for taxon in identification.get("ods:hasTaxonIdentifications", [])[:1]:
            return str(taxon["dwc:scientificName"])
    return str(content["ods:specimenName"])


@pytest.mark.parametrize(("name", "kind", "content"), OUR_RECORDS,
                         ids=[name for name, _, _ in OUR_RECORDS])
def test_sample_records_render_as_valid_html5_with_their_facts(
        name: str, kind: str, content: dict[str, Any]) -> None:
    assert_renders_with_its_facts(kind, content)


# The upstream-invalid ones too: their content is realistic.
@pytest.mark.parametrize("path", files("samples/opends-records", "**/*.json"))
def test_real_records_render_as_valid_html5_with_their_facts(path: Path) -> None:
    content = json.loads(path.read_text(encoding="utf-8"))
    assert_renders_with_its_facts(KIND_OF_TYPE[content["@type"]], content)


def assert_renders_with_its_facts(kind: str, content: dict[str, Any]) -> None:
    page = landing_page(stored(content, kind, 1), kind)
    tree = parse(render_landing(page))
    shown = text_of(tree)
    for fact in expected_facts(kind, content):
        assert " ".join(fact.split()) in shown, fact
    if kind == "digital-specimens":
        assert text_of(next(tree.iter("h1"))) == expected_name(content)
    assert tree.find(".//head/meta[@name='viewport']") is not None


def test_italic_name_from_the_html_label() -> None:
    taxon = {"@type": "ods:TaxonIdentification", "dwc:scientificName": "Acalypha L.",
             "ods:scientificNameHTMLLabel": "<i>Acalypha</i> L."}
    content = records.specimen(**{"ods:hasIdentifications": [
        {"@type": "ods:Identification", "ods:isVerifiedIdentification": True,
         "ods:hasTaxonIdentifications": [taxon]}]})
    tree = parse(render_landing(landing_page(stored(content, "digital-specimens", 1))))
    heading = next(tree.iter("h1"))
    assert [(e.tag, e.text) for e in heading] == [("i", "Acalypha")]
    assert text_of(heading) == "Acalypha L."


def test_every_version_is_linked_and_the_shown_one_marked() -> None:
    tree = parse(render_landing(landing_page(stored(records.specimen(), "digital-specimens", 2),
                                             version=2, latest=3)))
    links = hrefs(tree)
    for version in (1, 2, 3):
        assert pid_url(BASE, PID, version) in links
    current = [a.get("href") for a in tree.iter("a") if a.get("aria-current") == "page"]
    assert current == [pid_url(BASE, PID, 2)]
    history = text_of(next(e for e in tree.iter("section") if e.get("id") == "history"))
    assert "created" in history and "changed dwc:basisOfRecord" in history
    assert "Ada Curator" in history and "2026-11-23 08:00 UTC" in history
    [notice] = by_class(tree, "p", "old")
    assert [a.get("href") for a in notice.iter("a")] == [pid_url(BASE, PID)]


def test_latest_version_has_no_earlier_version_notice() -> None:
    tree = parse(render_landing(landing_page(stored(records.specimen(), "digital-specimens", 2),
                                             version=2, latest=2)))
    assert by_class(tree, "p", "old") == []
    assert "Version 2 of 2" in text_of(tree)


def test_json_ld_script_is_schema_org_and_cannot_close_its_element() -> None:
    page = landing_page(stored(records.specimen(), "digital-specimens", 1))
    document = render_landing(page)
    [script] = [s for s in parse(document).iter("script")]
    assert script.get("type") == "application/ld+json"
    assert json.loads(script.text or "") == page.schema_org
    # the name holds "</script><script>alert(1)": only the real end tag may appear
    assert document.count("</script>") == 1 and "alert(1)</script>" not in document


def test_signposting_links_are_in_the_head() -> None:
    page = landing_page(stored(records.specimen(), "digital-specimens", 1))
    head = parse(render_landing(page)).find("head")
    assert head is not None
    found = {(e.get("rel"), e.get("href"), e.get("type"), e.get("profile"))
             for e in head.iter("link")}
    assert {(link.rel, link.href, link.type, link.profile) for link in page.links} <= found


def test_no_external_assets_only_lazy_thumbnails_of_the_media() -> None:
    media = records.media(**{"dcterms:title": "Dorsal view"})
    related = [Related(pid_url(BASE, "10.82621/MED-IAA-AAA"), "digital-media", media)]
    document = render_landing(landing_page(stored(records.specimen(), "digital-specimens", 1),
                                           related=related))
    tree = parse(document)
    assert [e for e in tree.iter("link") if "stylesheet" in (e.get("rel") or "")] == []
    assert [e for e in tree.iter("script") if e.get("src") is not None] == []
    assert "@import" not in document and "url(" not in document
    [image] = list(tree.iter("img"))
    assert image.get("src") == media["ac:accessURI"]
    assert image.get("loading") == "lazy" and image.get("alt") == "StillImage: Dorsal view"
    assert image.get("width") and image.get("height")
    assert pid_url(BASE, "10.82621/MED-IAA-AAA") in hrefs(tree)
    icons = [e.get("href") for e in tree.iter("link") if e.get("rel") == "icon"]
    assert icons == ["data:,"]  # no request for /favicon.ico


def test_annotations_on_the_object_are_listed() -> None:
    note = records.annotation(pid_url(BASE, PID), **{"oa:hasTarget": {
        "@id": pid_url(BASE, PID), "@type": "ods:DigitalSpecimen",
        "oa:hasSelector": {"@type": "ods:TermSelector",
                           "ods:term": "$['ods:hasEvents'][0]['dwc:eventDate']"}}})
    url = pid_url(BASE, "20.500.14920/ANN-AAA-AAA")
    tree = parse(render_landing(landing_page(stored(records.specimen(), "digital-specimens", 1),
                                             related=[Related(url, "annotations", note)])))
    assert url in hrefs(tree)
    shown = text_of(tree)
    assert "Label says Leiden" in shown and "on dwc:eventDate" in shown
    assert "Ada Curator · 2026-11-22 10:00 UTC" in shown


def test_provider_html_in_the_scientific_name_is_neutralised() -> None:
    label = ('<i onmouseover="steal()">Bombus</i> <script>alert("x")</script>'
             '<b>terrestris</b> <em class="a">L.<img src=x onerror=alert(2)></em>')
    identification = {"@type": "ods:Identification", "ods:isVerifiedIdentification": True,
                      "ods:hasTaxonIdentifications": [{
                          "@type": "ods:TaxonIdentification",
                          "dwc:scientificName": "Bombus terrestris L.",
                          "ods:scientificNameHTMLLabel": label}]}
    content = stored(records.specimen(**{"ods:hasIdentifications": [identification]}),
                     "digital-specimens", 1)
    document = render_landing(landing_page(content))
    tree = parse(document)
    heading = next(tree.iter("h1"))
    assert [(e.tag, dict(e.attrib)) for e in heading.iter() if e is not heading] == [
        ("i", {}), ("em", {})]
    assert text_of(heading) == "Bombus terrestris L."
    assert [s.get("type") for s in tree.iter("script")] == ["application/ld+json"]
    assert "alert(" not in document.replace("alert(1)", "") and "steal()" not in document
    assert list(tree.iter("img")) == []


def test_a_label_without_text_falls_back_to_the_plain_name() -> None:
    identification = {"@type": "ods:Identification", "ods:hasTaxonIdentifications": [{
        "@type": "ods:TaxonIdentification", "dwc:scientificName": "Apis <mellifera>",
        "ods:scientificNameHTMLLabel": "<script>alert(3)</script>"}]}
    content = stored(records.specimen(**{"ods:hasIdentifications": [identification]}),
                     "digital-specimens", 1)
    heading = next(parse(render_landing(landing_page(content))).iter("h1"))
    assert text_of(heading) == "Apis <mellifera>" and list(heading) == []


def test_unsafe_urls_from_providers_are_not_links() -> None:
    content = stored(records.media(**{"ac:accessURI": "javascript:alert(4)",
                                      "ods:organisationID": "javascript:alert(5)"}),
                     "digital-media", 1)
    tree = parse(render_landing(landing_page(content, "digital-media")))
    assert [h for h in hrefs(tree) if not h.startswith(("http://", "https://"))] == []
    assert list(tree.iter("img")) == []
    assert "javascript:alert(5)" in text_of(tree)  # still shown, as text


def test_tombstone_page_shows_reason_date_successor_and_history() -> None:
    content = {**stored(records.specimen(), "digital-specimens", 3),
               "ods:status": "Tombstone", "ods:hasTombstoneMetadata": TOMBSTONE}
    tree = parse(render_landing(landing_page(content, version=3, latest=3)))
    [notice] = by_class(tree, "section", "tomb")
    shown = text_of(notice)
    assert "Duplicate of another specimen record" in shown
    assert "2026-11-23 09:30 UTC" in shown and "Ada Curator" in shown
    successor = f"{BASE}/10.82621/XYZ-XYZ-XYZ"
    assert [a.get("href") for a in by_class(notice, "a", "successor")] == [successor]
    assert {pid_url(BASE, PID, n) for n in (1, 2, 3)} <= set(hrefs(tree))
    assert "Tombstoned" in text_of(tree)


def test_tombstone_successor_given_as_is_replaced_by() -> None:
    tombstone = {**TOMBSTONE, "ods:hasRelatedPIDs": [],
                 "dcterms:isReplacedBy": f"{BASE}/10.82621/NEW-NEW-NEW"}
    content = {**stored(records.specimen(), "digital-specimens", 2),
               "ods:hasTombstoneMetadata": tombstone}
    tree = parse(render_landing(landing_page(content, version=2, latest=2)))
    assert [a.get("href") for a in by_class(tree, "a", "successor")] == [
        f"{BASE}/10.82621/NEW-NEW-NEW"]


@pytest.mark.parametrize("kind", ["digital-specimens", "digital-media", "annotations"])
def test_records_with_almost_no_fields_still_render(kind: str) -> None:
    content = {"@id": pid_url(BASE, PID), "ods:version": 1, "ods:hasEvents": "odd",
               "ods:hasIdentifications": [None, {"ods:hasTaxonIdentifications": {}}]}
    tree = parse(render_landing(landing_page(content, kind)))
    assert text_of(next(tree.iter("h1")))
    assert "This record holds no descriptive details." in text_of(tree)


@pytest.mark.parametrize(("status", "title"), [(400, "Bad request"), (404, "Not found"),
                                               (406, "Not acceptable"), (410, "Gone")])
def test_error_pages_are_valid_and_escape_the_message(status: int, title: str) -> None:
    document = render_error(status, title, "No object has the PID <10.82621/ABC>.", BASE)
    tree = parse(document)
    assert text_of(next(tree.iter("title"))).startswith(f"{status} {title}")
    assert "No object has the PID <10.82621/ABC>." in text_of(tree)
    assert "<10.82621" not in document
    assert f"{BASE}/" in hrefs(tree)


def test_rendering_leaves_the_content_unchanged() -> None:
    """Contents come from a cache of immutable versions: rendering must not touch them."""
    content = stored(records.specimen(), "digital-specimens", 1)
    before = copy.deepcopy(content)
    render_landing(landing_page(content))
    assert content == before


def test_collection_event_date_place_coordinates_and_collectors() -> None:
    event = {"@type": "ods:Event", "dwc:eventDate": "2006-08-22",
             "ods:hasAgents": [{"@type": "schema:Person", "schema:name": "Rivera, A.M.",
                                "ods:hasRoles": [{"@type": "schema:Role",
                                                  "schema:roleName": "collector"}]}],
             "ods:hasLocation": {"@type": "ods:Location", "dwc:locality": "Cinquera",
                                 "dwc:countryCode": "SV", "ods:hasGeoreference": {
                                     "@type": "ods:Georeference", "dwc:decimalLatitude": 13.88333,
                                     "dwc:decimalLongitude": -88.93333}}}
    content = stored(records.specimen(**{"ods:hasEvents": [{"@type": "ods:Event"}, event]}),
                     "digital-specimens", 1)
    facts = by_class(parse(render_landing(landing_page(content))), "dl", "facts")[0]
    pairs = dict(zip([text_of(e) for e in facts.iter("dt")],
                     [text_of(e) for e in facts.iter("dd")], strict=True))
    assert pairs["Collected"] == "2006-08-22" and pairs["Place"] == "Cinquera, SV"
    assert pairs["Coordinates"] == "13.88333, -88.93333"
    assert pairs["Collectors"] == "Rivera, A.M."
    assert pairs["Catalogue number"] == content["ods:physicalSpecimenID"]
    assert pairs["Institution"] == "https://ror.org/0566bfb96 Search its objects"
