"""What changed between two versions of an object, field by field, and who changed it;
and what approving a pending annotation would change in its target.

The fields are those the provenance patches of the versions in between touched (RFC 6902
paths); each is shown with its value in the earlier and the later version, so a field
changed and changed back does not appear. Who: the agent of each version that touched
it, and the annotation a version was approved from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jsonpointer

from resolver.pids import pid_url
from resolver.proposals import MISSING, CannotApply, Proposal, applied, proposal_of, value_at
from storage.versions import VersionRecord

VOLATILE = ("/ods:version", "/dcterms:modified")  # change with every version
MAX_SPAN = 200  # versions compared at once: each in between is read for its patch


class BadComparison(ValueError):
    """`from` and `to` that name no two versions of the object."""


def checked_span(arguments: dict[str, str], latest: int) -> tuple[int, int]:
    """(from, to) as asked (`to` the latest, `from` the one before, by default); 400
    naming what is wrong otherwise."""
    numbers: dict[str, int] = {}
    for name, default in (("to", latest), ("from", None)):
        text = arguments.get(name)
        if text is None:
            numbers[name] = default if default is not None else max(numbers["to"] - 1, 1)
        elif text.isascii() and text.isdigit() and len(text) <= 18 and 1 <= int(text) <= latest:
            numbers[name] = int(text)
        else:
            raise BadComparison(f"{name} must be a version of this object, 1 to {latest}")
    first, last = numbers["from"], numbers["to"]
    if first > last:
        raise BadComparison("from must be an earlier version than to")
    if last - first > MAX_SPAN:
        raise BadComparison(f"compare versions at most {MAX_SPAN} apart")
    return first, last


@dataclass(frozen=True)
class Step:
    """One version that touched a field."""

    version: int
    url: str
    agent: str
    annotation: str | None  # the URL of the annotation version it was approved from


@dataclass(frozen=True)
class FieldChange:
    pointer: str  # RFC 6901, into the object's content
    old: Any  # MISSING where there was nothing
    new: Any  # MISSING where there is nothing now
    steps: list[Step] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The term that changed, with the place it is in: `ods:hasEvents › 1 › dwc:country`."""
        return " › ".join(_unescape(token) for token in self.pointer.split("/")[1:])

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"path": self.pointer, "label": self.label}
        if self.old is not MISSING:
            shown["old"] = self.old
        if self.new is not MISSING:
            shown["new"] = self.new
        shown["changedBy"] = [
            {"version": step.version, "url": step.url, "agent": step.agent,
             **({"annotation": step.annotation} if step.annotation else {})}
            for step in self.steps]
        return shown


def compared(before: VersionRecord, after: VersionRecord, between: Iterable[VersionRecord],
             base_url: str) -> list[FieldChange]:
    """The fields that differ from `before` to `after`, with the versions in between
    (`before` excluded, `after` included) that touched each."""
    changes: dict[str, FieldChange] = {}
    for record in between:
        for pointer in _touched(record):
            change = changes.get(pointer)
            if change is None:
                change = changes[pointer] = FieldChange(
                    pointer, _at(before.content, pointer), _at(after.content, pointer))
            change.steps.append(_step(record, base_url))
    return [change for change in changes.values() if change.old != change.new]


def proposed_change(annotation: dict[str, Any], target: dict[str, Any]) -> FieldChange | None:
    """What approving a pending annotation would change in `target` (the target's content
    as it is now); None if it proposes nothing, or nothing that still applies."""
    try:
        proposal = proposal_of(annotation)
    except ValueError:
        return None
    if proposal is None:
        return None
    new = _applied_value(proposal, target)
    if new is None:
        return None
    return FieldChange(proposal.pointer, value_at(target, proposal.path), new[0])


def _applied_value(proposal: Proposal, content: dict[str, Any]) -> tuple[Any] | None:
    try:
        changed = applied(proposal, content, proposal.values[0] if proposal.values else MISSING)
    except CannotApply:
        return None
    return (value_at(changed, proposal.path),)


def _touched(record: VersionRecord) -> list[str]:
    operations = record.provenance["prov:Activity"].get("ods:changeValue") or []
    pointers = []
    for operation in operations:
        for key in ("path", "from"):
            pointer = operation.get(key) if isinstance(operation, dict) else None
            if isinstance(pointer, str) and pointer not in VOLATILE and pointer not in pointers:
                pointers.append(pointer)
    return pointers


def _step(record: VersionRecord, base_url: str) -> Step:
    agents = record.provenance.get("ods:hasAgents") or [{}]
    sources = record.provenance["prov:Entity"].get("prov:wasDerivedFrom") or []
    return Step(record.version, pid_url(base_url, record.pid, record.version),
                str(agents[0].get("schema:name") or agents[0].get("@id") or ""),
                str(sources[0]) if sources else None)


def _at(content: dict[str, Any], pointer: str) -> Any:
    try:
        return jsonpointer.resolve_pointer(content, pointer)
    except jsonpointer.JsonPointerException:
        return MISSING


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")
