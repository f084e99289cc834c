"""Ingesting a dataset: each record becomes a digital specimen, or changes the one it
already is, or is reported as unchanged or rejected.

A record's specimen is found by its normalised physical specimen ID (the index's unique
key), so ingesting the same dataset again creates no version: the service compares the
mapped content with the current version's client part, and equal parts are no change.
Server-owned fields (`dcterms:modified`, `ods:version`, ...) are not in that part, so a
source's own timestamps never count as a change either. A record whose content changed
gets exactly one new version, whose provenance (`ods:Update`) has the JSON Patch of the
changed fields and the source system as its agent (a `machine` agent).

A bad record never stops the rest: it is reported with a stable code and, for schema
errors, the JSON Pointer of each problem (quality checks and their codes:
repository/ingest/quality.py). Only an unreadable archive stops a run, and
that before anything is written (`ArchiveError`).

Media rows (Audubon Core, Simple Multimedia) become digital media objects pointing at
their specimen (`hasDigitalSpecimen`), found again on a re-check by their access URI;
the specimen points at them (`hasDigitalMedia`, `ods:isKnownToContainMedia`). A new
specimen with media is created, then given its media's links: two versions, once.

A record whose licence is not CC0, CC BY or public domain gets a PID record only
(`mapping.pid_record`), reported as `pid-only`.

Specimens of the source system that the dataset no longer has are reported as `missing`
(with `tombstone_missing`, tombstoned with the reason).

A record whose physical ID changed but that carries its specimen's DOI (in
`dwc:otherCatalogNumbers` or `dcterms:identifier`) updates that specimen; without it, the
old specimen is missing and, if a new one has its catalogNumber, flagged
`possible-duplicate`.

Not yet (issue 5, in progress): media rows that disappeared (their objects stay,
unlinked), concurrent writes, ABCD and the HTTP job API; a dry run does not look at
media.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from repository import errors
from repository.ingest import mapping, quality
from repository.ingest.dwca import Record
from repository.provenance import Agent
from repository.records import TOMBSTONE, client_part
from repository.services import FDOService, normalised_physical_id
from resolver.pids import ALPHABET, find_pid, pid_url

SPECIMENS, MEDIA = "digital-specimens", "digital-media"
CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
PID_ONLY = "pid-only"  # a PID record only (the licence allows no more), created or kept
MISSING, TOMBSTONED = "missing", "tombstoned"  # specimens the dataset no longer has
CARRIED_PID_TERMS = ("dwc:otherCatalogNumbers", "dcterms:identifier")


@dataclass(frozen=True)
class Outcome:
    line: int
    row_id: str
    status: str
    pid: str | None = None
    code: str | None = None  # why it was rejected
    problems: tuple[dict[str, str], ...] = ()
    warnings: tuple[dict[str, str], ...] = ()  # quality problems of an ingested record
    media: tuple[str, ...] = ()  # what happened to each of its media rows


@dataclass
class Report:
    source_system: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # by code
    media: Counter[str] = field(default_factory=Counter)
    unmapped_terms: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        return {"sourceSystem": self.source_system, "dryRun": self.dry_run,
                "counts": {status: self.counts[status]
                           for status in (CREATED, UPDATED, UNCHANGED, PID_ONLY, REJECTED,
                                          MISSING, TOMBSTONED)},
                "media": {status: self.media[status]
                          for status in (CREATED, UPDATED, UNCHANGED, REJECTED)},
                "warnings": dict(sorted(self.warnings.items())),
                "unmappedTerms": sorted(self.unmapped_terms)}

    def readable(self) -> str:
        """The summary in a few lines, for people (the CLI prints it to stderr)."""
        counts = ", ".join(f"{self.counts[status]:,} {status}" for status in
                           (CREATED, UPDATED, UNCHANGED, PID_ONLY, REJECTED, MISSING,
                            TOMBSTONED) if self.counts[status])
        lines = [f"{'dry run: ' if self.dry_run else ''}{self.source_system}: "
                 f"{counts or 'no records'}"]
        if sum(self.media.values()):
            lines.append("media: " + ", ".join(f"{number:,} {status}" for status, number
                                                in sorted(self.media.items())))
        if self.warnings:
            lines.append("warnings: " + ", ".join(f"{number:,} {code}" for code, number
                                                   in sorted(self.warnings.items())))
        return "\n".join(lines)


def report_document(report: Report, kept: list[Outcome]) -> dict[str, Any]:
    """The whole report as JSON: the summary, then every rejected record (line, ID, code,
    problems) and the PIDs of the specimens the dataset no longer has."""
    return {**report.summary(), "rejected": [
        {"line": outcome.line, "id": outcome.row_id, "code": outcome.code,
         "problems": list(outcome.problems)} for outcome in kept if outcome.status == REJECTED],
        "missing": [{"pid": outcome.pid, "status": outcome.status, "code": outcome.code,
                     "problems": list(outcome.problems)}
                    for outcome in kept if outcome.status != REJECTED]}


def source_system_id(name: str, base_url: str, handle_prefix: str) -> str:
    """A stable PID URL naming a source system, derived from its name (source systems
    are not objects of this repository yet)."""
    digest = hashlib.sha256(name.encode()).digest()
    chars = "".join(ALPHABET[byte % len(ALPHABET)] for byte in digest[:9])
    return f"{base_url}/{handle_prefix}/{chars[:3]}-{chars[3:6]}-{chars[6:]}"


class Dataset(Protocol):
    """A dataset to ingest: a Darwin Core Archive or ABCD documents."""

    def check(self) -> int: ...  # read through, raising ArchiveError; the record count
    def records(self) -> Iterator[Record]: ...


def ingest(service: FDOService, archive: Dataset, source: mapping.Source,
           dry_run: bool = False, tombstone_missing: bool = False,
           progress: Callable[[int, int], None] | None = None) -> Iterator[Outcome]:
    """Ingest every record of the archive, yielding what happened to each, then each
    specimen of this source system the dataset no longer has (`missing`, or with
    `tombstone_missing`, `tombstoned`). `dry_run` maps and checks everything but writes
    nothing.

    The archive is read through once before anything is written, so one that turns out
    unreadable half-way (bytes not in its encoding, a corrupt member) leaves nothing
    half-ingested. `progress(done, total)` is called after each record."""
    total = archive.check()
    agent = Agent(id=source.system_id, name=source.system_name, role="machine")
    seen: set[bytes] = set()  # digests of the physical IDs met so far in this dataset
    ingested: set[str] = set()  # the PIDs the dataset still has
    new_by_catalog: dict[str, str] = {}  # catalogNumber -> PID of the specimens created now
    for done, record in enumerate(archive.records(), start=1):
        outcome = _one(service, record, source, agent, dry_run, seen)
        if progress is not None:
            progress(done, total)
        if outcome.pid:
            ingested.add(outcome.pid)
        if outcome.status == CREATED and outcome.pid and record.terms.get("dwc:catalogNumber"):
            new_by_catalog[record.terms["dwc:catalogNumber"]] = outcome.pid
        yield outcome
    yield from _missing(service, source, agent, ingested, new_by_catalog,
                        tombstone_missing and not dry_run)


def run(service: FDOService, archive: Dataset, source: mapping.Source,
        dry_run: bool = False, tombstone_missing: bool = False,
        progress: Callable[[int, int], None] | None = None) -> tuple[Report, list[Outcome]]:
    """`ingest` with its report; the outcomes of rejected and missing records are kept."""
    report = Report(source.system_name, dry_run)
    kept = []
    for outcome in ingest(service, archive, source, dry_run, tombstone_missing, progress):
        report.counts[outcome.status] += 1
        report.warnings.update(warning["code"] for warning in outcome.warnings)
        report.media.update(outcome.media)
        if outcome.status in (REJECTED, MISSING, TOMBSTONED):
            kept.append(outcome)
    return report, kept


def _missing(service: FDOService, source: mapping.Source, agent: Agent, ingested: set[str],
             new_by_catalog: dict[str, str], tombstone: bool) -> Iterator[Outcome]:
    """The live specimens of this source system that the dataset no longer has. One whose
    catalogNumber a specimen created in this run has is a possible duplicate: probably the
    same specimen under a changed physical ID, without its DOI to say so."""
    gone: list[str] = []
    after = ""
    while page := service.index.live_objects_of_source(source.system_id, SPECIMENS, after):
        gone += [pid for pid in page if pid not in ingested]
        after = page[-1]
    for pid in gone:  # after the listing: tombstoning changes what it lists
        prefix, suffix = pid.split("/")
        catalog = mapping.identifier(service.latest(SPECIMENS, prefix, suffix).content,
                                     "dwc:catalogNumber")
        twin = new_by_catalog.get(str(catalog)) if catalog else None
        problems = ({"path": "/dwc:catalogNumber", "message":
                     f"the new specimen {twin} has the same catalogNumber: if it is this "
                     "specimen under a changed physical ID, carry this specimen's DOI in "
                     "dwc:otherCatalogNumbers and ingest again"},) if twin else ()
        if tombstone:
            prefix, suffix = pid.split("/")
            service.tombstone(SPECIMENS, prefix, suffix,
                              f"no longer in the dataset of {source.system_name}", None, None,
                              agent)
        yield Outcome(0, "", TOMBSTONED if tombstone else MISSING, pid,
                      code="possible-duplicate" if twin else None, problems=problems)


def _one(service: FDOService, record: Any, source: mapping.Source, agent: Agent,
         dry_run: bool, seen: set[bytes]) -> Outcome:
    def rejected(code: str, *problems: dict[str, str]) -> Outcome:
        return Outcome(record.line, record.row_id, REJECTED, code=code, problems=problems)

    if mapping.physical_id(record.terms) is None:
        return rejected("missing-physical-id", {"path": "", "message": "the record has none of "
                        + ", ".join(mapping.PHYSICAL_ID_TERMS)})
    if mapping.organisation(record.terms, source) is None:
        return rejected("missing-organisation", {"path": "/ods:organisationID", "message":
                        "no ROR or Wikidata institutionID, and no --organisation given"})
    found = quality.problems(record.terms)
    content = mapping.specimen(record, source)
    normalised = normalised_physical_id(content)
    key = hashlib.sha256(normalised.encode()).digest()
    if key in seen:
        found.append(quality.Problem("duplicate-physical-id", "/ods:physicalSpecimenID",
                                     f"an earlier record of this dataset has {normalised}"))
    seen.add(key)
    stopping = [problem for problem in found if problem.rejects]
    if stopping:
        return rejected(stopping[0].code, *(problem.as_json() for problem in stopping))
    warnings = tuple(problem.as_json() for problem in found)
    full = mapping.open_licence(content.get("dcterms:license"))
    if not full:
        content = mapping.pid_record(content)
    violations = service.validator.violations(SPECIMENS, content)
    if violations:
        return rejected("schema", *({"path": v.path, "message": v.message} for v in violations))
    pid = service.index.pid_for_physical_id(normalised) or _carried_pid(service, record.terms)
    if dry_run:
        return Outcome(record.line, record.row_id,
                       _would_be(service, pid, content) if full else PID_ONLY, pid,
                       warnings=warnings)
    status = UNCHANGED
    try:
        if pid is None:
            pid, status = service.create(SPECIMENS, content, agent).pid, CREATED
        rows = [row for row_type in mapping.MEDIA_ROW_TYPES
                for row in record.extensions.get(row_type, [])] if full else []
        media_pids, media, media_problems = _media(service, pid, rows, source, agent,
                                                   content["ods:organisationID"])
        warnings += tuple(media_problems)
        if media_pids:
            content = {**content, "ods:isKnownToContainMedia": True,
                       "ods:hasEntityRelationships": [
                           mapping.relationship("hasDigitalMedia", pid_url(service.base_url, m))
                           for m in media_pids]}
        if status != CREATED or media_pids:
            prefix, suffix = pid.split("/")
            _, new = service.replace(SPECIMENS, prefix, suffix, content, "*", agent)
            status = CREATED if status == CREATED else UPDATED if new else UNCHANGED
    except errors.FDOError as error:
        return rejected(type(error).__name__, {"path": "", "message": str(error)})
    return Outcome(record.line, record.row_id, status if full else PID_ONLY, pid,
                   warnings=warnings, media=media)


def _carried_pid(service: FDOService, terms: dict[str, str]) -> str | None:
    """The PID of a live specimen of ours that the row names (its DOI in
    `dwc:otherCatalogNumbers` or `dcterms:identifier`): the same specimen, whose physical
    ID changed, so it is updated, not duplicated."""
    for term in CARRIED_PID_TERMS:
        for value in terms.get(term, "").split("|"):
            pid = find_pid(value)
            row = service.index.current(pid) if pid else None
            if row is not None and row.kind == SPECIMENS and row.status != TOMBSTONE:
                return row.pid
    return None


def _media(service: FDOService, specimen: str, rows: list[dict[str, str]],
           source: mapping.Source, agent: Agent,
           organisation: str) -> tuple[list[str], tuple[str, ...], list[dict[str, str]]]:
    """Create or re-check the media objects of one specimen, each found again by its
    access URI among the media that point at the specimen. Their PIDs, in row order,
    what happened to each row, and why rows were rejected."""
    known: dict[str, str] = {}
    for relation, linked in service.index.linked(specimen, incoming_only=True):
        if relation == "hasDigitalSpecimen" and linked.kind == MEDIA and linked.status != TOMBSTONE:
            prefix, suffix = linked.pid.split("/")
            known[str(service.latest(MEDIA, prefix, suffix).content.get("ac:accessURI"))] = (
                linked.pid)
    url = pid_url(service.base_url, specimen)
    pids: list[str] = []
    statuses: list[str] = []
    problems: list[dict[str, str]] = []
    for number, row in enumerate(rows):
        content = mapping.media(row, url, source, organisation)
        found = ([{"code": "media-without-access-uri", "path": f"/media/{number}",
                   "message": "the media row has no ac:accessURI or dcterms:identifier"}]
                 if content is None else
                 [{"code": "media-schema", "path": f"/media/{number}{v.path}",
                   "message": v.message} for v in service.validator.violations(MEDIA, content)])
        if content is None or found:
            problems += found
            statuses.append(REJECTED)
            continue
        pid = known.get(content["ac:accessURI"])
        if pid is None:
            pid = service.create(MEDIA, content, agent).pid
            known[content["ac:accessURI"]] = pid
            statuses.append(CREATED)
        else:
            prefix, suffix = pid.split("/")
            _, new = service.replace(MEDIA, prefix, suffix, content, "*", agent)
            statuses.append(UPDATED if new else UNCHANGED)
        if pid not in pids:
            pids.append(pid)
    return pids, tuple(statuses), problems


def _would_be(service: FDOService, pid: str | None, content: dict[str, Any]) -> str:
    """What a real run would do with this record (the service's own comparison)."""
    if pid is None:
        return CREATED
    prefix, suffix = pid.split("/")
    current = client_part(service.latest(SPECIMENS, prefix, suffix).content)
    candidate = {"ods:normalisedPhysicalSpecimenID": normalised_physical_id(content),
                 **client_part(content)}
    return UNCHANGED if candidate == current else UPDATED
