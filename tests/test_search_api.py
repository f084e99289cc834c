"""The search API through the app, on SQLite (FTS5) and on PostgreSQL (tsvector, pg_trgm):
what a write returns is found by the next request; filters, facets, sorts and cursors
agree with each other; nothing a client types reaches an engine as syntax."""

from __future__ import annotations

from typing import Any

import pytest

from repository.access import trusted
from repository.provenance import Agent
from storage import search_reads
from tests.records import annotation, media, specimen

AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
SPECIMENS = "digital-specimens"


@pytest.fixture(params=["few hits", "many hits"])
def hit_path(request, monkeypatch):
    """Both ways a page is read: the hits' ids ordered by SQL (few hits), or the
    candidates read in sort order, each checked against the hits (many). And both ways
    term filters on fields with many values meet: each checked per row of the first (it
    matches up to FEW_FIRST), or read into a temporary index. Each way is forced here by
    its threshold."""
    if request.param == "many hits":
        monkeypatch.setattr(search_reads, "WALK_ROWS", {"sqlite": 10**9, "postgresql": 10**9})
        monkeypatch.setattr(search_reads, "FEW_FIRST", 0)
    else:
        monkeypatch.setattr(search_reads, "WALK_ROWS", {"sqlite": 0, "postgresql": 0})


def place(country: str, code: str, locality: str, latitude: float, longitude: float,
          date: str = "1931-05-17", collector: str = "J. Monterrosa") -> dict[str, Any]:
    return {"ods:hasEvents": [{
        "@type": "ods:Event", "dwc:eventDate": date,
        "ods:hasAgents": [{"@type": "schema:Person", "schema:name": collector}],
        "ods:hasLocation": {
            "@type": "ods:Location", "dwc:country": country, "dwc:countryCode": code,
            "dwc:locality": locality,
            "ods:hasGeoreference": {"@type": "ods:Georeference",
                                    "dwc:decimalLatitude": latitude,
                                    "dwc:decimalLongitude": longitude}}}]}


def taxon(name: str, author: str, family: str, kingdom: str = "Animalia",
          type_status: str | None = None) -> dict[str, Any]:
    identification: dict[str, Any] = {
        "@type": "ods:Identification", "ods:isVerifiedIdentification": False,
        "ods:hasTaxonIdentifications": [{
            "@type": "ods:TaxonIdentification", "dwc:scientificName": f"{name} {author}",
            "dwc:scientificNameAuthorship": author, "dwc:kingdom": kingdom,
            "dwc:family": family, "dwc:genus": name.split()[0], "dwc:taxonRank": "SPECIES"}]}
    if type_status:
        identification["dwc:typeStatus"] = type_status
    return {"ods:specimenName": f"{name} {author}", "ods:hasIdentifications": [identification]}


NATURALIS = {"ods:organisationName": "Naturalis Biodiversity Center"}


def carabus_in_belgium(**fields: Any) -> dict[str, Any]:
    return specimen(**NATURALIS, **taxon("Carabus auratus", "Linnaeus, 1761", "Carabidae",
                            type_status="holotype"),
                    **place("Belgium", "BE", "Brussels, Forêt de Soignes", 50.78, 4.42),
                    **fields)


def bee_in_kenya(**fields: Any) -> dict[str, Any]:
    return specimen(**NATURALIS, **taxon("Apis mellifera", "Linnaeus, 1758", "Apidae"),
                    **place("Kenya", "KE", "Kakamega Forest", 0.28, 34.87, "1998-02-03",
                            "K. Wanjiru"), **fields)


def oak_in_fiji(**fields: Any) -> dict[str, Any]:
    return specimen(**NATURALIS, **taxon("Quercus robur", "L.", "Fagaceae", kingdom="Plantae"),
                    **place("Fiji", "FJ", "Taveuni, collected near the coast", -16.8,
                            179.9, "1875"), **fields)


def search(client, query: str, kind: str = SPECIMENS, status: int = 200) -> dict[str, Any]:
    path = f"/api/v1/{kind}/search" if kind else "/api/v1/search"
    response = client.get(f"{path}?{query}")
    assert response.status_code == status, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def pids(body: dict[str, Any]) -> set[str]:
    return {hit["pid"] for hit in body["hits"]}


def create(service, document: dict[str, Any], kind: str = SPECIMENS):
    return service.create(kind, document, AGENT)


def test_a_created_specimen_is_found_by_the_next_request_in_every_field(client, app):
    service = app.extensions["fdo"]
    record = create(service, carabus_in_belgium())
    catalogue = record.content["ods:physicalSpecimenID"]
    for words in ("carabus", "Carab", "CARABUS auratus", "Linnaeus", "Soignes", "Belgium",
                  "Monterrosa", catalogue, "Carabidae", "Naturalis"):
        assert pids(search(client, f"q={words}")) == {record.pid}, words
    hit = search(client, "q=carabus")["hits"][0]
    assert hit["@id"] == f"http://fdo.test/{record.pid}"
    assert (hit["name"], hit["catalogueNumber"], hit["eventDate"]) == (
        "Carabus auratus Linnaeus, 1761", catalogue, "1931-05-17")
    assert hit["organisation"]["@id"] == "https://ror.org/0566bfb96"
    assert "<mark>Carabus</mark>" in hit["snippet"]
    assert search(client, "q=lepidoptera")["total"] == 0


def test_words_match_by_stem_and_by_prefix(client, app):
    record = create(app.extensions["fdo"], oak_in_fiji())
    assert pids(search(client, "q=collecting")) == {record.pid}  # stem of "collected"
    assert pids(search(client, "q=tave")) == {record.pid}  # prefix of "Taveuni"


def test_by_relevance_names_holding_more_of_the_words_come_first_then_the_latest(
        client, app):
    """Every hit holds every word; relevance orders them by how many of the words the
    name holds, then the latest added first."""
    service = app.extensions["fdo"]
    first = create(service, carabus_in_belgium())
    named_after = create(service, specimen(**NATURALIS, **taxon("Apis mellifera", "L.", "Apidae"),
                                           **place("Belgium", "BE", "Carabus Valley", 50.1, 4.1)))
    latest = create(service, carabus_in_belgium())
    create(service, oak_in_fiji())  # holds neither word
    for query, order in (("q=carabus", [latest, first, named_after]),
                         ("q=belgium+carabus", [latest, first, named_after]),
                         ("q=carabus+auratus", [latest, first]),
                         ("q=valley+apis", [named_after]),
                         ("q=belgium", [latest, named_after, first])):
        hits = search(client, f"{query}&sort=relevance")["hits"]
        assert [hit["pid"] for hit in hits] == [record.pid for record in order], query
    walked = search(client, "q=carabus&pageSize=1")
    pages = [walked["hits"][0]["pid"]]
    while walked["next"]:
        walked = search(client, walked["next"].split("?", 1)[1])
        pages += [hit["pid"] for hit in walked["hits"]]
    assert pages == [latest.pid, first.pid, named_after.pid]


@pytest.mark.parametrize("typed", ['"unbalanced', "AND(", "carabus OR", "NEAR(a b)", "*",
                                   "col:value", "a'b", "\\", "^carabus", "((((", "-carabus",
                                   "carabus" * 200, "🦋 beetle", "\u0000x"])
def test_what_a_client_types_is_searched_for_never_parsed(client, app, typed):
    create(app.extensions["fdo"], carabus_in_belgium())
    response = client.get("/api/v1/digital-specimens/search", query_string={"q": typed})
    assert response.status_code == 200, response.get_json()
    assert isinstance(response.get_json()["total"], int)


def test_filters_are_or_within_a_field_and_across_fields(client, app, hit_path):
    service = app.extensions["fdo"]
    beetle = create(service, carabus_in_belgium())
    bee = create(service, bee_in_kenya())
    oak = create(service, oak_in_fiji())
    assert pids(search(client, "country=Belgium")) == {beetle.pid}
    assert pids(search(client, "country=belgium&country=Kenya")) == {beetle.pid, bee.pid}
    assert pids(search(client, "countryCode=FJ")) == {oak.pid}
    assert pids(search(client, "kingdom=Animalia&country=Kenya")) == {bee.pid}
    assert pids(search(client, "kingdom=Plantae&country=Kenya")) == set()
    assert pids(search(client, "typeStatus=Holotype&family=Carabidae&genus=Carabus"
                               "&organisationID=http://ror.org/0566bfb96")) == {beetle.pid}
    assert pids(search(client, "recordedBy=k.%20wanjiru")) == {bee.pid}
    assert pids(search(client, "specimenName=Apis%20mellifera")) == {bee.pid}
    assert pids(search(client, "species=Quercus%20robur")) == {oak.pid}
    assert pids(search(client, f"physicalSpecimenID={oak.content['ods:physicalSpecimenID']}"
                       )) == {oak.pid}
    assert pids(search(client, "basisOfRecord=PreservedSpecimen")) == {
        beetle.pid, bee.pid, oak.pid}


def test_date_ranges_and_boxes(client, app, hit_path):
    service = app.extensions["fdo"]
    beetle = create(service, carabus_in_belgium())  # 1931-05-17, 50.78 N 4.42 E
    bee = create(service, bee_in_kenya())  # 1998-02-03, 0.28 N 34.87 E
    oak = create(service, oak_in_fiji())  # 1875, 16.8 S 179.9 E
    assert pids(search(client, "eventDate=1900..1950")) == {beetle.pid}
    assert pids(search(client, "eventDate=..1931-05")) == {beetle.pid, oak.pid}
    assert pids(search(client, "eventDate=1931-05-18..")) == {bee.pid}
    assert pids(search(client, "eventDate=1875")) == {oak.pid}
    assert pids(search(client, "eventDate=1875&eventDate=1998")) == {oak.pid, bee.pid}
    assert pids(search(client, "bbox=0,40,10,60")) == {beetle.pid}
    # Across the antimeridian: from 170 E eastwards to 170 W.
    assert pids(search(client, "bbox=170,-30,-170,0")) == {oak.pid}
    for bad in ("eventDate=1950..1900", "eventDate=19xx", "bbox=1,2,3", "bbox=0,50,10,40",
                "bbox=0,0,200,10", "bbox=nan,0,1,1"):
        assert search(client, bad, status=400)["errors"][0]["path"] == bad.split("=")[0]


def test_facet_counts_are_the_totals_of_the_searches_they_link_to(client, app, hit_path):
    service = app.extensions["fdo"]
    for document in (carabus_in_belgium(), carabus_in_belgium(), bee_in_kenya(),
                     oak_in_fiji()):
        create(service, document)
    body = search(client, "facet=country&facet=kingdom&facet=year&facet=typeStatus"
                          "&facet=organisation&facet=hasMedia")
    assert body["facets"]["country"] == [{"value": "Belgium", "count": 2},
                                         {"value": "Fiji", "count": 1},
                                         {"value": "Kenya", "count": 1}]
    assert body["facets"]["organisation"] == [{
        "value": "https://ror.org/0566bfb96", "count": 4,
        "label": "Naturalis Biodiversity Center"}]
    filters = {"country": "country", "kingdom": "kingdom", "year": "year",
               "typeStatus": "typeStatus", "organisation": "organisationID",
               "hasMedia": "hasMedia"}
    for facet, values in body["facets"].items():
        for value in values:
            narrowed = search(client, f"{filters[facet]}={value['value']}")
            assert narrowed["total"] == value["count"], (facet, value)
    within = search(client, "q=carabus&facet=country")
    assert within["facets"]["country"] == [{"value": "Belgium", "count": 2}]


@pytest.mark.parametrize("sort", ["modified", "-modified", "catalogueNumber",
                                  "-catalogueNumber", "eventDate", "-eventDate", "relevance"])
def test_a_cursor_walks_every_hit_once_in_order(client, app, sort, hit_path):
    service = app.extensions["fdo"]
    made = {create(service, document).pid for document in
            [carabus_in_belgium() for _ in range(4)] + [bee_in_kenya() for _ in range(4)]
            + [oak_in_fiji() for _ in range(3)]}
    # Relevance needs words: one every record shares (their institution).
    # A filter every record passes: the walk goes through the matching ids.
    body = search(client, f"sort={sort}&pageSize=3&basisOfRecord=PreservedSpecimen"
                  + ("&q=Naturalis" if sort == "relevance" else ""))
    walked, values = [], []
    key = {"modified": "modified", "catalogueNumber": "catalogueNumber",
           "eventDate": "eventDate"}.get(sort.lstrip("-"))
    while True:
        assert body["total"] == len(made)
        walked += [hit["pid"] for hit in body["hits"]]
        values += [hit[key] or "" for hit in body["hits"]] if key else []
        if not body["next"]:
            break
        assert len(body["hits"]) == 3
        body = search(client, body["next"].split("?", 1)[1], kind=SPECIMENS)
    assert sorted(walked) == sorted(made)
    if key and key != "catalogueNumber":
        assert values == sorted(values, reverse=sort.startswith("-"))
    if key == "catalogueNumber":
        folded = [value.casefold() for value in values]
        assert folded == sorted(folded, reverse=sort.startswith("-"))


def test_a_cursor_is_one_the_repository_signed_for_that_sort(client, app):
    service = app.extensions["fdo"]
    for _ in range(3):
        create(service, bee_in_kenya())
    cursor = search(client, "pageSize=1&sort=eventDate")["cursor"]
    assert search(client, f"pageSize=1&sort=eventDate&cursor={cursor}")["hits"]
    assert search(client, f"sort=modified&cursor={cursor}", status=400)["errors"][0][
        "path"] == "cursor"
    forged = "W1siZXZlbnREYXRlIixmYWxzZSwiMTk5OCIsMV1d.AAAA"
    for bad in (forged, "x", cursor[:-2], "." * 20):
        assert search(client, f"sort=eventDate&cursor={bad}", status=400)["code"] == \
            "bad_request"


def test_an_update_and_a_tombstone_change_what_is_found(client, app):
    service = app.extensions["fdo"]
    record = create(service, carabus_in_belgium())
    prefix, suffix = record.pid.split("/")
    changed = {**record.content, **taxon("Carabus violaceus", "Linnaeus, 1758", "Carabidae")}
    service.replace(SPECIMENS, prefix, suffix, changed, record.digest, AGENT)
    assert search(client, "q=auratus")["total"] == 0
    assert search(client, "q=violaceus")["hits"][0]["version"] == 2
    service.tombstone(SPECIMENS, prefix, suffix, "duplicate", None, None, AGENT)
    assert search(client, "q=violaceus")["total"] == 0
    gone = search(client, "q=violaceus&status=tombstone")
    assert (gone["total"], gone["hits"][0]["status"]) == (1, "Tombstone")
    assert search(client, "q=violaceus&status=any")["total"] == 1
    assert search(client, "status=deleted", status=400)["errors"][0]["path"] == "status"


def test_has_media_follows_the_media_linked_with_a_specimen(client, app):
    service = app.extensions["fdo"]
    with_media, without = create(service, bee_in_kenya()), create(service, bee_in_kenya())
    relation = [{"@type": "ods:EntityRelationship",
                 "dwc:relationshipOfResource": "hasDigitalSpecimen",
                 "dwc:relatedResourceID": f"https://doi.org/{with_media.pid}"}]
    picture = create(service, media(**{"ods:hasEntityRelationships": relation}),
                     kind="digital-media")
    assert pids(search(client, "hasMedia=true")) == {with_media.pid}
    assert pids(search(client, "hasMedia=false")) == {without.pid}
    hit = search(client, "hasMedia=true")["hits"][0]
    assert hit["thumbnail"] == picture.content["ac:accessURI"]
    assert search(client, "hasMedia=maybe", status=400)["errors"][0]["path"] == "hasMedia"
    prefix, suffix = picture.pid.split("/")
    service.tombstone("digital-media", prefix, suffix, "wrong picture", None, None, AGENT)
    assert pids(search(client, "hasMedia=true")) == set()
    assert search(client, "facet=hasMedia")["facets"]["hasMedia"] == [
        {"value": "false", "count": 2}]


def test_annotations_are_found_by_target_motivation_creator_and_value(client, app):
    service = app.extensions["fdo"]
    target = create(service, bee_in_kenya())
    note = create(service, annotation(f"https://doi.org/{target.pid}"), kind="annotations")
    for query in (f"target={target.pid}", f"target=https://doi.org/{target.pid}",
                  "motivation=oa:commenting", "creator=Ada%20Curator",
                  "creator=https://orcid.org/0000-0002-1825-0097", "q=leiden"):
        assert pids(search(client, query, kind="annotations")) == {note.pid}, query
    everything = search(client, "q=leiden", kind="")
    assert {hit["kind"] for hit in everything["hits"]} == {"annotations"}
    assert pids(search(client, "q=kakamega", kind="")) == {target.pid}


def test_suggestions_complete_names_and_catalogue_numbers(client, app):
    service = app.extensions["fdo"]
    for _ in range(2):
        create(service, bee_in_kenya())
    beetle = create(service, carabus_in_belgium(**{"ods:physicalSpecimenID": "RMNH.COL.77"}))

    def suggested(prefix: str) -> list[tuple[str, str]]:
        response = client.get("/api/v1/digital-specimens/search/suggest",
                              query_string={"prefix": prefix})
        assert response.status_code == 200
        return [(s["field"], s["value"]) for s in response.get_json()["suggestions"]]

    assert suggested("apis") == [("specimenName", "Apis mellifera"),
                                 ("specimenName", "Apis mellifera Linnaeus, 1758")]
    assert suggested("rmnh.col") == [("physicalSpecimenID", "RMNH.COL.77")]
    assert suggested("") == []
    assert suggested("CARA")[:2] == [("specimenName", "Carabus auratus"),
                                     ("specimenName", "Carabus auratus Linnaeus, 1761")]
    assert beetle.pid
    response = client.get("/api/v1/digital-specimens/search/suggest?prefix=a&limit=500")
    assert response.status_code == 400


def test_unknown_names_are_refused_with_the_valid_ones(client):
    body = search(client, "colour=red", status=400)
    assert "country" in body["message"] and body["errors"] == [
        {"path": "colour", "message": "is not a search parameter"}]
    body = search(client, "facet=colour", status=400)
    assert "typeStatus" in body["message"]
    for bad in ("pageSize=0", "pageSize=1001", "pageSize=x", "sort=size", "facetSize=0",
                "sort=a&sort=b"):
        assert search(client, bad, status=400)["code"] == "bad_request", bad
    assert client.get("/api/v1/plants/search").status_code == 404


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_names_spelt_like_the_prefix_come_when_none_starts_with_it(
        client, app):
    create(app.extensions["fdo"], carabus_in_belgium())
    create(app.extensions["fdo"], {**carabus_in_belgium(), "ods:specimenName": "Parabus auratus"})

    def suggested(prefix: str) -> list[str]:
        response = client.get(f"/api/v1/digital-specimens/search/suggest?prefix={prefix}")
        return [item["value"] for item in response.get_json()["suggestions"]]

    assert "Carabus auratus" in suggested("carabsu%20aurat")  # misspelt: none starts so
    assert "Parabus auratus" in suggested("parabsu%20aurat")
    prefixed = suggested("carabus%20aur")
    assert "Carabus auratus" in prefixed
    assert not [value for value in prefixed if value.startswith("Parabus")]  # no look-alike


def test_words_inside_markup_are_found_and_the_snippet_escapes_it(client, app):
    document = {**bee_in_kenya(), "ods:specimenName": "<script>alert('sneaky')</script> Apis"}
    record = create(app.extensions["fdo"], document)
    hit = search(client, "q=sneaky")["hits"][0]
    assert hit["pid"] == record.pid
    assert "<script>" not in hit["snippet"] and "&lt;script&gt;" in hit["snippet"]
    assert "<mark>sneaky</mark>" in hit["snippet"]
    assert pids(search(client, "q=script")) == {record.pid}

