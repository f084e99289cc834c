"""The stored form of one version: the unit written once to S3.

A version record holds everything needed to rebuild the index and to check integrity:
the object content, the provenance event that produced it, the digest of the previous
version (a hash chain) and its own digest. The record's digest covers all of it, so a
changed byte anywhere in a version (content or provenance) is detected by `fdo verify`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

KEY_ROOT = "fdo/"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: equal values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_key(pid: str, number: int) -> str:
    """`fdo/<prefix>/<suffix>/v00000001.json`: zero-padded so S3 lists versions in order."""
    return f"{KEY_ROOT}{pid}/v{number:08d}.json"


class CorruptRecord(Exception):
    """Bytes in S3 that do not decode to a version record."""


@dataclass(frozen=True)
class VersionRecord:
    pid: str
    kind: str
    version: int
    content: dict[str, Any]
    provenance: dict[str, Any]
    previous_digest: str | None
    digest: str = ""

    @property
    def key(self) -> str:
        return version_key(self.pid, self.version)

    @cached_property
    def content_digest(self) -> str:
        return sha256_hex(canonical_json(self.content))

    def _unsigned(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "kind": self.kind,
            "version": self.version,
            "previousDigest": self.previous_digest,
            "contentDigest": self.content_digest,
            "content": self.content,
            "provenance": self.provenance,
        }

    def computed_digest(self) -> str:
        return sha256_hex(canonical_json(self._unsigned()))

    def sealed(self) -> VersionRecord:
        """This record with its digest filled in."""
        return VersionRecord(
            self.pid, self.kind, self.version, self.content, self.provenance,
            self.previous_digest, self.computed_digest(),
        )

    def to_bytes(self) -> bytes:
        return canonical_json({**self._unsigned(), "digest": self.digest})

    @classmethod
    def from_bytes(cls, body: bytes) -> VersionRecord:
        """Decode without checking the digest (`fdo verify` checks; reads trust S3)."""
        try:
            data = json.loads(body)
            return cls(
                pid=data["pid"],
                kind=data["kind"],
                version=int(data["version"]),
                content=data["content"],
                provenance=data["provenance"],
                previous_digest=data["previousDigest"],
                digest=data["digest"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise CorruptRecord(str(error)) from error

