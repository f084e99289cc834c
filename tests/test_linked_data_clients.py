"""Real linked-data clients resolve our PIDs over HTTP from a real gunicorn on 127.0.0.1:
rdflib parses Turtle, RDF/XML and JSON-LD straight from the PID URL, pyld expands it,
and all of them must read the same graph, with absolute IRIs only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
from pyld import jsonld
from rdflib.compare import isomorphic

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from tests import records
from tests.material import DATA

pytestmark = pytest.mark.s3
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
SAMPLE = DATA / "samples" / "opends-records" / "bgbm-herbarium-ZZZ-X4T-YYV.json"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


def specimen_document() -> dict[str, Any]:
    """The richest real record we have."""
    return dict(json.loads(SAMPLE.read_text()))


def pyld_graph(url: str) -> rdflib.Graph:
    expanded = jsonld.expand(url)  # pyld's own loader: fetches the object and our context
    nquads = jsonld.to_rdf(expanded, {"format": "application/n-quads"})
    # Everything is in the default graph, so the N-Quads are N-Triples.
    return rdflib.Graph().parse(data=nquads, format="nt")


def test_rdflib_and_pyld_read_the_same_graph_from_the_pid_url(live: FDOService) -> None:
    record = live.create("digital-specimens", specimen_document(), CURATOR)
    url = record.content["@id"]
    graphs = {fmt: rdflib.Graph().parse(url, format=fmt) for fmt in ("turtle", "xml", "json-ld")}
    graphs["pyld"] = pyld_graph(url)
    graphs["version"] = rdflib.Graph().parse(f"{url}/1", format="turtle")
    reference = graphs["turtle"]
    assert len(reference) > 50
    for name, graph in graphs.items():
        assert isomorphic(graph, reference), name
    subject = rdflib.URIRef(url)
    types = set(reference.objects(subject, rdflib.RDF.type))
    assert any(str(t).endswith("DigitalSpecimen") for t in types), types
    for s, p, o in reference:
        assert isinstance(p, rdflib.URIRef) and str(p).startswith(("http://", "https://")), p
        for node in (s, o):
            if isinstance(node, rdflib.URIRef):
                assert ":" in str(node) and " " not in str(node), node


def test_rdflib_negotiates_by_itself(live: FDOService) -> None:
    record = live.create("digital-specimens", records.specimen(), CURATOR)
    graph = rdflib.Graph().parse(record.content["@id"])  # rdflib's own Accept header
    assert (rdflib.URIRef(record.content["@id"]), None, None) in graph


def test_provenance_reads_the_same_in_every_client(live: FDOService) -> None:
    record = live.create("digital-specimens", records.specimen(), CURATOR)
    url = f"{record.content['@id']}/1/provenance"
    turtle = rdflib.Graph().parse(url, format="turtle")
    assert isomorphic(turtle, rdflib.Graph().parse(url, format="json-ld"))
    assert isomorphic(turtle, pyld_graph(url))
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    assert list(turtle.subjects(prov.wasGeneratedBy, None)) == [
        rdflib.URIRef(f"{record.content['@id']}/1")]
