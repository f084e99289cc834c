"""Bulk dumps: the repository as gzip NDJSON files and a manifest, consistent with one
change-feed position, so an aggregator loads a dump and then follows the change feed
from the next position without missing or repeating anything.

A dump at feed position P holds exactly the versions whose feed position is at most P
(with `all_versions`), or each object's latest version among those (the default):
the repository as it was when the feed had P entries. Tombstones are included, so a
loader knows what is gone. Each line is one JSON-LD object:
- default: the object's content as the resolver serves it in `application/ld+json`;
- `all_versions`: `{"@context", "@graph": [content, provenance event]}` per version.

Memory stays bounded whatever the size: versions are read from the index in keyset pages
of BATCH and from S3 by the reader's threads, and written straight into gzip files that are
closed once they pass `max_file_bytes`. Published dumps live in S3 under `dumps/<id>/`,
the manifest uploaded last, so a listed dump is always complete.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from repository.provenance import now_iso
from resolver.dump_catalog import DUMPS_PREFIX, FILE_TYPE, MANIFEST
from resolver.renderers import jsonld
from schemas import TOMBSTONE
from storage.index import Index
from storage.objects import ObjectStore
from storage.reader import VersionReader, VersionRef
from storage.versions import VersionRecord

BATCH = 256
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class DumpOptions:
    all_versions: bool = False
    kind: str | None = None
    since: str | None = None  # fixed-width ISO 8601 UTC, as the index stores times
    max_file_bytes: int = MAX_FILE_BYTES


class DumpError(Exception):
    """A dump cannot be written or published as asked."""


def export(reader: VersionReader, index: Index, base_url: str, out: Path,
           options: DumpOptions) -> dict[str, Any]:
    """Write a dump into `out` (a new or empty folder) and return its manifest."""
    if out.exists() and any(out.iterdir()):
        raise DumpError(f"{out} is not empty: a dump goes into a folder of its own")
    out.mkdir(parents=True, exist_ok=True)
    position = index.feed_length()
    counts: Counter[str] = Counter()
    files = _Files(out, options.max_file_bytes)
    for record in reader.versions(_refs(index, position, options)):
        files.write(_line(record, base_url, options.all_versions))
        counts["records"] += 1
        counts[record.kind] += 1
        if record.content.get("ods:status") == TOMBSTONE:
            counts["tombstones"] += 1
    manifest = {
        "created": now_iso(), "feedPosition": position,
        "allVersions": options.all_versions, "kind": options.kind, "since": options.since,
        "counts": {"records": 0, **counts}, "files": files.close(),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _refs(index: Index, position: int, options: DumpOptions) -> Iterator[VersionRef]:
    """The dump's versions in feed order, read from the index BATCH at a time."""
    after = 0
    while batch := index.versions_at(position, after, BATCH, not options.all_versions,
                                     options.kind, options.since):
        yield from ((pid, number) for _, pid, number in batch)
        after = batch[-1][0]


def _line(record: VersionRecord, base_url: str, all_versions: bool) -> bytes:
    content = jsonld.served(record.content, base_url)
    if all_versions:
        event = jsonld.compacted(record.provenance, base_url)
        document: dict[str, Any] = {
            "@context": content.pop("@context"),
            "@graph": [content, {key: value for key, value in event.items()
                                 if key != "@context"}]}
    else:
        document = content
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class _Files:
    """gzip files of NDJSON, each closed once it has passed `limit` bytes."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self.done: list[dict[str, Any]] = []
        self._raw: IO[bytes] | None = None
        self._gzip: gzip.GzipFile | None = None
        self._records = 0

    def write(self, line: bytes) -> None:
        if self._gzip is None or (self._raw is not None and self._raw.tell() >= self.limit):
            self._finish()
            name = f"part-{len(self.done):05d}.ndjson.gz"
            self._raw = (self.folder / name).open("wb")
            self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
            self._records = 0
        assert self._gzip is not None
        self._gzip.write(line + b"\n")
        self._records += 1

    def close(self) -> list[dict[str, Any]]:
        self._finish()
        return self.done

    def _finish(self) -> None:
        if self._gzip is None or self._raw is None:
            return
        self._gzip.close()
        self._raw.close()
        path = Path(self._raw.name)
        self.done.append({"name": path.name, "bytes": path.stat().st_size,
                          "sha256": file_sha256(path), "records": self._records})
        self._gzip = self._raw = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish(store: ObjectStore, folder: Path) -> str:
    """Upload a dump written by `export` to S3; returns its id. Files first, the manifest
    last: /dumps/ lists a dump only once its manifest is there."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for item in manifest["files"]:
        if file_sha256(folder / item["name"]) != item["sha256"]:
            raise DumpError(f"{item['name']} does not match the manifest's sha256")
    created = datetime.fromisoformat(manifest["created"].replace("Z", "+00:00"))
    dump_id = f"{created.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{manifest['feedPosition']}"
    for item in manifest["files"]:
        store.upload(f"{DUMPS_PREFIX}{dump_id}/{item['name']}", folder / item["name"], FILE_TYPE)
    store.upload(f"{DUMPS_PREFIX}{dump_id}/{MANIFEST}", folder / MANIFEST, "application/json")
    return dump_id
