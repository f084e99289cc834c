"""The tombstone share guard: before a run that would tombstone the specimens its dataset
no longer has writes anything, how many would go is counted, and above a share of the
source system's live specimens (FDO_TOMBSTONE_MAX_SHARE) the run stops unless forced.
A one-row archive submitted with tombstoneMissing would otherwise tombstone all of a
source system's specimens, irreversibly.

The count is one pass over the dataset's physical IDs, normalised as the run normalises
them, and the DOIs of our specimens its rows carry (`plans.CARRIED_PID_TERMS`), kept in
the run's SQLite file; then one pass over the source system's live specimens in the
index, in pages. Neither pass maps a record, so it costs a fraction of the run."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from repository.config import Config
from repository.ingest import mapping
from repository.ingest.datasets import Dataset
from repository.ingest.plans import CARRIED_PID_TERMS
from repository.services import normalised_physical_id
from resolver.pids import find_pid
from schemas import SPECIMEN
from storage.index import Index

TOMBSTONE_MAX_SHARE = Config.tombstone_max_share  # FDO_TOMBSTONE_MAX_SHARE's default


@dataclass(frozen=True)
class MissingShare:
    """How many of a source system's live specimens a dataset no longer has, counted
    before a run that would tombstone them writes anything."""

    missing: int
    live: int
    max_share: float
    forced: bool

    @property
    def share(self) -> float:
        return self.missing / self.live if self.live else 0.0

    @property
    def stops(self) -> bool:
        """Whether a run that tombstones them stops before writing anything."""
        return not self.forced and self.share > self.max_share

    def refusal(self, source_name: str, written: bool = False) -> str:
        """Why the run stopped before writing; `written`: why, its records written, it
        tombstoned none of them."""
        return (f"tombstoneMissing would tombstone {self.missing} of the {self.live} live "
                f"specimens of {source_name} ({self.share:.0%}), more than the "
                f"{self.max_share:.0%} FDO_TOMBSTONE_MAX_SHARE allows: "
                f"{'none was tombstoned' if written else 'nothing was written'}. Check that "
                "the dataset is complete; to tombstone them all the same, submit it again "
                "with force=true (fdo ingest --force)")

    def as_json(self, source_name: str) -> dict[str, Any]:
        return {"missing": self.missing, "live": self.live, "share": round(self.share, 4),
                "maxShare": self.max_share, "forced": self.forced, "stops": self.stops,
                **({"message": self.refusal(source_name)} if self.stops else {})}


class TooManyMissing(Exception):
    """A run asked to tombstone more of its source system's specimens than the share
    allows, unforced: it stopped before writing anything."""

    def __init__(self, share: MissingShare, source_name: str) -> None:
        super().__init__(share.refusal(source_name))
        self.share = share


def count_missing(index: Index, archive: Dataset, source: mapping.Source,
                  seen: sqlite3.Connection, max_share: float, force: bool) -> MissingShare:
    """How many of the source system's live specimens the dataset names neither by their
    physical ID nor by their DOI. `seen` is the run's SQLite file (a table `named` is
    added to it)."""
    seen.execute("CREATE TABLE named (key TEXT PRIMARY KEY)")
    for record in archive.records():
        seen.executemany("INSERT OR IGNORE INTO named VALUES (?)",
                         [(key,) for key in _names(record.terms, source)])
    live = missing = 0
    after = ""
    while page := index.live_objects_of_source(source.system_id, SPECIMEN.name, after):
        states = index.states(page)
        keys = page + [physical for pid in page
                       if (physical := states[pid].physical_id) is not None]
        named = {key for (key,) in seen.execute(
            f"SELECT key FROM named WHERE key IN ({','.join('?' * len(keys))})", keys)}
        live += len(page)
        missing += sum(1 for pid in page if pid not in named
                       and states[pid].physical_id not in named)
        after = page[-1]
    return MissingShare(missing, live, max_share, force)


def _names(terms: dict[str, str], source: mapping.Source) -> list[str]:
    """What a row names its specimen by: its normalised physical ID, and any PID it
    carries (the run finds a specimen whose physical ID changed by its DOI)."""
    found = mapping.physical_id(terms)
    names = [normalised_physical_id({
        "ods:physicalSpecimenID": found[0], "ods:physicalSpecimenIDType": found[1],
        "ods:sourceSystemID": source.system_id,
        "ods:organisationID": mapping.organisation(terms, source)})] if found else []
    names += [pid for term in CARRIED_PID_TERMS for value in terms.get(term, "").split("|")
              if (pid := find_pid(value))]
    return names
