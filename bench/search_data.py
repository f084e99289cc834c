"""The search benchmark's repository: realistic specimens, media and annotations, loaded
through FDOService from threads.

Specimens are bench/dwca_generator.py's occurrences (a few hundred real taxa from
taxa.tsv, places from places.tsv, four institutions, type statuses on about 3%, dates in
every Darwin Core form) mapped to openDS by the ingest's own mapping
(repository/ingest/mapping.py), as `fdo ingest dwca` would write them. About 30% have
media: the first image of the record becomes a digital media object linked to its
specimen with `hasDigitalSpecimen`. Annotations (one per ten specimens) comment on,
assess or correct random specimens."""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dwca_generator
from specimens import CURATOR, LOADER
from sqlalchemy import select

from repository.access import ADMINISTRATOR, ANNOTATOR, Grant, Principal
from repository.ingest import mapping
from repository.ingest.dwca import Record
from repository.services import FDOService
from resolver.pids import pid_url
from schemas import ANNOTATION, MEDIA, SPECIMEN
from storage.models import ObjectRow

THREADS = 8
RUN = uuid.uuid4().hex[:8]  # physical IDs are unique per repository: unique per run
OFFSET = random.Random(RUN).randrange(10**7)  # catalogue numbers: this run's, as RUN
SOURCE = mapping.Source("https://hdl.handle.net/20.5000.1025/BEN-CHS-RCH", "Bench CMS")
ANNOTATIONS_PER_SPECIMEN = 0.1
MOTIVATIONS = ("oa:commenting", "oa:assessing", "oa:editing", "ods:adding")
REMARKS = ("Label says {locality}", "Identification checked against the type: {name}",
           "Coordinates look wrong for {country}", "Collector is {collector}, not illegible",
           "Duplicate of a specimen in another herbarium", "Photograph is of another sheet",
           "Date on the label is {date}", "Determined as {name} by the annotator")
# Where the proposed changes go: an edit of the locality the record has, a remark added.
PLACES = {"oa:editing": "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']",
          "ods:adding": "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locationRemarks']"}
# The source system's ingest writes specimens and media; a person writes annotations.
WRITER = Principal(LOADER, frozenset({Grant(ADMINISTRATOR)}))
ANNOTATOR_PERSON = Principal(CURATOR, frozenset({Grant(ANNOTATOR)}))


def occurrence(number: int) -> tuple[Record, list[dict[str, str]]]:
    """Occurrence `number` of this run as the ingest reads it: its core row (terms by
    prefixed name) and its media rows."""
    rng = random.Random(f"{RUN}-{number}")
    row, media = dwca_generator.occurrence(rng, (number * 7919 + OFFSET) % 10**7)
    terms = {("" if term.startswith("dcterms:") else "dwc:") + term: value
             for term, value in row.items() if value}
    terms["dwc:occurrenceID"] = row["occurrenceID"]
    names = [f"dcterms:{term.split(':')[-1]}" for term in dwca_generator.MEDIA_TERMS]
    return (Record(terms["dwc:occurrenceID"], terms),
            [dict(zip(names, values, strict=True)) for values in media])


def specimen(number: int) -> dict[str, Any]:
    return mapping.specimen(occurrence(number)[0], SOURCE)


def media(number: int, specimen_url: str) -> dict[str, Any] | None:
    """The first image of occurrence `number`, linked to its specimen; None for the
    70% without images."""
    record, rows = occurrence(number)
    if not rows:
        return None
    organisation = mapping.organisation(record.terms, SOURCE) or ""
    return mapping.media(rows[0], specimen_url, SOURCE, organisation)


def annotation(number: int, target_url: str) -> dict[str, Any]:
    """Annotation `number` on the specimen at `target_url` (occurrence `number`'s)."""
    rng = random.Random(f"{RUN}-annotation-{number}")
    terms = occurrence(number)[0].terms
    motivation = rng.choice(MOTIVATIONS)
    value = rng.choice(REMARKS).format(
        locality=terms.get("dwc:locality", "?"), name=terms.get("dwc:scientificName", "?"),
        country=terms.get("dwc:country", "?"), date=terms.get("dwc:eventDate", "?"),
        collector=terms.get("dwc:recordedBy", "?").split(" | ")[0])
    person = rng.choice(dwca_generator.PEOPLE)
    agent = {"@id": f"https://orcid.org/0000-0002-{rng.randrange(10**4):04d}-"
                    f"{rng.randrange(10**3):03d}X", "@type": "schema:Person",
             "schema:name": person}
    content: dict[str, Any] = {
        "oa:motivation": motivation,
        "oa:hasTarget": {"@id": target_url, "@type": "ods:DigitalSpecimen"},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [value]},
        "dcterms:creator": agent, "as:generator": agent,
        "dcterms:issued": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00.000Z"}
    if motivation in PLACES:  # a proposed change names its place; it waits, Pending
        content["oa:hasTarget"]["oa:hasSelector"] = {"@type": "ods:TermSelector",
                                                     "ods:term": PLACES[motivation]}
    return content


@dataclass
class Loaded:
    """What a load wrote: the specimens by occurrence number, and the counts."""

    specimens: dict[int, str] = field(default_factory=dict)  # number -> PID
    media: int = 0
    annotations: int = 0
    seconds: float = 0.0

    @property
    def objects(self) -> int:
        return len(self.specimens) + self.media + self.annotations

    def summary(self) -> dict[str, Any]:
        return {"specimens": len(self.specimens), "media": self.media,
                "annotations": self.annotations, "objects": self.objects,
                "seconds": self.seconds, "objects_per_s": self.objects / self.seconds,
                "threads": THREADS}


def create_specimen(fdo: FDOService, number: int, with_media: bool = True) -> tuple[str, int]:
    """Specimen `number` and (if it has one) its media object: (PID, media written)."""
    pid = fdo.create(SPECIMEN.name, specimen(number), WRITER).pid
    content = media(number, pid_url(fdo.base_url, pid)) if with_media else None
    if content is None:
        return pid, 0
    fdo.create(MEDIA.name, content, WRITER)
    return pid, 1


def load(fdo: FDOService, loaded: Loaded, count: int) -> None:
    """Add specimens (with their media) and annotations until `loaded` holds `count`
    specimens and one annotation per ten, from THREADS threads, with progress."""
    began = time.perf_counter()

    def one(number: int) -> tuple[int, str, int]:
        return (number, *create_specimen(fdo, number))

    for number, pid, media_count in threaded(one, range(len(loaded.specimens), count),
                                             "specimens"):
        loaded.specimens[number] = pid
        loaded.media += media_count
    annotate(fdo, loaded, count, began)


def load_by_ingest(fdo: FDOService, loaded: Loaded, count: int, folder: Path,
                   ingest: Callable[[Path], dict[str, Any]]) -> None:
    """The same growth by the bulk path: `ingest` (`fdo ingest dwca` in its own process)
    of a Darwin Core Archive of the next records of bench/dwca_generator.py's seed-1
    stream (about 30% with one to three images), then annotations as `load` makes them."""
    began = time.perf_counter()
    archive = folder / f"records-{count}.zip"
    written = dwca_generator.write_archive(archive, count - len(loaded.specimens),
                                           first=len(loaded.specimens))
    report = ingest(archive)
    created = report["counts"].get("created", 0)
    if created != written["records"]:
        raise RuntimeError(f"the ingest created {created} of {written['records']}: {report}")
    loaded.media += report["media"].get("created", 0)
    new = sorted(set(_specimen_pids(fdo)) - set(loaded.specimens.values()))
    loaded.specimens.update(zip(range(len(loaded.specimens), count), new, strict=True))
    annotate(fdo, loaded, count, began)


def _specimen_pids(fdo: FDOService) -> list[str]:
    statement = select(ObjectRow.pid).where(ObjectRow.kind == SPECIMEN.name)
    with fdo.index.engine.connect() as connection:
        return list(connection.scalars(statement))


def annotate(fdo: FDOService, loaded: Loaded, count: int, began: float) -> None:
    """Annotations on random specimens until there is one per ten of `count`."""
    targets = random.Random(f"{RUN}-targets-{count}").sample(
        sorted(loaded.specimens), int(count * ANNOTATIONS_PER_SPECIMEN) - loaded.annotations)

    def one(number: int) -> str:
        url = pid_url(fdo.base_url, loaded.specimens[number])
        return fdo.create(ANNOTATION.name, annotation(number, url), ANNOTATOR_PERSON).pid

    loaded.annotations += len(list(threaded(one, targets, "annotations")))
    loaded.seconds += time.perf_counter() - began
    print(f"loaded {loaded.objects:,} objects ({len(loaded.specimens):,} specimens, "
          f"{loaded.media:,} media, {loaded.annotations:,} annotations) in "
          f"{loaded.seconds:.0f}s: {loaded.objects / loaded.seconds:.0f} objects/s "
          f"({THREADS} threads)", flush=True)


def threaded(work: Callable[[int], Any], numbers: Any, what: str) -> Any:
    """`work` on each number from THREADS threads, in order, with progress."""
    began = time.perf_counter()
    pool = ThreadPoolExecutor(THREADS)
    try:
        for done, result in enumerate(pool.map(work, numbers), 1):
            yield result
            if done % 10000 == 0:
                print(f"  {done:,}/{len(numbers):,} {what} "
                      f"({done / (time.perf_counter() - began):.0f}/s)", file=sys.stderr,
                      flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: no new work
