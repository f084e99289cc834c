"""The Handle REST API: the FDO kernel values (pure functions, checked against the openDS
fdo-profile files) and the endpoint under a real HTTP server, read by pyhandle."""

from __future__ import annotations

import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from flask import Flask
from pyhandle.handleclient import RESTHandleClient
from pyhandle.handleexceptions import GenericHandleError, HandleNotFoundException
from werkzeug.serving import make_server

from repository.access import trusted
from repository.provenance import Agent
from repository.records import client_part, stored_content
from repository.services import FDOService
from resolver.handles import (
    URL_INDEX,
    handle_record_html,
    handle_time,
    handle_values,
    handles,
    locations,
    parse_indices,
    select,
)
from resolver.lookup import Lookup
from schemas import KINDS
from tests import records
from tests.material import DATA

BASE = "http://fdo.test"
PROFILES = DATA / "opends" / "schemas" / "fdo-profile"
PROFILE_NAMES = {"digital-specimens": "digital-specimen", "digital-media": "digital-media",
                 "annotations": "annotation", "source-systems": "source-system",
                 "machine-annotation-services": "machine-annotation-service"}
# The profile's file, where it is not named as its folder.
PROFILE_FILES = {"source-systems": "source-system-fdo-profile.json"}
SAMPLES = DATA / "samples" / "opends-records"
PIDS = {"digital-specimens": "10.82621/ABC-DEF-GHJ", "digital-media": "10.82621/MMM-DEF-GHJ",
        "annotations": "20.500.14920/AAA-BBB-CCC", "source-systems": "20.500.14920/SSS-YYY-ZZZ",
        "machine-annotation-services": "20.500.14920/MMM-AAA-SSS",
        "mas-jobs": "20.500.14920/JJJ-OOO-BBB"}
# The kinds openDS gives an FDO profile: a job record has none (schemas.MAS_JOB).
PROFILED = [kind for kind in KINDS if KINDS[kind].handle_profile]
CREATED, MODIFIED = "2026-03-01T10:00:00.123Z", "2026-03-02T11:30:45.987Z"
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
s3 = pytest.mark.s3


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite only here, except where a test asks for PostgreSQL too (the index is not
    what this module tests)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    return str(request.getfixturevalue("postgres_server")
               .create_database(f"t_{uuid.uuid4().hex[:12]}"))


# -- the values, as pure functions -------------------------------------------------------


def profile(kind: str) -> dict[str, Any]:
    name = PROFILE_NAMES[kind]
    file_name = PROFILE_FILES.get(kind, f"{name}.json")
    schema: dict[str, Any] = json.loads((PROFILES / name / "1.0.0" / file_name).read_text())
    return schema


def profile_index(prop: dict[str, Any]) -> int:
    return int(str(prop["$comment"]).removeprefix("idx").strip(" ="))  # "idx = 5", "idx=600"


def sample(name: str) -> dict[str, Any]:
    return client_part(json.loads((SAMPLES / name).read_text()))


def full_client(kind: str) -> dict[str, Any]:
    """Client parts that fill as many profile attributes as openDS can."""
    if kind == "digital-specimens":
        return {**sample("bgbm-herbarium-ZZZ-X4T-YYV.json"), "ods:isMarkedAsType": True,
                "ods:topicCategory": "Seed plants"}
    if kind == "digital-media":
        return sample("nhmd-media-WVW-SCM-C9Z.json")
    if kind == "source-systems":
        return {"schema:name": "Herbarium of University of Coimbra (COI)",
                "ods:organisationID": "https://ror.org/04z8k9a98"}
    if kind == "machine-annotation-services":
        return {"schema:name": "Country check", "ods:serviceEndpoint": "http://127.0.0.1:8020/",
                "ods:hasTargetDigitalObjectFilter": {}, "ods:batchingPermitted": True}
    return records.annotation(f"{BASE}/{PIDS['digital-specimens']}")


def content(kind: str, client: dict[str, Any], version: int = 1, modified: str = MODIFIED,
            tombstone: dict[str, Any] | None = None) -> dict[str, Any]:
    stored = stored_content(KINDS[kind], f"{BASE}/{PIDS[kind]}", version, CREATED, modified,
                            client, "Tombstone" if tombstone else "Active")
    if tombstone:
        stored["ods:hasTombstoneMetadata"] = tombstone
    return stored


def values_of(kind: str, stored: dict[str, Any]) -> list[dict[str, Any]]:
    return handle_values(stored, PIDS[kind], stored["ods:version"], kind, BASE)


def by_type(values: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {value["type"]: value["data"]["value"] for value in values}


@pytest.mark.parametrize("kind", PROFILED)
def test_every_value_has_the_index_the_profile_gives_it(kind):
    values = values_of(kind, content(kind, full_client(kind)))
    props = profile(kind)["properties"]
    for value in values:
        if value["type"] != "URL":
            assert profile_index(props[value["type"]]) == value["index"], value["type"]
    assert URL_INDEX not in {profile_index(prop) for prop in props.values()}
    assert len({value["index"] for value in values}) == len(values)
    assert [value["index"] for value in values] == sorted(value["index"] for value in values)


@pytest.mark.parametrize("kind", PROFILED)
def test_the_attributes_satisfy_the_profile_schema(kind):
    schema = deepcopy(profile(kind))
    props = schema["properties"]
    # Our two departures (see resolver/handles.py): digitalObjectType is the object's
    # ods:fdoType, and our PIDs resolve at our base URL, not at doi.org or hdl.handle.net.
    props["digitalObjectType"] = {"type": "string"}
    props.get("targetPid", {}).pop("pattern", None)
    values = values_of(kind, content(kind, full_client(kind)))
    attributes = {name: json.loads(data) if props[name].get("type") in
                  ("array", "integer", "boolean") else data
                  for name, data in by_type(values).items() if name not in ("URL", "HS_ADMIN")}
    jsonschema.validate(attributes, schema)
    assert set(schema["required"]) <= set(attributes)


def test_a_job_record_has_the_kernel_without_a_profile_or_type_it_does_not_have():
    job = {"schema:name": "Country check on 10.82621/ABC-DEF-GHJ", "ods:jobState": "Running",
           "ods:machineAnnotationServiceID": f"{BASE}/{PIDS['machine-annotation-services']}",
           "ods:targetID": f"{BASE}/{PIDS['digital-specimens']}/1",
           "schema:expires": "2026-03-03T10:00:00.000Z"}
    values = by_type(values_of("mas-jobs", content("mas-jobs", job)))
    assert "fdoProfile" not in values and "digitalObjectType" not in values
    assert values["digitalObjectName"] == "Machine Annotation Job"
    assert values["pid"] == f"{BASE}/{PIDS['mas-jobs']}" and values["pidStatus"] == "ACTIVE"


def test_values_follow_the_status_of_the_latest_version():
    kind = "digital-specimens"
    first = by_type(values_of(kind, content(kind, records.specimen())))
    reason, later = "Duplicate of another specimen", "2026-04-05T06:07:08.009Z"
    successor = f"{BASE}/10.82621/SSS-SSS-SSS"
    tombstone = {"@type": "ods:Tombstone", "ods:tombstoneDate": later,
                 "ods:tombstoneText": reason, "ods:hasRelatedPIDs": [
                     {"dcterms:identifier": successor, "ods:relationshipType": "IsReplacedWith"}]}
    last_values = values_of(kind, content(kind, records.specimen(), 2, later, tombstone))
    last = by_type(last_values)
    assert (first["pidStatus"], first["pidRecordIssueNumber"]) == ("ACTIVE", "1")
    assert not {"tombstoneText", "tombstoneDate", "hasRelatedPid"} & set(first)
    assert (last["pidStatus"], last["pidRecordIssueNumber"]) == ("TOMBSTONE", "2")
    assert (last["tombstoneText"], last["tombstoneDate"]) == (reason, later)
    assert json.loads(last["hasRelatedPid"]) == [
        {"pid": successor, "relationshipType": "IsReplacedWith"}]
    assert last["pidRecordIssueDate"] == first["pidRecordIssueDate"] == CREATED
    assert {value["timestamp"] for value in last_values} == {"2026-04-05T06:07:08Z"}


def test_missing_sources_leave_attributes_out_and_numbers_are_json_text():
    kind = "digital-specimens"
    values = by_type(values_of(kind, content(kind, records.specimen(
        **{"ods:isMarkedAsType": False}))))
    assert not {"specimenHostName", "topicDiscipline", "catalogNumber", "otherSpecimenIds"} \
        & set(values)
    assert values["markedAsType"] == "false" and values["referentName"] == "Bombus terrestris"
    assert values["HS_ADMIN"] == {"handle": "0.NA/10.82621", "index": 200,
                                  "permissions": "011111110011"}


def test_dois_are_issued_by_datacite_and_handles_by_this_repository():
    specimen = by_type(values_of("digital-specimens",
                                 content("digital-specimens", records.specimen())))
    note = by_type(values_of("annotations", content("annotations", full_client("annotations"))))
    assert (specimen["pidIssuer"], specimen["pidIssuerName"]) == (
        "https://ror.org/04wxnsj81", "DataCite")
    assert note["pidIssuer"] == f"{BASE}/" and "issuedForAgent" not in note
    assert note["pid"] == f"{BASE}/{PIDS['annotations']}" == note["URL"]
    assert (note["targetType"], note["targetTypeName"]) == ("ods:DigitalSpecimen",
                                                            "Digital Specimen")


def test_10320_loc_lists_the_locations_and_prefers_the_landing_page():
    values = by_type(values_of("digital-media", content("digital-media", records.media())))
    root = ET.fromstring(values["10320/loc"])
    listed = [{"view": item.get("view"), "href": item.get("href")} for item in root]
    assert listed == locations(PIDS["digital-media"], BASE) == [
        {"view": "HTML", "href": f"{BASE}/{PIDS['digital-media']}"},
        {"view": "JSON", "href": f"{BASE}/{PIDS['digital-media']}?format=json"}]
    assert [item.get("weight") for item in root] == ["1", "0"]


def test_select_keeps_values_of_any_asked_type_or_index():
    values = values_of("digital-specimens", content("digital-specimens", records.specimen()))
    assert select(values, [], []) == values
    assert [v["type"] for v in select(values, ["PIDSTATUS"], [])] == ["pidStatus"]
    assert [v["type"] for v in select(values, ["url."], [1])] == ["fdoProfile", "URL"]
    assert [v["type"] for v in select(values, ["10320/LOC"], [])] == ["10320/loc"]
    assert [v["type"] for v in select(values, ["10320", "10320.", "pid.x"], [])] == []
    assert [v["type"] for v in select(values, ["url", "pid"], [6, 9999])] == ["pid", "URL"]


def test_indices_are_read_as_the_proxy_reads_them():
    assert parse_indices(["1", "+6", "-2"]) == [1, 6, -2]
    for bad in ("x", "1.5", "", "4294967296"):
        with pytest.raises(ValueError, match="index"):
            parse_indices([bad])


def test_handle_times_have_whole_seconds_like_the_proxy():
    assert handle_time("2026-03-02T11:30:45.987Z") == "2026-03-02T11:30:45Z"
    assert handle_time("2026-03-02T12:30:45+01:00") == "2026-03-02T11:30:45Z"


def test_the_html_table_escapes_what_it_shows():
    client = records.specimen(**{"ods:specimenName": "<script>alert(1)</script>"})
    values = values_of("digital-specimens", content("digital-specimens", client))
    html = handle_record_html("10.82621/<b>", values)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "10.82621/&lt;b&gt;" in html and "<td>referentName</td>" in html
    assert f'<a href="{BASE}/{PIDS["digital-specimens"]}">' in html
    assert html.count("<tr>") == len(values) + 1


def test_bad_requests_get_the_proxy_answers_without_storage():
    app = Flask(__name__)
    app.register_blueprint(handles)
    client = app.test_client()
    bad_index = client.get("/api/handles/10.82621/ABC-DEF-GHJ?index=one")
    assert bad_index.status_code == 400 and bad_index.json["responseCode"] == 4
    assert "handle" not in bad_index.json
    for handle in ("10.82621/not-a-pid", "10.82621", "10.82621/ABC-DEF-GHJ/2", "xyz/ABC-DEF-GHJ"):
        response = client.get(f"/api/handles/{handle}")
        assert response.status_code == 400, handle
        assert response.json["responseCode"] == 102 and response.json["handle"] == handle
    assert client.get("/api/handles/").json["responseCode"] == 102


# -- the endpoint under a real server, read by pyhandle -----------------------------------


@pytest.fixture
def handle_server(app: Flask) -> Iterator[tuple[str, list[str]]]:
    """The whole app served on 127.0.0.1 over real S3 and index (the `service` fixture
    writes to the same ones); also yields the request lines (path?query) it received."""
    seen: list[str] = []

    def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(f"{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, recorded, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def pyhandle(handle_server: tuple[str, list[str]]) -> RESTHandleClient:
    return RESTHandleClient.instantiate_for_read_access(handle_server_url=handle_server[0])


def expected_values(service: FDOService, pid: str) -> list[dict[str, Any]]:
    row = service.index.current(pid)
    assert row is not None
    record = Lookup(service.reader, service.index).record(pid, row.version)
    return handle_values(record.content, pid, row.version, row.kind, service.base_url)


@s3
@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_pyhandle_reads_the_values_we_serve(service, pyhandle, handle_server):
    specimen = service.create("digital-specimens", records.specimen(**{
        "ods:topicDiscipline": "Zoology", "ods:livingOrPreserved": "Preserved",
        "ods:isMarkedAsType": True}), CURATOR)
    image = service.create("digital-media", records.media(), CURATOR)
    note = service.create("annotations", records.annotation(specimen.content["@id"]), CURATOR)
    for pid in (specimen.pid, image.pid, note.pid):
        values = expected_values(service, pid)
        assert pyhandle.retrieve_handle_record_json(pid) == {
            "responseCode": 1, "handle": pid, "values": values}
        assert pyhandle.retrieve_handle_record(pid) == {
            value["type"]: str(value["data"]["value"]) for value in values}
        assert pyhandle.get_value_from_handle(pid, "pid") == f"{BASE}/{pid}"
    assert pyhandle.get_value_from_handle(specimen.pid, "topicDiscipline") == "Zoology"
    assert pyhandle.get_value_from_handle(note.pid, "targetPid") == specimen.content["@id"]
    assert pyhandle.get_value_from_handle(image.pid, "HS_ADMIN")["handle"] == "0.NA/10.82621"
    # What pyhandle asks: GET <server>/api/handles/<prefix>/<suffix>, no parameters.
    assert handle_server[1][:2] == [f"/api/handles/{specimen.pid}?"] * 2


@s3
def test_pyhandle_sees_each_new_version_and_the_tombstone(service, pyhandle):
    created = service.create("digital-specimens", records.specimen(), CURATOR)
    successor = service.create("digital-specimens", records.specimen(), CURATOR)
    prefix, suffix = created.pid.split("/")
    renamed = {**client_part(created.content), "ods:specimenName": "Bombus lapidarius"}
    service.replace("digital-specimens", prefix, suffix, renamed, "*", CURATOR)
    second = pyhandle.retrieve_handle_record(created.pid)
    service.tombstone("digital-specimens", prefix, suffix, "Duplicate record",
                      successor.pid, None, CURATOR)
    # Asked in lower case: the same record, and the handle echoed as asked.
    third = pyhandle.retrieve_handle_record_json(created.pid.lower())
    assert third["handle"] == created.pid.lower()
    assert third["values"] == expected_values(service, created.pid)
    last = by_type(third["values"])
    assert (second["referentName"], second["pidRecordIssueNumber"]) == ("Bombus lapidarius", "2")
    assert (second["pidStatus"], last["pidStatus"]) == ("ACTIVE", "TOMBSTONE")
    assert (last["pidRecordIssueNumber"], last["tombstoneText"]) == ("3", "Duplicate record")
    assert json.loads(last["hasRelatedPid"]) == [
        {"pid": f"{BASE}/{successor.pid}", "relationshipType": "IsReplacedWith"}]


@s3
def test_pyhandle_filters_by_index_and_type(service, pyhandle, handle_server):
    pid = service.create("digital-specimens", records.specimen(), CURATOR).pid
    by_index = pyhandle.retrieve_handle_record_json(pid, indices=[1, 6])
    assert [value["type"] for value in by_index["values"]] == ["fdoProfile", "pid"]
    by_type_ = pyhandle.retrieve_handle_record(pid, type=["PIDSTATUS", "url."], auth=True)
    assert set(by_type_) == {"pidStatus", "URL"}
    assert pyhandle.retrieve_handle_record_json(pid, type=["nothing"]) == {
        "responseCode": 200, "handle": pid, "values": []}
    assert pyhandle.get_value_from_handle(pid, "nothing") is None
    assert handle_server[1] == [f"/api/handles/{pid}?index=1&index=6",
                                f"/api/handles/{pid}?type=PIDSTATUS&type=url.&auth=true",
                                f"/api/handles/{pid}?type=nothing",
                                f"/api/handles/{pid}?"]


@s3
def test_unknown_and_malformed_handles_answer_as_the_proxy(pyhandle, handle_server):
    url = handle_server[0]
    unknown = "10.82621/ZZZ-ZZZ-ZZZ"
    assert pyhandle.retrieve_handle_record_json(unknown) is None
    with pytest.raises(HandleNotFoundException):
        pyhandle.get_value_from_handle(unknown, "pid")
    with pytest.raises(GenericHandleError):
        pyhandle.retrieve_handle_record_json("10.82621/not-a-pid")
    with requests.Session() as http:
        for path, status, body in (
                (unknown, 404, {"responseCode": 100, "handle": unknown}),
                ("10.82621/not-a-pid", 400, {"responseCode": 102, "handle": "10.82621/not-a-pid"}),
                (f"{unknown}?index=x", 400, {"responseCode": 4})):
            response = http.get(f"{url}/api/handles/{path}", timeout=10)
            assert response.status_code == status
            assert response.headers["Content-Type"] == "application/json"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert body.items() <= response.json().items()
