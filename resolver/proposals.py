"""What an annotation proposes to change in its target, and applying it.

An `ods:adding`, `ods:deleting` or `oa:editing` annotation names a place in its target
with an `ods:TermSelector` (`ods:term`) or `ods:ClassSelector` (`ods:class`): a JSONPath
in block notation, `$['ods:hasEvents'][0]['ods:hasLocation']['dwc:country']`. Only that
notation is read (names in single quotes, array positions as numbers): it is all openDS
writes, and it maps one to one onto a JSON Pointer, so the change a curator approves is
exactly one JSON Patch operation at that place. A general JSONPath library would accept
filters and wildcards, which name no single place to change.

The body's `oa:value` is a list of strings (openDS): a term's value is the first, taken
as the string it is, or as the JSON it spells when the target's schema wants a number,
a boolean or an object there (`"52.1"` for `dwc:decimalLatitude`); a class's value is
always JSON. No flask and no storage here: the service reads the target and validates.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from resolver.pids import find_pid
from storage.versions import canonical_json, sha256_hex

ADDING, DELETING, EDITING = "ods:adding", "ods:deleting", "oa:editing"
CHANGES = (ADDING, DELETING, EDITING)  # the motivations a curator decides on
TERM, CLASS, FRAGMENT = "ods:TermSelector", "ods:ClassSelector", "oa:FragmentSelector"
PENDING, APPROVED, REJECTED = "Pending", "Approved", "Rejected"

_STEP = re.compile(r"\[(?:'((?:[^'\\]|\\.)*)'|(0|[1-9][0-9]{0,5}))\]")
_ESCAPE = re.compile(r"\\(.)")
Token = str | int
MAX_STEPS = 32  # as deep as a stored document may nest (repository/validation.py MAX_DEPTH)


class CannotApply(ValueError):
    """The change does not fit the target as it is (nothing at the place to edit, a
    value already where one is added, a parent that is no object or array)."""


class BadSelector(ValueError):
    """A selector that names no single place."""


@dataclass(frozen=True)
class Proposal:
    """One change at one place: `values` holds what may be put there, most literal
    first (the string as sent, then the JSON it spells); none for a deletion."""

    motivation: str
    path: tuple[Token, ...]
    values: tuple[Any, ...] = ()

    @property
    def pointer(self) -> str:
        return pointer_of(self.path)


# Terms no annotation changes: the repository's own, and those that say which object this
# is and whose (a PUT by the object's curators changes those, under its own checks).
PROTECTED = frozenset({
    "@id", "@type", "dcterms:identifier", "ods:fdoType", "ods:version", "ods:status",
    "dcterms:created", "dcterms:modified", "ods:hasTombstoneMetadata",
    "ods:organisationID", "ods:sourceSystemID", "ods:physicalSpecimenID",
    "ods:physicalSpecimenIDType", "ods:normalisedPhysicalSpecimenID"})


def parse_path(text: str) -> tuple[Token, ...]:
    """`$['a'][0]['b']` as ('a', 0, 'b'); BadSelector for anything else."""
    if not text.startswith("$"):
        raise BadSelector(f"'{text[:80]}' is not a JSONPath: it starts with $")
    tokens: list[Token] = []
    position = 1
    while position < len(text):
        step = _STEP.match(text, position)
        if step is None:
            raise BadSelector(f"'{text[:80]}' is not a JSONPath in block notation "
                              f"($['term'][0]['term']) at character {position}")
        name, index = step.groups()
        tokens.append(int(index) if index is not None else _ESCAPE.sub(r"\1", name))
        position = step.end()
        if len(tokens) > MAX_STEPS:
            raise BadSelector(f"'{text[:80]}...' goes deeper than {MAX_STEPS} steps, deeper "
                              "than any object stored here")
    if not tokens:
        raise BadSelector("the JSONPath '$' names the whole object, not a place in it")
    return tuple(tokens)


def path_text(path: tuple[Token, ...]) -> str:
    """The block-notation JSONPath of `path` (what `parse_path` reads)."""
    return "$" + "".join(f"[{token}]" if isinstance(token, int)
                         else "['" + token.replace("\\", "\\\\").replace("'", "\\'") + "']"
                         for token in path)


def pointer_of(path: tuple[Token, ...]) -> str:
    """RFC 6901 JSON Pointer of `path`."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


def proposal_of(content: dict[str, Any]) -> Proposal | None:
    """The change an annotation proposes; None when its motivation proposes none.
    BadSelector or CannotApply (with the reason) when it proposes one it cannot say."""
    motivation = content.get("oa:motivation")
    if motivation not in CHANGES:
        return None
    target = content.get("oa:hasTarget")
    selector = target.get("oa:hasSelector") if isinstance(target, dict) else None
    kind = selector.get("@type") if isinstance(selector, dict) else None
    if kind not in (TERM, CLASS) or not isinstance(selector, dict):
        raise BadSelector(f"{motivation} names the place it changes with an {TERM} or an "
                          f"{CLASS}")
    path = parse_path(str(selector.get("ods:term" if kind == TERM else "ods:class")))
    if path[0] in PROTECTED:
        raise BadSelector(f"{path[0]} is not changed by annotation: it is the repository's, "
                          "or says which object this is and whose")
    if motivation == DELETING:
        return Proposal(motivation, path)
    body = content.get("oa:hasBody")
    values = body.get("oa:value") if isinstance(body, dict) else None
    if not isinstance(values, list) or len(values) != 1:
        raise CannotApply(f"{motivation} carries exactly one value in oa:value")
    return Proposal(motivation, path, tuple(_readings(str(values[0]), kind == CLASS)))


def _readings(text: str, whole_class: bool) -> Iterator[Any]:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = text
    if whole_class:
        if not isinstance(parsed, dict | list):
            raise CannotApply("the value of an ods:ClassSelector is a JSON object (or array), "
                              "written as a string")
        yield parsed
        return
    yield text
    if not isinstance(parsed, str):
        yield parsed


MISSING: Any = object()  # what `value_at` finds where there is nothing


def value_at(document: Any, path: tuple[Token, ...]) -> Any:
    """What is at `path` in `document`, or MISSING."""
    node = document
    for token in path:
        in_list = isinstance(node, list) and isinstance(token, int) and token < len(node)
        if not in_list and not (isinstance(node, dict) and isinstance(token, str)
                                and token in node):
            return MISSING
        node = node[token]
    return node


def applied(proposal: Proposal, document: dict[str, Any], value: Any = MISSING) -> dict[str, Any]:
    """`document` with the change made (itself unchanged): `value` (one of the
    proposal's `values`) put at the place, or what is there removed."""
    changed = copy.deepcopy(document)
    *parents, last = proposal.path
    present = value_at(changed, proposal.path) is not MISSING
    if proposal.motivation == ADDING and present:
        raise CannotApply(f"{path_text(proposal.path)} already has a value: propose "
                          f"{EDITING} to change it")
    if proposal.motivation != ADDING and not present:
        raise CannotApply(f"{path_text(proposal.path)} has no value to "
                          f"{'delete' if proposal.motivation == DELETING else 'edit'}")
    parent = _parent(changed, tuple(parents), last, create=proposal.motivation == ADDING)
    if proposal.motivation == DELETING:
        del parent[last]
    elif isinstance(parent, list) and proposal.motivation == ADDING:
        if last != len(parent):
            raise CannotApply(f"{path_text(proposal.path)}: an array grows at its end, "
                              f"position {len(parent)}")
        parent.append(copy.deepcopy(value))
    else:
        parent[last] = copy.deepcopy(value)
    return changed


def held(proposal: Proposal, document: dict[str, Any], value: Any = MISSING) -> dict[str, Any]:
    """`document` holding at the place what an approved proposal put there, whatever is
    there now: `value` added or replaced, or (a deletion) nothing. CannotApply when the
    place cannot be reached."""
    present = value_at(document, proposal.path) is not MISSING
    if proposal.motivation == DELETING:
        return applied(proposal, document) if present else copy.deepcopy(document)
    motivation = EDITING if present else ADDING
    return applied(Proposal(motivation, proposal.path, proposal.values), document, value)


def _parent(document: dict[str, Any], path: tuple[Token, ...], last: Token,
            create: bool) -> Any:
    """The object or array holding the place; missing ones made when adding (an object
    for a name, an array for position 0)."""
    node: Any = document
    for position, token in enumerate(path):
        following = path[position + 1] if position + 1 < len(path) else last
        child = value_at(node, (token,))
        if child is MISSING:
            fits = (isinstance(node, list) and token == len(node)) or (
                isinstance(node, dict) and isinstance(token, str))
            if not create or not fits:
                raise CannotApply(f"{path_text(path)} is not in the target")
            child = [] if isinstance(following, int) else {}
            if isinstance(node, list):
                node.append(child)
            else:
                node[token] = child
        node = child
    if not isinstance(node, list if isinstance(last, int) else dict):
        raise CannotApply(f"{path_text((*path, last))}: its parent is no "
                          f"{'array' if isinstance(last, int) else 'object'}")
    return node


def identity_claim(content: dict[str, Any], target_pid: str, target_version: int | None) -> str:
    """What makes two annotations the same (target, selector, motivation, creator and
    value): sent twice, the second finds the first. Held by the index like a specimen's
    physical ID, so that only one live annotation has it."""
    target = content.get("oa:hasTarget")
    creator = content.get("dcterms:creator")
    body = content.get("oa:hasBody")
    key = [target_pid, target_version,
           target.get("oa:hasSelector") if isinstance(target, dict) else None,
           content.get("oa:motivation"),
           creator.get("@id") if isinstance(creator, dict) else None,
           body.get("oa:value") if isinstance(body, dict) else None]
    return "annotation:" + sha256_hex(canonical_json(key))


def made_on_version(content: dict[str, Any]) -> tuple[str, int] | None:
    """(PID, version) of the target version an annotation was made on: its target's
    `oa:hasState` (set by repository/annotations.py); None for one stored without it."""
    target = content.get("oa:hasTarget")
    state = target.get("oa:hasState") if isinstance(target, dict) else None
    cached = state.get("oa:cachedSource") if isinstance(state, dict) else None
    head, _, number = str(cached or "").rstrip("/").rpartition("/")
    pid = find_pid(head)
    if pid is None or not number.isdigit() or len(number) > 18:
        return None
    return pid, int(number)


def annotation_claim(content: dict[str, Any]) -> str | None:
    """The identity a live annotation holds in the index (as a specimen holds its
    physical ID), from its stored content alone."""
    target = content.get("oa:hasTarget")
    target_id = target.get("@id") if isinstance(target, dict) else None
    pid = find_pid(target_id) if isinstance(target_id, str) else None
    if not isinstance(target_id, str) or pid is None:
        return None
    head, _, tail = unquote(target_id).rstrip("/").rpartition("/")
    version = int(tail) if tail.isdigit() and len(tail) < 19 and find_pid(head) == pid else None
    return identity_claim(content, pid, version)
