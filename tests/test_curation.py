"""Curation by annotation, through the app on real S3 and a real index (SQLite and
PostgreSQL): a proposed change is checked against the target's schema, waits `Pending`,
and a curator of the target's organisation approves it into a new target version whose
patch and provenance say where it came from, or rejects it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from repository.integrity import reconcile
from repository.services import FDOService
from repository.tokens import create_token
from tests.records import specimen

pytestmark = pytest.mark.s3
ORG, OTHER_ORG = "https://ror.org/0566bfb96", "https://ror.org/039zvsn29"
COUNTRY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:country']"
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"


def _headers(client: FlaskClient, name: str, role: str, **scope: str) -> dict[str, str]:
    fdo: FDOService = client.application.extensions["fdo"]
    return {"Authorization": f"Bearer {create_token(fdo.index, name, role, **scope)}"}


@pytest.fixture
def people(client: FlaskClient) -> dict[str, dict[str, str]]:
    return {
        "annotator": _headers(client, "Ann Otator", "annotator", orcid="0000-0002-1825-0097"),
        "curator": _headers(client, "Cur Ator", "curator", organisation=ORG),
        "stranger": _headers(client, "Other Curator", "curator", organisation=OTHER_ORG),
        "owner": _headers(client, "Data Manager", "administrator"),
    }


def _specimen(client: FlaskClient, people: dict[str, dict[str, str]]) -> dict[str, Any]:
    record = specimen(**{"ods:hasEvents": [{"@type": "ods:Event", "ods:hasLocation": {
        "@type": "ods:Location", "dwc:country": "Netherlands", "dwc:locality": "Leiden"}}]})
    created = client.post("/api/v1/digital-specimens", json=record, headers=people["owner"])
    assert created.status_code == 201, created.get_json()
    return dict(created.get_json())


def _proposal(target: dict[str, Any], motivation: str, selector: dict[str, str],
              *values: str) -> dict[str, Any]:
    proposal: dict[str, Any] = {"oa:motivation": motivation,
                                "oa:hasTarget": {"@id": target["@id"],
                                                 "oa:hasSelector": selector}}
    if values:
        proposal["oa:hasBody"] = {"@type": "oa:TextualBody", "oa:value": list(values)}
    return proposal


def _term(path: str) -> dict[str, str]:
    return {"@type": "ods:TermSelector", "ods:term": path}


def _path(url: str, kind: str) -> str:
    return f"/api/v1/{kind}/" + url.removeprefix("http://fdo.test/")


def _decide(client: FlaskClient, annotation: Any, who: dict[str, str], status: str = "Approved",
            **extra: Any) -> Any:
    current = client.get(_path(annotation["@id"], "annotations"))
    return client.post(_path(annotation["@id"], "annotations") + "/decision",
                       json={"ods:mergingDecisionStatus": status, **extra},
                       headers={**who, "If-Match": current.headers["ETag"]})


def _crash_between_the_two_writes(client: FlaskClient, monkeypatch: Any) -> Any:
    """Make the process die (as far as an approval can tell) after the target's version
    is written and before the annotation's; returns what undoes it."""
    writes = client.application.extensions["fdo"].writes
    real_write = writes.write

    def crash_on_the_annotation(record: Any) -> Any:
        if record.kind == "annotations":
            raise ConnectionError("process killed between the two writes")
        return real_write(record)

    monkeypatch.setattr(writes, "write", crash_on_the_annotation)
    return lambda: monkeypatch.setattr(writes, "write", real_write)


def _annotate(client: FlaskClient, people: dict[str, dict[str, str]], target: dict[str, Any],
              *values: str, motivation: str = "oa:editing", path: str = COUNTRY) -> Any:
    response = client.post("/api/v1/annotations",
                           json=_proposal(target, motivation, _term(path), *values),
                           headers=people["annotator"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_proposed_change_waits_pending_with_the_target_version_it_was_made_on(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    assert annotation["ods:mergingDecisionStatus"] == "Pending"
    stored_target = annotation["oa:hasTarget"]
    assert stored_target["@id"] == target["@id"]
    assert stored_target["@type"] == "ods:DigitalSpecimen"
    assert stored_target["oa:hasState"] == {
        "@type": "oa:TimeState", "oa:cachedSource": target["@id"] + "/1",
        "oa:sourceDate": target["dcterms:modified"]}
    # the creator is who signed in, not what the body says
    assert annotation["dcterms:creator"]["schema:name"] == "Ann Otator"


def test_the_same_annotation_sent_twice_is_one_annotation(client, people):
    target = _specimen(client, people)
    first = _annotate(client, people, target, "Belgium")
    again = client.post("/api/v1/annotations",
                        json=_proposal(target, "oa:editing", _term(COUNTRY), "Belgium"),
                        headers=people["annotator"])
    assert again.status_code == 200 and again.get_json()["@id"] == first["@id"]
    other_value = _annotate(client, people, target, "France")
    assert other_value["@id"] != first["@id"]
    someone_else = client.post("/api/v1/annotations",
                               json=_proposal(target, "oa:editing", _term(COUNTRY), "Belgium"),
                               headers=people["curator"])
    assert someone_else.status_code == 201 and someone_else.get_json()["@id"] != first["@id"]


def test_approving_makes_a_target_version_with_exactly_the_change_and_its_provenance(
        client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    decided = _decide(client, annotation, people["curator"], comment="label checked")
    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert body["ods:version"] == 2 and body["ods:mergingDecisionStatus"] == "Approved"
    assert body["ods:hasMergingStateChangedBy"]["schema:name"] == "Cur Ator"
    assert body["ods:mergingStateChangeDate"] >= annotation["dcterms:modified"]
    assert f'<{target["@id"]}/2>; rel="related"' in decided.headers.getlist("Link")

    now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert now["ods:version"] == 2
    assert now["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] == "Belgium"
    event = client.get(_path(target["@id"], "digital-specimens") + "/versions/2/provenance")
    event = event.get_json()
    activity, entity = event["prov:Activity"], event["prov:Entity"]
    assert activity["ods:changeValue"] == [{
        "op": "replace", "path": "/ods:hasEvents/0/ods:hasLocation/dwc:country",
        "value": "Belgium"}]
    annotation_v1 = annotation["@id"] + "/1"
    assert activity["prov:used"] == [target["@id"] + "/1", annotation_v1]
    assert entity["prov:wasDerivedFrom"] == [annotation_v1]
    assert entity["prov:wasAttributedTo"] == [annotation["dcterms:creator"]["@id"]]
    curator = body["ods:hasMergingStateChangedBy"]["@id"]
    assert {"@id": curator, "prov:hadRole": "Requestor"} in activity["prov:wasAssociatedWith"]
    assert "label checked" in activity["rdfs:comment"]
    agents = {agent["@id"]: agent for agent in event["ods:hasAgents"]}
    assert agents[annotation["dcterms:creator"]["@id"]]["ods:hasRoles"][0][
        "schema:roleName"] == "annotator"


def test_rejecting_changes_only_the_annotation(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    decided = _decide(client, annotation, people["curator"], "Rejected", comment="no")
    assert decided.status_code == 200
    assert decided.get_json()["ods:mergingDecisionStatus"] == "Rejected"
    assert "Link" not in decided.headers or 'rel="related"' not in decided.headers["Link"]
    now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert now["ods:version"] == 1


def test_refusals_name_the_problem_and_change_nothing(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    path = _path(annotation["@id"], "annotations") + "/decision"
    approve = {"ods:mergingDecisionStatus": "Approved"}
    stranger = _decide(client, annotation, people["stranger"])
    assert stranger.status_code == 403
    assert stranger.get_json()["allowedRoles"] == [f"curator of {ORG}", "administrator"]
    missing = client.post(path, json=approve, headers=people["curator"])
    assert missing.status_code == 428
    stale = client.post(path, json=approve, headers={**people["curator"], "If-Match": '"0"'})
    assert stale.status_code == 412
    bad = client.post(path, json={"ods:mergingDecisionStatus": "Maybe"},
                      headers={**people["curator"], "If-Match": '"0"'})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["path"] == \
        "/ods:mergingDecisionStatus"
    assert client.get(_path(target["@id"], "digital-specimens")).get_json()["ods:version"] == 1
    assert _decide(client, annotation, people["curator"]).status_code == 200
    twice = _decide(client, annotation, people["curator"])
    assert twice.status_code == 409 and twice.get_json()["decision"] == "Approved"
    comment = client.post("/api/v1/annotations", json={
        "oa:motivation": "oa:commenting", "oa:hasTarget": {"@id": target["@id"]},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["nice"]}},
        headers=people["annotator"]).get_json()
    assert _decide(client, comment, people["curator"]).status_code == 409


@pytest.mark.parametrize(("motivation", "path", "values", "pointer"), [
    # a latitude that is no number
    ("ods:adding", "$['ods:hasEvents'][0]['ods:hasLocation']['ods:hasGeoreference']",
     ('{"@type": "ods:Georeference", "dwc:decimalLatitude": "north"}',), "/oa:hasBody/oa:value/0"),
    # a required term deleted
    ("ods:deleting", "$['ods:organisationID']", (), "/oa:hasBody/oa:value/0"),
    # nothing there to edit
    ("oa:editing", "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:county']", ("Zuid-Holland",),
     "/oa:hasTarget/oa:hasSelector"),
    # a value where one is added
    ("ods:adding", COUNTRY, ("Belgium",), "/oa:hasTarget/oa:hasSelector"),
    # no JSONPath in block notation
    ("oa:editing", "$.ods:hasEvents[0]", ("x",), "/oa:hasTarget/oa:hasSelector"),
    # two values for one term
    ("oa:editing", COUNTRY, ("Belgium", "France"), "/oa:hasBody/oa:value/0"),
])
def test_a_change_the_target_schema_refuses_is_422_and_not_stored(client, people, motivation,
                                                                   path, values, pointer):
    target = _specimen(client, people)
    selector = ({"@type": "ods:ClassSelector", "ods:class": path}
                if values and values[0].startswith("{") else _term(path))
    response = client.post("/api/v1/annotations",
                           json=_proposal(target, motivation, selector, *values),
                           headers=people["annotator"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["path"] in (pointer, "/oa:hasTarget/oa:hasSelector")
    listed = client.get("/api/v1/annotations/search?target=" + target["@id"]).get_json()
    assert listed["total"] == 0


def test_a_change_at_the_selected_place_since_blocks_approval_until_forced(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    current = client.get(_path(target["@id"], "digital-specimens"))
    changed = json.loads(json.dumps(current.get_json()))
    changed["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] = "Germany"
    assert client.put(_path(target["@id"], "digital-specimens"), json=changed, headers={
        **people["owner"], "If-Match": current.headers["ETag"]}).status_code == 200
    refused = _decide(client, annotation, people["curator"])
    assert refused.status_code == 409
    details = refused.get_json()
    assert details["madeOn"] == {"version": 1, "value": "Netherlands"}
    assert details["current"] == {"version": 2, "value": "Germany"}
    assert details["proposed"] == "Belgium"
    forced = _decide(client, annotation, people["curator"], force=True)
    assert forced.status_code == 200
    now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert now["ods:version"] == 3
    assert now["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] == "Belgium"


def test_forced_approvals_make_the_place_hold_what_was_proposed(client, people):
    """With `force`, an addition where a value has since appeared replaces it, and a
    deletion of a value since removed changes nothing (the decision is still recorded)."""
    target = _specimen(client, people)
    remarks = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locationRemarks']"
    adding = _annotate(client, people, target, "on the dune", motivation="ods:adding",
                       path=remarks)
    deleting = _annotate(client, people, target, motivation="ods:deleting", path=LOCALITY)
    current = client.get(_path(target["@id"], "digital-specimens"))
    changed = json.loads(json.dumps(current.get_json()))
    location = changed["ods:hasEvents"][0]["ods:hasLocation"]
    location["dwc:locationRemarks"] = "in the forest"
    del location["dwc:locality"]
    assert client.put(_path(target["@id"], "digital-specimens"), json=changed, headers={
        **people["owner"], "If-Match": current.headers["ETag"]}).status_code == 200
    assert _decide(client, adding, people["curator"]).status_code == 409
    assert _decide(client, adding, people["curator"], force=True).status_code == 200
    now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert now["ods:version"] == 3
    assert now["ods:hasEvents"][0]["ods:hasLocation"]["dwc:locationRemarks"] == "on the dune"
    assert _decide(client, deleting, people["curator"]).status_code == 409
    decided = _decide(client, deleting, people["curator"], force=True)
    assert decided.status_code == 200
    assert decided.get_json()["ods:mergingDecisionStatus"] == "Approved"
    assert client.get(_path(target["@id"], "digital-specimens")).get_json()["ods:version"] == 3


def test_a_change_elsewhere_in_the_target_does_not_block_approval(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    current = client.get(_path(target["@id"], "digital-specimens"))
    changed = {**current.get_json(), "ods:specimenName": "Bombus lapidarius"}
    client.put(_path(target["@id"], "digital-specimens"), json=changed,
               headers={**people["owner"], "If-Match": current.headers["ETag"]})
    assert _decide(client, annotation, people["curator"]).status_code == 200
    now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert now["ods:specimenName"] == "Bombus lapidarius"
    assert now["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] == "Belgium"


def test_adding_a_class_and_deleting_a_term_apply_as_proposed(client, people):
    target = _specimen(client, people)
    georeference = {"@type": "ods:Georeference", "dwc:decimalLatitude": 52.16,
                    "dwc:decimalLongitude": 4.49}
    place = "$['ods:hasEvents'][0]['ods:hasLocation']['ods:hasGeoreference']"
    adding = client.post("/api/v1/annotations", json=_proposal(
        target, "ods:adding", {"@type": "ods:ClassSelector", "ods:class": place},
        json.dumps(georeference)), headers=people["annotator"]).get_json()
    deleting = _annotate(client, people, target, motivation="ods:deleting", path=LOCALITY)
    assert _decide(client, adding, people["curator"]).status_code == 200
    assert _decide(client, deleting, people["curator"]).status_code == 200
    location = client.get(_path(target["@id"], "digital-specimens")).get_json()[
        "ods:hasEvents"][0]["ods:hasLocation"]
    assert location["ods:hasGeoreference"] == georeference
    assert "dwc:locality" not in location


def test_a_term_that_wants_a_number_takes_the_number_the_value_spells(client, people):
    target = _specimen(client, people)
    place = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:minimumElevationInMeters']"
    annotation = _annotate(client, people, target, "12.5", motivation="ods:adding", path=place)
    assert _decide(client, annotation, people["curator"]).status_code == 200
    location = client.get(_path(target["@id"], "digital-specimens")).get_json()[
        "ods:hasEvents"][0]["ods:hasLocation"]
    assert location["dwc:minimumElevationInMeters"] == 12.5


def test_an_interrupted_approval_sent_again_completes_without_a_second_target_version(
        client, people, monkeypatch):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    restore = _crash_between_the_two_writes(client, monkeypatch)
    assert _decide(client, annotation, people["curator"]).status_code == 500
    restore()
    pending = client.get(_path(annotation["@id"], "annotations")).get_json()
    assert pending["ods:mergingDecisionStatus"] == "Pending"
    again = _decide(client, annotation, people["curator"])
    assert again.status_code == 200
    assert f'<{target["@id"]}/2>; rel="related"' in again.headers.getlist("Link")
    versions = client.get(_path(target["@id"], "digital-specimens") + "/versions").get_json()
    assert [v["version"] for v in versions["versions"]] == [1, 2]


def test_the_creator_may_revise_a_pending_annotation_but_not_a_decided_one(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    path = _path(annotation["@id"], "annotations")
    current = client.get(path)
    revised = {**current.get_json(), "oa:hasBody": {"@type": "oa:TextualBody",
                                                    "oa:value": ["België"]}}
    response = client.put(path, json=revised, headers={
        **people["annotator"], "If-Match": current.headers["ETag"]})
    assert response.status_code == 200 and response.get_json()["ods:version"] == 2
    assert response.get_json()["ods:mergingDecisionStatus"] == "Pending"
    assert _decide(client, response.get_json(), people["curator"]).status_code == 200
    decided = client.get(path)
    again = client.put(path, json={**revised, "oa:motivation": "oa:editing"}, headers={
        **people["annotator"], "If-Match": decided.headers["ETag"]})
    assert again.status_code == 409


def _listed(client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["total"], [annotation["@id"] for annotation in body["annotations"]], body


def test_lists_give_a_targets_annotations_a_pending_queue_and_ones_own(client, people):
    ours, theirs = _specimen(client, people), _specimen(client, people)
    current = client.get(_path(theirs["@id"], "digital-specimens"))
    moved = {**current.get_json(), "ods:organisationID": OTHER_ORG}
    assert client.put(_path(theirs["@id"], "digital-specimens"), json=moved, headers={
        **people["owner"], "If-Match": current.headers["ETag"]}).status_code == 200
    edit = _annotate(client, people, ours, "Belgium")
    delete = _annotate(client, people, ours, motivation="ods:deleting", path=LOCALITY)
    elsewhere = _annotate(client, people, theirs, "France")
    comment = client.post("/api/v1/annotations", json={
        "oa:motivation": "oa:commenting", "oa:hasTarget": {"@id": ours["@id"]},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["fine"]}},
        headers=people["curator"]).get_json()
    of_ours = _path(ours["@id"], "digital-specimens") + "/annotations"
    total, ids, _ = _listed(client, of_ours)
    assert total == 3 and set(ids) == {edit["@id"], delete["@id"], comment["@id"]}
    assert _listed(client, of_ours + "?motivation=oa:commenting")[1] == [comment["@id"]]
    total, ids, _ = _listed(client, f"/api/v1/annotations/pending?organisation={ORG}")
    assert total == 2 and set(ids) == {edit["@id"], delete["@id"]}
    assert _listed(client, "/api/v1/annotations/pending")[0] == 3
    overridden = client.get("/api/v1/annotations/pending?mergingDecisionStatus=Approved")
    assert overridden.status_code == 400  # the queue is of Pending annotations only
    assert overridden.get_json()["errors"][0]["path"] == "mergingDecisionStatus"
    assert _decide(client, edit, people["curator"]).status_code == 200
    assert _listed(client, f"/api/v1/annotations/pending?organisation={ORG}")[1] == [
        delete["@id"]]
    assert _listed(client, of_ours + "?mergingDecisionStatus=Approved")[1] == [edit["@id"]]
    total, ids, _ = _listed(client, "/api/v1/annotations/mine", people["annotator"])
    assert total == 3 and elsewhere["@id"] in ids and comment["@id"] not in ids
    first_total, first, page = _listed(client, "/api/v1/annotations/mine?pageSize=2",
                                       people["annotator"])
    rest = _listed(client, page["next"].removeprefix("http://fdo.test"), people["annotator"])
    assert first_total == 3 and len(first) == 2 and len(rest[1]) == 1
    assert set(first + rest[1]) == set(ids)
    assert client.get("/api/v1/annotations/mine").status_code == 401
    wrong = client.get(of_ours + "?motivation=oa:praising")
    assert wrong.status_code == 400 and wrong.get_json()["errors"][0]["path"] == "motivation"
    assert client.get(of_ours + "?sort=x").status_code == 400


def test_landing_pages_show_decisions_and_the_version_an_approval_made(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    pending = client.get("/" + target["@id"].removeprefix("http://fdo.test/"),
                         headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<span class="badge decision pending"' in pending
    assert _decide(client, annotation, people["curator"]).status_code == 200
    page = client.get("/" + target["@id"].removeprefix("http://fdo.test/"),
                      headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<span class="badge decision approved"' in page
    pid = annotation["@id"].removeprefix("http://fdo.test/")
    assert (f'approved annotation <a href="http://fdo.test/{pid}/1">{pid}/1</a>: changed '
            "ods:hasEvents") in page
    own = client.get("/" + pid, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Approved by Cur Ator" in own


def test_a_comparison_shows_each_changed_field_its_values_and_who_changed_it(client, people):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    pid = target["@id"].removeprefix("http://fdo.test/")
    before = client.get(f"/{pid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    own_page = client.get("/" + annotation["@id"].removeprefix("http://fdo.test/"),
                          headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "What approving it would change" in own_page
    assert "<code>Netherlands</code>" in own_page and "<code>Belgium</code>" in own_page
    assert "what changed" not in before  # one version: nothing to compare yet
    assert _decide(client, annotation, people["curator"]).status_code == 200
    current = client.get(_path(target["@id"], "digital-specimens"))
    renamed = {**current.get_json(), "ods:specimenName": "Bombus lapidarius"}
    client.put(_path(target["@id"], "digital-specimens"), json=renamed,
               headers={**people["owner"], "If-Match": current.headers["ETag"]})

    one = client.get(f"/{pid}/compare?from=1&to=2", headers={"Accept": "application/json"})
    assert one.status_code == 200
    changes = one.get_json()["changes"]
    assert [(c["path"], c["old"], c["new"]) for c in changes] == [
        ("/ods:hasEvents/0/ods:hasLocation/dwc:country", "Netherlands", "Belgium")]
    assert changes[0]["label"] == "ods:hasEvents › 0 › ods:hasLocation › dwc:country"
    assert changes[0]["changedBy"] == [{
        "version": 2, "url": target["@id"] + "/2", "agent": "Cur Ator",
        "annotation": annotation["@id"] + "/1"}]
    both = client.get(f"/{pid}/compare?from=1", headers={"Accept": "application/json"})
    assert {c["path"] for c in both.get_json()["changes"]} == {
        "/ods:hasEvents/0/ods:hasLocation/dwc:country", "/ods:specimenName"}
    page = client.get(f"/{pid}/compare?from=1&to=3", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<code>Bombus lapidarius</code>" in html
    assert "from <a href=\"" + annotation["@id"] + "/1\">an approved annotation</a>" in html
    history = client.get(f"/{pid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert f'href="{target["@id"]}/compare?from=2&amp;to=3">what changed</a>' in history
    for wrong in ("from=3&to=1", "from=0", "to=9", "from=x"):
        refused = client.get(f"/{pid}/compare?{wrong}", headers={"Accept": "application/json"})
        assert refused.status_code == 400, wrong
        assert refused.get_json()["code"] == "bad_comparison"
    assert client.get(f"/{pid}/compare", headers={"Accept": "text/turtle"}).status_code == 406


@pytest.mark.parametrize("path", [
    "$" + "['a']" * 5000,  # deeper than any stored object
    "$['ods:hasEvents'][9999999]",  # a position past what block notation here reads
    "$..dwc:country", "$['ods:hasEvents'][*]", "dwc:country", "$['unclosed",
])
def test_a_selector_that_names_no_single_place_is_422_never_500(client, people, path):
    target = _specimen(client, people)
    response = client.post("/api/v1/annotations",
                           json=_proposal(target, "ods:adding", _term(path), "x"),
                           headers=people["annotator"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["path"] == "/oa:hasTarget/oa:hasSelector"


ROI = {"@type": "oa:FragmentSelector", "dcterms:conformsTo":
       "https://ac.tdwg.org/termlist/#711-region-of-interest-vocabulary",
       "ac:hasROI": {"ac:xFrac": 0.1, "ac:yFrac": 0.2, "ac:widthFrac": 0.3, "ac:heightFrac": 0.4}}
MEDIA_FRAGMENT = {"@type": "oa:FragmentSelector", "dcterms:conformsTo":
                  "http://www.w3.org/TR/media-frags/", "rdf:value": "xywh=160,120,320,240"}


def test_a_region_of_a_media_object_is_selected_either_way_and_nothing_else_is(client, people):
    target = _specimen(client, people)
    picture = client.post("/api/v1/digital-media", headers=people["owner"], json={
        "ac:accessURI": "https://images.example.org/leaf.jpg", "dcterms:type": "StillImage",
        "ods:organisationID": ORG}).get_json()
    for selector in (ROI, MEDIA_FRAGMENT):
        comment = {"oa:motivation": "oa:commenting",
                   "oa:hasTarget": {"@id": picture["@id"], "oa:hasSelector": selector},
                   "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["a leaf miner"]}}
        made = client.post("/api/v1/annotations", json=comment, headers=people["annotator"])
        assert made.status_code == 201, made.get_json()
        assert made.get_json()["oa:hasTarget"]["@type"] == "ods:DigitalMedia"
        on_specimen = {**comment, "oa:hasTarget": {"@id": target["@id"],
                                                   "oa:hasSelector": selector}}
        refused = client.post("/api/v1/annotations", json=on_specimen,
                              headers=people["annotator"])
        assert refused.status_code == 422
        assert refused.get_json()["errors"][0]["path"] == "/oa:hasTarget/oa:hasSelector"
    mixed = {**MEDIA_FRAGMENT, "ac:hasROI": ROI["ac:hasROI"]}
    bad = client.post("/api/v1/annotations", headers=people["annotator"], json={
        "oa:motivation": "oa:commenting",
        "oa:hasTarget": {"@id": picture["@id"], "oa:hasSelector": mixed},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["both at once"]}})
    assert bad.status_code == 422


def test_an_annotation_pinned_to_a_version_is_made_on_that_version(client, people):
    target = _specimen(client, people)
    current = client.get(_path(target["@id"], "digital-specimens"))
    moved = json.loads(json.dumps(current.get_json()))
    moved["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"] = "Germany"
    client.put(_path(target["@id"], "digital-specimens"), json=moved,
               headers={**people["owner"], "If-Match": current.headers["ETag"]})
    pinned = client.post("/api/v1/annotations", headers=people["annotator"], json={
        "oa:motivation": "oa:editing",
        "oa:hasTarget": {"@id": target["@id"] + "/1", "oa:hasSelector": _term(COUNTRY)},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Belgium"]}}).get_json()
    assert pinned["oa:hasTarget"]["@id"] == target["@id"] + "/1"
    assert pinned["oa:hasTarget"]["oa:hasState"]["oa:cachedSource"] == target["@id"] + "/1"
    refused = _decide(client, pinned, people["curator"])  # made on 1, changed in 2
    assert refused.status_code == 409
    assert refused.get_json()["madeOn"] == {"version": 1, "value": "Netherlands"}
    unpinned = _annotate(client, people, target, "Belgium")
    assert unpinned["oa:hasTarget"]["oa:hasState"]["oa:cachedSource"] == target["@id"] + "/2"
    assert unpinned["@id"] != pinned["@id"]  # a pinned and an unpinned one are two


def test_fdo_reconcile_completes_an_approval_cut_between_its_two_writes(
        client, people, monkeypatch):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    service = client.application.extensions["fdo"]
    restore = _crash_between_the_two_writes(client, monkeypatch)
    assert _decide(client, annotation, people["curator"], comment="label read").status_code \
        == 500
    restore()
    report = reconcile(service)
    assert report.completed == [annotation["@id"].removeprefix("http://fdo.test/")]
    decided = client.get(_path(annotation["@id"], "annotations")).get_json()
    assert decided["ods:mergingDecisionStatus"] == "Approved"
    assert decided["ods:hasMergingStateChangedBy"]["schema:name"] == "Cur Ator"
    assert decided["ods:hasSourcePriority"] is False
    event = client.get(_path(annotation["@id"], "annotations") + "/versions/2/provenance")
    assert event.get_json()["prov:Activity"]["rdfs:comment"] == "label read"
    target_now = client.get(_path(target["@id"], "digital-specimens")).get_json()
    assert target_now["ods:version"] == 2 and decided["ods:mergingStateChangeDate"] == \
        target_now["dcterms:modified"]
    assert reconcile(service).completed == []  # once


@pytest.mark.parametrize(("motivation", "path", "values"), [
    ("oa:editing", "$['ods:status']", ("Tombstone",)),
    ("ods:adding", "$['@id']", ("https://elsewhere.example/1",)),
    ("oa:editing", "$['ods:organisationID']", ("https://ror.org/039zvsn29",)),
    ("oa:editing", "$['ods:normalisedPhysicalSpecimenID']", ("X:1",)),
])
def test_what_says_which_object_this_is_and_whose_is_not_changed_by_annotation(
        client, people, motivation, path, values):
    target = _specimen(client, people)
    response = client.post("/api/v1/annotations", headers=people["annotator"],
                           json=_proposal(target, motivation, _term(path), *values))
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["path"] == "/oa:hasTarget/oa:hasSelector"


def test_client_input_that_once_made_a_500_is_a_client_error(client, people):
    target = _specimen(client, people)
    deep = client.post("/api/v1/annotations", headers=people["annotator"],
                       json=_proposal(target, "oa:editing", _term(COUNTRY), "[" * 5000))
    assert deep.status_code in (201, 422), deep.get_json()
    assert client.get(_path(target["@id"], "digital-specimens") + "/annotations?pageSize=0099999"
                      ).status_code == 400
    pid = target["@id"].removeprefix("http://fdo.test/")
    assert client.get(f"/{pid}/compare?to=0000000000000000001",
                      headers={"Accept": "application/json"}).status_code == 400
    batch = client.post("/api/v1/annotations/batches", headers=people["annotator"],
                        json={"kind": [], "annotation": {}})
    assert batch.status_code == 422


def test_batch_terms_sent_by_a_client_are_the_repositorys(client, people):
    target = _specimen(client, people)
    sent = {**_proposal(target, "oa:editing", _term(COUNTRY), "Belgium"),
            "ods:batchID": "6f1c2f8e-1d2b-4c5a-9e7f-0a1b2c3d4e5f", "ods:placeInBatch": 1}
    stored = client.post("/api/v1/annotations", json=sent, headers=people["annotator"])
    assert stored.status_code == 201
    assert "ods:batchID" not in stored.get_json()
    assert "ods:placeInBatch" not in stored.get_json()


def test_an_annotation_changed_to_equal_another_is_refused_and_stays_changeable(
        client, people):
    target = _specimen(client, people)
    first = _annotate(client, people, target, "Belgium")
    second = _annotate(client, people, target, "France")
    path = _path(second["@id"], "annotations")
    current = client.get(path)
    same = {**current.get_json(), "oa:hasBody": first["oa:hasBody"]}
    refused = client.put(path, json=same, headers={**people["annotator"],
                                                   "If-Match": current.headers["ETag"]})
    assert refused.status_code == 409 and refused.get_json()["holder"] in first["@id"]
    other = {**current.get_json(), "oa:hasBody": {"@type": "oa:TextualBody",
                                                  "oa:value": ["Luxembourg"]}}
    changed = client.put(path, json=other, headers={**people["annotator"],
                                                    "If-Match": current.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["ods:version"] == 2


def test_an_administrator_decides_on_an_object_without_an_organisation(client, people):
    picture = client.post("/api/v1/digital-media", headers=people["owner"], json={
        "ac:accessURI": "https://images.example.org/no-org.jpg",
        "dcterms:type": "StillImage"}).get_json()
    proposal = client.post("/api/v1/annotations", headers=people["annotator"], json={
        "oa:motivation": "ods:adding",
        "oa:hasTarget": {"@id": picture["@id"],
                         "oa:hasSelector": _term("$['dcterms:title']")},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["A leaf"]}}).get_json()
    assert _decide(client, proposal, people["stranger"]).status_code == 403
    assert _decide(client, proposal, people["owner"]).status_code == 200


def test_rejecting_an_approval_cut_short_is_refused(client, people, monkeypatch):
    target = _specimen(client, people)
    annotation = _annotate(client, people, target, "Belgium")
    restore = _crash_between_the_two_writes(client, monkeypatch)
    assert _decide(client, annotation, people["curator"]).status_code == 500
    restore()
    rejected = _decide(client, annotation, people["curator"], "Rejected")
    assert rejected.status_code == 409 and "approve it to complete" in \
        rejected.get_json()["message"]
