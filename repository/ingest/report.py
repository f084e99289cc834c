"""What an ingest run reports: each record's `Outcome`, the counts (`IngestReport`), the
outcomes listed one by one (`Listing`) and the whole report as JSON (`write_report`)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
PID_ONLY = "pid-only"  # a PID record only (the licence allows no more), created or kept
MISSING, TOMBSTONED = "missing", "tombstoned"  # specimens the dataset no longer has
# What became of an approved annotation on a re-checked specimen (ingest/curation.py).
REAPPLIED, IN_SOURCE, SOURCE_KEPT = "reapplied", "in-source", "source-kept"
CONFLICT, NO_LONGER_APPLIES = "conflict", "no-longer-applies"
CURATION_RESULTS = (REAPPLIED, IN_SOURCE, SOURCE_KEPT, CONFLICT, NO_LONGER_APPLIES)
CURATION_LISTED = (SOURCE_KEPT, CONFLICT, NO_LONGER_APPLIES)  # one by one in the report


@dataclass(frozen=True)
class Outcome:
    """What happened to one record (or to a specimen the dataset no longer has)."""

    line: int
    row_id: str
    status: str
    pid: str | None = None
    code: str | None = None  # why it was rejected
    problems: tuple[dict[str, str], ...] = ()
    warnings: tuple[dict[str, str], ...] = ()  # quality problems of an ingested record
    media: tuple[str, ...] = ()  # what happened to each of its media rows
    unmapped: tuple[str, ...] = ()  # terms openDS has no place for, met first in this record
    licence: str | None = None  # of a PID-only record: why it is one
    # Each approved annotation on its specimen: {"annotation", "path", "result", ...}.
    curation: tuple[dict[str, Any], ...] = ()

    @property
    def listed(self) -> bool:
        """Whether the report lists it one by one."""
        return self.status in Listing.LISTED or any(
            event["result"] in CURATION_LISTED for event in self.curation)


@dataclass
class IngestReport:
    """What a run did, counted: the summary of its report."""

    source_system: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # by code
    media: Counter[str] = field(default_factory=Counter)
    curation: Counter[str] = field(default_factory=Counter)  # by CURATION_RESULTS
    unmapped_terms: set[str] = field(default_factory=set)
    # With tombstoneMissing: the share guard's count (repository/ingest/guard.py).
    guard: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {"sourceSystem": self.source_system, "dryRun": self.dry_run,
                "counts": {status: self.counts[status]
                           for status in (CREATED, UPDATED, UNCHANGED, PID_ONLY, REJECTED,
                                          MISSING, TOMBSTONED)},
                "media": {status: self.media[status]
                          for status in (CREATED, UPDATED, UNCHANGED, REJECTED)},
                "curation": {result: self.curation[result] for result in CURATION_RESULTS},
                "warnings": dict(sorted(self.warnings.items())),
                "unmappedTerms": sorted(self.unmapped_terms),
                **({"tombstoneGuard": self.guard} if self.guard is not None else {})}

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
        if sum(self.curation.values()):
            lines.append("approved annotations: " + ", ".join(
                f"{self.curation[result]:,} {result}" for result in CURATION_RESULTS
                if self.curation[result]))
        if self.warnings:
            lines.append("warnings: " + ", ".join(f"{number:,} {code}" for code, number
                                                   in sorted(self.warnings.items())))
        if self.guard is not None:
            lines.append(self.guard.get("message") or (
                f"tombstone guard: {self.guard['missing']:,} of {self.guard['live']:,} live "
                f"specimens missing{' (forced)' if self.guard['forced'] else ''}"))
        return "\n".join(lines)


class Listing:
    """The outcomes a report lists one by one (rejected, PID-only and missing records),
    kept in a temporary file as JSON lines: a run's memory does not grow with how many
    there are, though a dataset may have as many as it has records."""

    LISTED = (REJECTED, PID_ONLY, MISSING, TOMBSTONED)

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - __exit__

    def __enter__(self) -> Listing:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()

    def add(self, outcome: Outcome) -> None:
        self._file.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")

    def __iter__(self) -> Iterator[Outcome]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            data = json.loads(line)
            yield Outcome(**{**data, **{name: tuple(data[name]) for name in
                                        ("problems", "warnings", "media", "unmapped",
                                         "curation")}})
        self._file.seek(0, 2)  # back to the end, for more


def write_report(report: IngestReport, listing: Listing, out: TextIO) -> None:
    """The whole report as JSON, written as the listing is read: the summary, then every
    rejected record (line, ID, code, problems), every PID-only record (line, ID, PID,
    licence), every specimen the dataset no longer has (PID, status, code, problems) and
    every approved annotation whose value and the source's part (PID, annotation, path,
    result, both values), one a line."""
    sections: dict[str, Callable[[Outcome], list[dict[str, Any]]]] = {
        "rejected": lambda o: [{"line": o.line, "id": o.row_id, "code": o.code,
                                "problems": list(o.problems)}] if o.status == REJECTED else [],
        "pidOnly": lambda o: [{"line": o.line, "id": o.row_id, "pid": o.pid,
                               "licence": o.licence}] if o.status == PID_ONLY else [],
        "missing": lambda o: [{"pid": o.pid, "status": o.status, "code": o.code,
                               "problems": list(o.problems)}]
        if o.status in (MISSING, TOMBSTONED) else [],
        "curationConflicts": lambda o: [{"pid": o.pid, **event} for event in o.curation
                               if event["result"] in CURATION_LISTED],
    }
    out.write(json.dumps(report.summary(), ensure_ascii=False)[:-1])  # its members, open
    for name, entry in sections.items():
        out.write(f',\n"{name}": [')
        separator = "\n"
        for outcome in listing:
            for listed in entry(outcome):
                out.write(separator + json.dumps(listed, ensure_ascii=False))
                separator = ",\n"
        out.write("]")
    out.write("}\n")
