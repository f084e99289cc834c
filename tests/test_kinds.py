"""Kinds are data: a fourth kind, added as a `Kind` row and a schema file only, is created
through the API, versioned, and resolved in every format through the real app.

The row goes into `schemas.KINDS` (the table the code reads at start-up and per request)
and the schema file into the schemas package, where the validator loads every kind's
schema from; both are removed afterwards. No code knows the new kind's name."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient

import schemas
from repository.config import Config
from repository.services import FDOService
from repository.tokens import create_token
from schemas import ACTIVE, HANDLE, KINDS, TOMBSTONE, Kind, kind_of_type

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
ODS = "https://github.com/DiSSCo/openDS/ods-ontology/terms/"
COLLECTION = Kind(
    name="test-collections", object_type="ods:TestCollection",
    fdo_type="https://doi.org/21.T11148/0000000000000000test",
    schema_file=f"test-collection-{uuid.uuid4().hex[:8]}.json", pid_scheme=HANDLE,
    label="Test Collection", datacite_type="Collection", dcmi_type="Collection",
    schema_org_class="Collection")
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://fdo.test/schemas/{COLLECTION.schema_file}",
    "type": "object",
    "properties": {"dcterms:title": {"type": "string"},
                   "dcterms:description": {"type": "string"},
                   "ods:organisationName": {"type": "string"}},
    "required": ["dcterms:title"],
}
FORMATS = ("jsonld", "json", "ttl", "rdf", "nt", "html", "datacite", "csl", "bibtex",
           "citation")


@pytest.fixture
def with_collections(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kind]:
    schema_path = Path(str(files("schemas").joinpath(COLLECTION.schema_file)))
    schema_path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    monkeypatch.setitem(schemas.KINDS, COLLECTION.name, COLLECTION)
    try:
        yield COLLECTION
    finally:
        schema_path.unlink()


@pytest.fixture
def collections_app(with_collections: Kind, config: Config,
                    make_app: Callable[[Config], Flask]) -> Flask:
    return make_app(config)  # after the row is in: the validator is built at start-up


@pytest.fixture
def curator(collections_app: Flask) -> dict[str, str]:
    fdo: FDOService = collections_app.extensions["fdo"]
    token = create_token(fdo.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")
    return {"Authorization": f"Bearer {token}"}


def test_the_kind_table_holds_every_fact_once() -> None:
    assert [kind.name for kind in KINDS.values()] == [
        "digital-specimens", "digital-media", "annotations", "source-systems",
        "machine-annotation-services", "mas-jobs"]
    assert all(kind_of_type(kind.object_type) is kind for kind in KINDS.values())
    assert kind_of_type("ods:Unknown") is None
    assert [kind.sentence_label for kind in KINDS.values()] == [
        "Digital specimen", "Digital media", "Annotation", "Source system",
        "Machine annotation service", "Machine annotation job"]
    # The specimen's Handle profile is not its fdoType; the others' are, and a job record,
    # which openDS gives neither, has neither.
    assert schemas.SPECIMEN.handle_profile != schemas.SPECIMEN.fdo_type
    assert schemas.MEDIA.handle_profile == schemas.MEDIA.fdo_type
    assert not schemas.MAS_JOB.fdo_type and schemas.MAS_JOB.handle_profile is None
    assert [kind.written_by_repository for kind in KINDS.values()] == [False] * 5 + [True]
    assert [kind.uses_doi for kind in KINDS.values()] == [True, True] + [False] * 4
    assert (ACTIVE, TOMBSTONE) == ("Active", "Tombstone")


def test_a_kind_added_as_data_is_created_versioned_and_resolved(
        collections_app: Flask, curator: dict[str, str]) -> None:
    client = collections_app.test_client()
    collection = f"/api/v1/{COLLECTION.name}"
    refused = client.post(collection, json={"dcterms:description": "no title"}, headers=curator)
    assert refused.status_code == 422  # its own schema is applied
    created = client.post(collection, json={"dcterms:title": "Bees of Leiden",
                                            "ods:organisationName": "Naturalis"},
                          headers=curator)
    assert created.status_code == 201
    pid = created.json["@id"].removeprefix(BASE + "/")
    assert created.json["@type"] == COLLECTION.object_type
    assert created.json["ods:fdoType"] == COLLECTION.fdo_type
    assert pid.startswith(Config().handle_prefix + "/")  # its PID scheme: a Handle
    path = f"{collection}/{pid}"
    changed = {**created.json, "dcterms:description": "Apoidea, 1890-1950"}
    updated = client.put(path, json=changed,
                         headers={**curator, "If-Match": created.headers["ETag"]})
    assert updated.status_code == 200 and updated.json["ods:version"] == 2
    assert [v["version"] for v in client.get(f"{path}/versions").json["versions"]] == [1, 2]
    assert_resolves(client, pid)


def assert_resolves(client: FlaskClient, pid: str) -> None:
    document = client.get(f"/{pid}", headers={"Accept": "application/ld+json"})
    assert document.status_code == 200
    assert document.json["@type"] == COLLECTION.object_type
    assert document.json["dcterms:description"] == "Apoidea, 1890-1950"
    turtle = client.get(f"/{pid}", headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and turtle.mimetype == "text/turtle"
    graph = rdflib.Graph().parse(data=turtle.get_data(as_text=True), format="turtle")
    assert (rdflib.URIRef(f"{BASE}/{pid}"), rdflib.RDF.type,
            rdflib.URIRef(ODS + "TestCollection")) in graph
    html = client.get(f"/{pid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<p class="kind">Test collection</p>' in html
    assert "<h1>Bees of Leiden</h1>" in html and "Apoidea, 1890-1950" in html
    assert "Version 2 of 2" in html
    for name in FORMATS:  # every other format renders it too, by the kind's defaults
        assert client.get(f"/{pid}/1?format={name}").status_code == 200, name
    datacite = client.get(f"/{pid}?format=datacite").json
    assert datacite["types"]["resourceTypeGeneral"] == "Collection"
    assert datacite["types"]["resourceType"] == "Test Collection"
    handle = client.get(f"/api/handles/{pid}").json
    values = {value["type"]: value["data"]["value"] for value in handle["values"]}
    assert values["digitalObjectName"] == "Test Collection"
    assert "fdoProfile" not in values  # it has no Handle profile
    oai_dc = client.get(f"/oai?verb=GetRecord&identifier=hdl:{pid}&metadataPrefix=oai_dc")
    types = [element.text for element in ET.fromstring(oai_dc.data).iter(
        "{http://purl.org/dc/elements/1.1/}type")]
    assert types == ["Test Collection", "Collection"]
