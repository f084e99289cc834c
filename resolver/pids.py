"""Persistent identifiers: mint, parse and normalise DOIs and Handles.

A PID is `<prefix>/<suffix>`; the suffix is three groups of three characters from an
alphabet without look-alikes (no I, O, U). Resolution is case-insensitive; the stored
form is upper case. A version is addressed as `<prefix>/<suffix>/<n>`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import unquote

from werkzeug.routing import IntegerConverter

ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ1234567890"
_SUFFIX = re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}$")
_PREFIX = re.compile(r"^(10|20|21)\.[0-9A-Za-z.]+$")
# Version numbers are ASCII digits: str.isdigit() and `\d` also take '²' and '٣'.
VERSION_NUMBER = re.compile(r"[0-9]{1,18}")
# Forms people paste: doi:, hdl:, resolver URLs of doi.org / hdl.handle.net, our own.
_SCHEMES = re.compile(
    r"^(?:doi:|hdl:|info:doi/|https?://(?:dx\.)?doi\.org/|https?://hdl\.handle\.net/)",
    re.IGNORECASE,
)


# A PID inside any text: a bare PID, a resolver URL, ours, a versioned URL...
_PID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z.])((?:10|20|21)\.[0-9A-Za-z.]+)/"
                          r"([A-Za-z0-9]{3}-[A-Za-z0-9]{3}-[A-Za-z0-9]{3})(?![A-Za-z0-9-])")


class MalformedPID(ValueError):
    """Text that is not a PID of the form <prefix>/<XXX-XXX-XXX>[/<version>]."""


@dataclass(frozen=True)
class PidRef:
    """A PID, optionally pinned to one version."""

    pid: str
    version: int | None = None

    @property
    def prefix(self) -> str:
        return self.pid.split("/", 1)[0]

    @property
    def suffix(self) -> str:
        return self.pid.split("/", 1)[1]

    @property
    def is_doi(self) -> bool:
        return self.prefix.startswith("10.")


def mint_suffix() -> str:
    return _suffix([secrets.choice(ALPHABET) for _ in range(9)])


def derived_suffix(*parts: str) -> str:
    """A suffix of the minted form derived from `parts`: the same parts, the same suffix.
    A bulk ingest derives each new object's PID from what identifies its record, so a
    re-run after an interruption arrives at the same PID and finds what it wrote."""
    digest = hashlib.sha256("\n".join(parts).encode()).digest()
    return _suffix([ALPHABET[byte % len(ALPHABET)] for byte in digest[:9]])


def _suffix(chars: list[str]) -> str:
    """Nine characters in the minted form `XXX-XXX-XXX`."""
    return "-".join("".join(chars[i : i + 3]) for i in (0, 3, 6))


def canonical_pid(prefix: str, suffix: str) -> str:
    """`prefix/SUFFIX`, or MalformedPID. Prefixes keep their case; suffixes go upper."""
    suffix = suffix.upper()
    if not _PREFIX.match(prefix):
        raise MalformedPID(f"'{prefix}' is not a DOI or Handle prefix (10.x, 20.x or 21.x)")
    if not _SUFFIX.match(suffix):
        raise MalformedPID(f"'{suffix}' is not a PID suffix of the form XXX-XXX-XXX")
    return f"{prefix}/{suffix}"


def parse_pid(text: str, base_url: str = "") -> PidRef:
    """Parse a PID as people write it: bare, `doi:`, a resolver URL, or our own URL,
    optionally followed by `/<version>`."""
    value = unquote(text.strip())
    if base_url and value.lower().startswith(base_url.lower() + "/"):
        value = value[len(base_url) + 1 :]
    value = _SCHEMES.sub("", value).strip("/")
    parts = value.split("/")
    if len(parts) not in (2, 3):
        raise MalformedPID(f"'{text}' is not of the form <prefix>/<suffix>[/<version>]")
    pid = canonical_pid(parts[0], parts[1])
    if len(parts) == 2:
        return PidRef(pid)
    if not VERSION_NUMBER.fullmatch(parts[2]) or int(parts[2]) < 1:
        raise MalformedPID(f"'{parts[2]}' in '{text}' is not a version number (1, 2, ...)")
    return PidRef(pid, int(parts[2]))


# Past any version or page the index can hold, and within a 64-bit SQL integer.
NUMBER_CEILING = 10**18


class VersionConverter(IntegerConverter):
    """`<int:number>` in every route: ASCII digits only (werkzeug's takes any Unicode
    decimal digit, so `/<pid>/٣` was version 3). A longer number than the index can hold
    still matches its route and stands as NUMBER_CEILING, so it is the route's own 404
    ("no version ...", "no sitemap ...") rather than a PID route's 400."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value) if VERSION_NUMBER.fullmatch(value) else NUMBER_CEILING


def find_pid(text: str) -> str | None:
    """The canonical PID that `text` names, whatever URL or prefix wraps it (None if it
    names none). Used to follow links between objects, not to validate input."""
    match = _PID_IN_TEXT.search(unquote(text))
    return canonical_pid(match[1], match[2]) if match else None


def pid_url(base_url: str, pid: str, version: int | None = None) -> str:
    """The resolver URL of a PID (or of one of its versions): what `@id` holds."""
    url = f"{base_url}/{pid}"
    return url if version is None else f"{url}/{version}"
