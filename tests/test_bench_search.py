"""The pieces of `make bench-search` (bench/search.py, bench/search_data.py) do what its
figures claim, through real SeaweedFS, gunicorn and the load process: the generated
repository is valid openDS and varied, its media are linked to their specimens, every
kind of request the benchmark times is answered 200 with hits, a cursor walk sends each
hit once, and FDO_SEARCH_INDEX=off writes no search entry and turns search off. Timings
are measured, never asserted."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from bench import search
from repository import build_service
from repository.config import Config
from repository.services import FDOService
from repository.validation import Validator
from schemas import ANNOTATION, MEDIA, SPECIMEN
from tests.conftest import serve_app, servers
from tests.records import specimen

search_data = search.search_data  # the module bench/search.py uses (its RUN, its WRITER)
TARGET = "https://fdo.test/20.500.14920/ABC-DEF-GHJ"


def test_the_generated_objects_are_valid_opends_and_varied() -> None:
    validator = Validator()
    specimens = [search_data.specimen(number) for number in range(400)]
    media = [search_data.media(number, TARGET) for number in range(400)]
    for document in specimens:
        assert validator.violations(SPECIMEN.name, document) == []
    for document in filter(None, media):
        assert validator.violations(MEDIA.name, document) == []
        relation = document["ods:hasEntityRelationships"][0]
        assert (relation["dwc:relationshipOfResource"], relation["ods:relatedResourceURI"]) == (
            "hasDigitalSpecimen", TARGET)
    annotations = [search_data.annotation(number, TARGET) for number in range(100)]
    for document in annotations:
        assert validator.violations(ANNOTATION.name, document) == []
    assert 0.2 < sum(item is not None for item in media) / len(media) < 0.4
    names = Counter(document["ods:specimenName"] for document in specimens)
    assert len(names) > 150
    assert len({document["ods:organisationID"] for document in specimens}) >= 3
    countries = {document["ods:hasEvents"][0]["ods:hasLocation"]["dwc:country"]
                 for document in specimens}
    assert len(countries) > 15
    assert any("dwc:typeStatus" in identification for document in specimens
               for identification in document["ods:hasIdentifications"])
    assert len({document["oa:motivation"] for document in annotations}) == len(
        search_data.MOTIVATIONS)


def test_the_request_mixes_vary() -> None:
    rng = random.Random(1)
    for paths in (search.free_text(rng, 100), search.filters_and_facets(rng, 100),
                  search.suggestions(rng, 100, ["RMNH.INS.0012345", "L.0099887"])):
        assert len(set(paths)) > 50


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


def test_every_timed_request_is_answered_with_hits_and_walks_send_each_hit_once(
        tmp_path: Path, service: FDOService, gunicorn: str) -> None:
    loaded = search_data.Loaded()
    search_data.load(service, loaded, 120)
    assert len(loaded.specimens) == 120 and loaded.annotations == 12
    assert 0 < loaded.media < 120
    total = requests.get(f"{gunicorn}/api/v1/digital-specimens/search",
                         params={"hasMedia": "true"}, timeout=30).json()["total"]
    assert total == loaded.media  # each media object is linked to its own specimen
    catalogues = search.catalogue_numbers(service, 50)
    assert catalogues and not any(value.startswith(("urn:", "http")) for value in catalogues)
    results = search.measure_size(tmp_path, gunicorn, catalogues, 30, seed=1)
    for name in search.TARGETS_MS:
        assert results[name]["requests"] == 30 and results[name]["p99_ms"] > 0
    walked = results["walks"]["specimens, latest change first"]
    assert (walked["total"], walked["hits"], walked["pages"]) == (120, 120, 2)
    assert all(walk["complete"] for walk in results["walks"].values())
    answer = requests.get(f"{gunicorn}/api/v1/search", params={"q": "naturalis"}, timeout=30)
    assert answer.json()["total"] > 0


def test_with_the_search_index_off_writes_keep_none_and_search_answers_404(
        config: Config, tmp_path: Path) -> None:
    off = replace(config, search_index=False, port=servers.free_port())
    off = replace(off, base_url=f"http://127.0.0.1:{off.port}")
    assert Config.from_environment(off.to_environment()).search_index is False
    fdo = build_service(off)
    process = serve_app(off, off.port)
    try:
        fdo.create(SPECIMEN.name, specimen(), search_data.WRITER)
        assert fdo.index.search.live_counts() == {}
        for path in ("/api/v1/search?q=bombus", "/api/v1/digital-specimens/search",
                     "/api/v1/digital-specimens/search/suggest?prefix=bo"):
            answer = requests.get(f"{off.base_url}{path}", timeout=30)
            assert answer.status_code == 404
            assert "FDO_SEARCH_INDEX=off" in answer.json()["message"]
    finally:
        servers.stop_process(process)
        fdo.close()
    with pytest.raises(ValueError, match="on or off"):
        Config.from_environment({"FDO_SEARCH_INDEX": "maybe"})


def test_the_write_replay_records_what_creates_recorded_with_and_without_search(
        config: Config, tmp_path: Path) -> None:
    """bench/search_writes.py times recording the captured versions again: with their
    search documents they make the same entries the creates made; without, none."""
    from bench import search_writes

    versions = search_writes.captured_versions(config, 12)
    kinds = Counter(entry.kind for entry in versions)
    assert kinds[SPECIMEN.name] == 12 and all(entry.search for entry in versions)
    created = build_service(config)
    try:
        expected = created.index.search.live_counts()
    finally:
        created.close()
    assert expected == dict(kinds)
    for name, given in (("with", versions),
                        ("without", [replace(entry, search=None) for entry in versions])):
        url = f"sqlite:///{tmp_path}/{name}.sqlite3"
        assert search_writes.replay(url, given, lambda: 0.0) == 0.0
        index = search_writes.Index(url)
        try:
            assert index.search.live_counts() == (expected if name == "with" else {})
            assert len(list(index.all_versions())) == len(versions)
        finally:
            index.close()
