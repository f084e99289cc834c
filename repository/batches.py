"""Annotation batches: one proposed annotation for every object a search finds, made by a
background job (repository/jobs.py), and decided as a whole.

A batch is named by its `ods:batchID` (a UUID), which every annotation of it carries
with its `ods:placeInBatch` (its place in the search's catalogue-number order). Nothing
else is stored about it: what it holds is what the index finds under that ID. Making a
batch is idempotent: each annotation is created as any annotation is, so one the batch
made before (a run interrupted by a killed process, sent again with its `batchID`) is
found, not made twice. Deciding a batch decides each of its pending annotations, each
target getting its own version, as one decision would; those the curator may not decide
(another organisation's objects) or that cannot apply are counted and left pending.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from repository import errors
from repository.access import Principal
from repository.decisions import Decision, Decisions
from repository.search import Search
from repository.services import FDOService
from resolver.pids import pid_url
from resolver.proposals import PENDING
from schemas import KINDS
from storage.annotation_table import AnnotationQuery

PAGE = 500  # targets read from the search at a time
SAMPLE = 10  # targets a dry run shows
# What the batch sets itself in the search: its order and its pages.
OWN_PARAMETERS = ("sort", "cursor", "pageSize", "facet", "facetSize")


@dataclass(frozen=True)
class BatchRequest:
    batch_id: str
    kind: str  # of the targets
    arguments: list[tuple[str, list[str]]]  # the search's, as /api/v1/<kind>/search takes
    template: dict[str, Any]  # the annotation, its target's @id left to the batch
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        """For the job's row: `from_json` gives the same request back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> BatchRequest:
        return cls(value["batch_id"], value["kind"],
                   [(name, list(values)) for name, values in value["arguments"]],
                   value["template"], value["dry_run"])


def parsed_request(body: Any) -> BatchRequest:
    """A batch request's body checked, or 422 naming what is wrong."""
    if not isinstance(body, dict):
        raise _invalid("", "must be a JSON object")
    unknown = sorted(set(body) - {"search", "kind", "annotation", "dryRun", "batchID"})
    if unknown:
        raise _invalid(f"/{unknown[0]}", "is not a term of a batch (search, kind, annotation, "
                                         "dryRun, batchID)")
    search, kind = body.get("search", ""), body.get("kind", "digital-specimens")
    if not isinstance(search, str) or len(search) > 4000:
        raise _invalid("/search", "is a search's query string, such as country=Belgium")
    if not isinstance(kind, str) or kind not in KINDS:
        raise _invalid("/kind", f"is one of {', '.join(KINDS)}")
    template = body.get("annotation")
    if not isinstance(template, dict):
        raise _invalid("/annotation", "is the annotation to make for each object found")
    batch_id = body.get("batchID") or str(uuid.uuid4())
    try:
        batch_id = str(uuid.UUID(str(batch_id)))
    except ValueError as error:
        raise _invalid("/batchID", "is a UUID (from an earlier answer, to resume)") from error
    if not isinstance(body.get("dryRun", False), bool):
        raise _invalid("/dryRun", "must be true or false")
    return BatchRequest(batch_id, kind, search_arguments(search), template,
                        bool(body.get("dryRun", False)))


def search_arguments(search: str) -> list[tuple[str, list[str]]]:
    """A search's query string as /api/v1/<kind>/search takes it, in catalogue-number
    order and pages of PAGE: what a job walking every object it finds asks."""
    arguments: dict[str, list[str]] = {}
    for name, value in parse_qsl(search, keep_blank_values=True):
        if name not in OWN_PARAMETERS:
            arguments.setdefault(name, []).append(value)
    return [*arguments.items(), ("sort", ["catalogueNumber"]), ("pageSize", [str(PAGE)])]


def found_objects(search: Search, kind: str, arguments: Sequence[tuple[str, list[str]]]
                  ) -> Iterator[tuple[int, str, int]]:
    """(place, PID, total) of every object the search finds, page by page."""
    paged = arguments
    place = 0
    while True:
        results = search.find((kind,), paged)
        for hit in results.page.hits:
            place += 1
            yield place, hit.pid, results.page.total
        if results.cursor is None:
            return
        paged = [*arguments, ("cursor", [results.cursor])]


class Batches:
    def __init__(self, fdo: FDOService, search: Search, decisions: Decisions) -> None:
        self.fdo = fdo
        self.search = search
        self.decisions = decisions

    def planned(self, request: BatchRequest, actor: Principal) -> dict[str, Any]:
        """How many objects the search finds, a sample, and the first annotation as it
        would be stored; 422 if the search finds nothing or the annotation is wrong."""
        results = self.search.find((request.kind,), request.arguments)
        hits = results.page.hits
        if not hits:
            raise _invalid("/search", "finds no object: a batch needs at least one")
        first = self.annotation(request, hits[0].pid, 1)
        client = self.fdo.checked_annotation(first, actor, (request.batch_id, 1))  # or 422
        return {"batchID": request.batch_id, "total": results.page.total,
                "sample": [pid_url(self.fdo.base_url, hit.pid) for hit in hits[:SAMPLE]],
                "annotation": client}

    def annotation(self, request: BatchRequest, target: str, place: int) -> dict[str, Any]:
        template = request.template
        sent_target = template.get("oa:hasTarget")
        target_node = {**(sent_target if isinstance(sent_target, dict) else {}),
                       "@id": pid_url(self.fdo.base_url, target)}
        return {**template, "oa:hasTarget": target_node}

    def check_owner(self, request: BatchRequest, actor: Principal) -> None:
        """403 unless the batch is new or `actor`'s own."""
        owner = self.fdo.index.annotations.batch_creator(request.batch_id)
        if owner is not None and owner != actor.agent.id:
            raise errors.Forbidden("this batch is another person's: only they add to it",
                                   permission="annotations:batch", creator=owner)

    def making(self, request: BatchRequest, actor: Principal) -> Callable[..., dict[str, Any]]:
        """The job's work: an annotation for each object the search finds. One the
        template does not fit is counted by the error it met, and the batch goes on."""
        self.check_owner(request, actor)

        def work(progress: Callable[[int, int], None]) -> dict[str, Any]:
            counts: Counter[str] = Counter()
            total = 0
            for place, target, found in found_objects(self.search, request.kind,
                                                      request.arguments):
                total = found
                try:
                    _, created = self.fdo.create_or_find(
                        "annotations", self.annotation(request, target, place), actor,
                        batch=(request.batch_id, place))
                    counts["created" if created else "found"] += 1
                except errors.FDOError as error:
                    counts[type(error).__name__] += 1
                progress(place, total)
            return {"batchID": request.batch_id, "targets": total, **counts}
        return work

    def deciding(self, batch_id: str, decision: Decision,
                 actor: Principal) -> Callable[..., dict[str, Any]]:
        """The job's work: the decision on each pending annotation of the batch."""
        def work(progress: Callable[[int, int], None]) -> dict[str, Any]:
            counts: Counter[str] = Counter()
            pending = self.status(batch_id)["annotations"].get(PENDING, 0)
            after, done = "", 0
            while True:
                pids, _ = self.fdo.index.annotations.page(AnnotationQuery(
                    batch=batch_id, decisions=(PENDING,), after=after, limit=PAGE))
                for pid in pids:
                    try:
                        self.decisions.decide(pid, decision, "*", actor)
                        counts[decision.status.lower()] += 1
                    except errors.FDOError as error:
                        counts[type(error).__name__] += 1
                    done += 1
                    progress(done, pending)
                if len(pids) < PAGE:
                    return {"batchID": batch_id, **counts}
                after = pids[-1]
        return work

    def status(self, batch_id: str) -> dict[str, Any]:
        counts = self.fdo.index.annotations.batch_counts(batch_id)
        return {"batchID": batch_id, "total": sum(counts.values()),
                "annotations": {decision or "undecided": count
                                for decision, count in sorted(counts.items())}}


def _invalid(path: str, message: str) -> errors.SchemaInvalid:
    return errors.SchemaInvalid(f"the batch's {path or 'body'} {message}",
                                [{"path": path, "message": message}])
