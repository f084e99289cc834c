"""Approved curation survives a dataset re-check (repository/ingest/curation.py): the
source's record comes again, and the approved values are put back, kept as the source
now has them, or listed as conflicts; on real S3 and both index engines."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from repository.access import trusted
from repository.decisions import Decision, Decisions
from repository.ingest.report import UNCHANGED, UPDATED, Listing, write_report
from repository.provenance import Agent
from repository.services import FDOService
from tests.test_ingest import ROWS, archive, ingest, source

pytestmark = pytest.mark.s3
ANNOTATOR = trusted(Agent("https://orcid.org/0000-0002-1825-0097", "Ann Otator", "annotator"))
CURATOR = trusted(Agent("https://orcid.org/0000-0001-5109-3700", "Cur Ator", "curator"))
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"


def _pid(service: FDOService, catalogue: str) -> str:
    suffix = source(service).system_id.rsplit("/", 1)[-1]
    pid = service.index.pid_for_physical_id(f"{catalogue}:{suffix}")
    assert pid is not None
    return pid


def _approve(service: FDOService, pid: str, value: str, priority: bool = False) -> Any:
    annotation = service.create("annotations", {
        "oa:motivation": "oa:editing",
        "oa:hasTarget": {"@id": pid, "oa:hasSelector": {"@type": "ods:TermSelector",
                                                        "ods:term": LOCALITY}},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [value]}}, ANNOTATOR)
    decisions = Decisions(service.index, service.reader, service.writes, service.base_url)
    return decisions.decide(annotation.pid, Decision("Approved", "", False, priority), "*",
                            CURATOR)


def _locality(service: FDOService, pid: str) -> str:
    prefix, suffix = pid.split("/")
    content = service.latest("digital-specimens", prefix, suffix).content
    return str(content["ods:hasEvents"][0]["ods:hasLocation"]["dwc:locality"])


def _row(row: tuple[str, ...], locality: str, name: str | None = None) -> tuple[str, ...]:
    return (*row[:3], name or row[3], locality, *row[5:])


def test_approved_values_survive_re_checks_unless_the_curator_let_the_source_win(
        service, tmp_path):
    ingest(service, archive(tmp_path / "v1.zip", ROWS))
    pids = [_pid(service, row[1]) for row in ROWS]
    decided = [_approve(service, pids[0], "Hortus botanicus Leiden"),
               _approve(service, pids[1], "Delft centre", priority=True),
               _approve(service, pids[2], "Gouda West")]
    length = service.index.feed_length()

    # The source sends what it sent before: the approved values stay, and nothing is written.
    same, _ = ingest(service, archive(tmp_path / "v1b.zip", ROWS))
    assert same.counts == {UNCHANGED: 3}
    assert same.curation == {"reapplied": 3}
    assert service.index.feed_length() == length

    # The source takes over one value, changes two others, and renames the first taxon.
    edited = [_row(ROWS[0], "Hortus botanicus Leiden", "Bombus lucorum"),
              _row(ROWS[1], "Delft-Zuid"), _row(ROWS[2], "Gouda-Noord")]
    report, listed = ingest(service, archive(tmp_path / "v2.zip", edited))
    assert report.curation == {"in-source": 1, "source-kept": 1, "conflict": 1}
    assert report.counts == {UPDATED: 2, UNCHANGED: 1}
    assert [_locality(service, pid) for pid in pids] == [
        "Hortus botanicus Leiden", "Delft-Zuid", "Gouda West"]
    conflicts = {(event["result"], event["source"], event["approved"])
                 for outcome in listed for event in outcome.curation}
    assert conflicts == {("source-kept", "Delft-Zuid", "Delft centre"),
                         ("conflict", "Gouda-Noord", "Gouda West")}
    assert decided[0].target is not None


def test_a_re_check_that_changes_another_field_names_the_annotation_it_put_back(
        service, tmp_path):
    ingest(service, archive(tmp_path / "v1.zip", ROWS))
    pid = _pid(service, ROWS[0][1])
    decided = _approve(service, pid, "Hortus botanicus Leiden")
    renamed = [_row(ROWS[0], ROWS[0][4], "Bombus lucorum"), *ROWS[1:]]
    report, listed = ingest(service, archive(tmp_path / "v2.zip", renamed))
    assert report.counts == {UPDATED: 1, UNCHANGED: 2} and report.curation == {"reapplied": 1}
    assert listed == []  # a value put back is counted, not listed
    prefix, suffix = pid.split("/")
    latest = service.latest("digital-specimens", prefix, suffix)
    assert _locality(service, pid) == "Hortus botanicus Leiden"
    event = latest.provenance
    # the annotation's approved version: the decision that made the value the repository's
    annotation_version = f'{decided.annotation.content["@id"]}/{decided.annotation.version}'
    assert event["prov:Entity"]["prov:wasDerivedFrom"] == [annotation_version]
    assert event["prov:Activity"]["prov:used"][1] == annotation_version
    assert event["ods:hasAgents"][0]["@id"] == source(service).system_id
    assert {"@id": ANNOTATOR.agent.id} .items() <= event["ods:hasAgents"][1].items()
    changed = {operation["path"] for operation in event["prov:Activity"]["ods:changeValue"]}
    assert changed == {  # the taxon only: the locality stays as approved
        "/ods:hasIdentifications/0/ods:hasTaxonIdentifications/0/dwc:scientificName",
        "/ods:specimenName"}


def test_the_report_counts_put_back_values_and_lists_conflicts_with_both(service, tmp_path):
    ingest(service, archive(tmp_path / "v1.zip", ROWS))
    pid = _pid(service, ROWS[2][1])
    decided = _approve(service, pid, "Gouda West")
    report, listed = ingest(service, archive(tmp_path / "v2.zip", [
        *ROWS[:2], _row(ROWS[2], "Gouda-Noord")]))
    out = io.StringIO()
    with Listing() as listing:
        for outcome in listed:
            listing.add(outcome)
        write_report(report, listing, out)
    written = json.loads(out.getvalue())
    assert written["curation"] == {"reapplied": 0, "in-source": 0, "source-kept": 0,
                                   "conflict": 1, "no-longer-applies": 0}
    assert written["curationConflicts"] == [{
        "pid": pid,
        "annotation": f'{decided.annotation.content["@id"]}/{decided.annotation.version}',
        "path": "/ods:hasEvents/0/ods:hasLocation/dwc:locality", "result": "conflict",
        "source": "Gouda-Noord", "approved": "Gouda West"}]
    assert "approved annotations: 1 conflict" in report.readable()
