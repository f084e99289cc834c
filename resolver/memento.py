"""Memento (RFC 7089): versions by date.

The PID URL is the Original Resource and its own TimeGate; each version URL is a
Memento; `/<pid>/timemap` lists them all. Version times come from the index (when the
version was written, millisecond precision); HTTP dates have whole seconds, so two
versions made within one second share a Memento-Datetime but keep distinct URLs, and a
TimeGate asked for that second answers the later one (the state at the end of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from resolver.pids import pid_url
from storage.models import VersionRow

LINK_FORMAT = "application/link-format"


class BadDatetime(ValueError):
    """An `Accept-Datetime` that is not an RFC 1123 HTTP-date."""


@dataclass(frozen=True)
class Memento:
    version: int
    created: str  # ISO 8601 from the index

    @property
    def datetime(self) -> datetime:
        return datetime.fromisoformat(self.created.replace("Z", "+00:00"))

    @property
    def http_date(self) -> str:
        return http_date(self.created)


def http_date(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def parse_accept_datetime(value: str) -> datetime:
    """RFC 7089 requires an RFC 1123 date in GMT; anything else is refused (400)."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError) as error:
        # OverflowError: a year or second too large for the C calendar functions.
        raise BadDatetime(
            f"Accept-Datetime '{value}' is not an HTTP-date such as "
            "'Tue, 20 Oct 2026 10:00:00 GMT'") from error
    if moment.tzinfo is None or not value.strip().endswith("GMT"):
        raise BadDatetime(f"Accept-Datetime '{value}' must be in GMT (RFC 7089)")
    return moment


def select(rows: list[VersionRow], moment: datetime) -> int:
    """The version current at `moment`: the last one made at or before it (compared at
    whole seconds, the precision of HTTP dates). Before the first version there is no
    state to show; RFC 7089 lets a TimeGate answer the closest Memento, so it is version 1.
    """
    chosen = rows[0].version
    for row in rows:
        made = Memento(row.version, row.created).datetime.replace(microsecond=0)
        if made <= moment:
            chosen = row.version
    return chosen


def relations(number: int | None, latest: int) -> dict[int, list[str]]:
    """The mementos a response links to, by version number, with their qualifiers: the
    original (number None) links its first and last; a memento also its neighbours and
    itself."""
    wanted = [(1, "first"), (latest, "last")]
    if number is not None:
        wanted += [(number - 1, "prev"), (number + 1, "next"), (number, "")]
    linked: dict[int, list[str]] = {}
    for version, rel in wanted:
        if 1 <= version <= latest:
            qualifiers = linked.setdefault(version, [])
            if rel:
                qualifiers.append(rel)
    return linked


def link_values(base_url: str, pid: str, mementos: dict[int, tuple[list[str], str]]
                ) -> list[str]:
    """Link header values for the original, TimeGate, TimeMap and the given mementos
    ({version: (qualifiers like 'first', created ISO)})."""
    original = pid_url(base_url, pid)
    values = [f'<{original}>; rel="original timegate"',
              f'<{original}/timemap>; rel="timemap"; type="{LINK_FORMAT}"']
    for version, (qualifiers, created) in sorted(mementos.items()):
        rel = " ".join([*qualifiers, "memento"])
        values.append(f'<{pid_url(base_url, pid, version)}>; rel="{rel}"; '
                      f'datetime="{http_date(created)}"')
    return values


def timemap_link_format(base_url: str, pid: str, rows: list[VersionRow]) -> str:
    original = pid_url(base_url, pid)
    lines = [
        f'<{original}>; rel="original"',
        f'<{original}>; rel="timegate"',
        f'<{original}/timemap>; rel="self"; type="{LINK_FORMAT}"; '
        f'from="{http_date(rows[0].created)}"; until="{http_date(rows[-1].created)}"',
    ]
    last = rows[-1].version
    for row in rows:
        qualifiers = [q for q, n in (("first", 1), ("last", last)) if row.version == n]
        rel = " ".join([*qualifiers, "memento"])
        lines.append(f'<{pid_url(base_url, pid, row.version)}>; rel="{rel}"; '
                     f'datetime="{http_date(row.created)}"')
    return ",\n".join(lines) + "\n"


def timemap_json(base_url: str, pid: str, rows: list[VersionRow]) -> dict[str, Any]:
    """The JSON TimeMap in the shape Memento aggregators use (original_uri, mementos)."""
    original = pid_url(base_url, pid)
    listed = [{"datetime": http_date(row.created), "created": row.created,
               "version": row.version, "uri": pid_url(base_url, pid, row.version)}
              for row in rows]
    return {
        "original_uri": original,
        "timegate_uri": original,
        "timemap_uri": {"link_format": f"{original}/timemap",
                        "json_format": f"{original}/timemap?format=json"},
        "mementos": {"first": listed[0], "last": listed[-1], "list": listed},
    }
