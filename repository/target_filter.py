"""A machine annotation service's target filter (`ods:hasTargetDigitalObjectFilter`): which
objects it runs on. Each key is a JSONPath into the object, each value the values allowed
there, `*` for any value as long as there is one; every key must match.

openDS writes the paths in dot notation (`$.ods:topicDiscipline`, with `[*]` for every
item of an array) and in block notation (`$['ods:hasEvents'][0]`). This reads both, and
nothing more: no filters, slices or recursive descent, which a filter does not need and
which would make a registration's meaning unclear. Parsed at registration, so a path
that cannot be read is a 422 then, not a surprise at run time.
"""

from __future__ import annotations

import re
from typing import Any

from repository import errors

FILTER = "ods:hasTargetDigitalObjectFilter"
ANY = "*"
EVERY = object()  # `[*]`
# One step: .name (letters, digits, ':', '_', '-', '@'), ['name'], ["name"], [n] or [*].
_STEP = re.compile(r"""
    \.(?P<dot>[\w:@-]+)
    | \[\s*(?: '(?P<single>(?:[^'\\]|\\.)*)'
             | "(?P<double>(?:[^"\\]|\\.)*)"
             | (?P<index>\d+)
             | (?P<every>\*) )\s*\]""", re.VERBOSE)


def parsed_path(path: str) -> list[Any]:
    """The steps of `path`: names, indices and EVERY; ValueError if it is not one."""
    if not path.startswith("$"):
        raise ValueError("a path starts with $")
    steps: list[Any] = []
    position = 1
    while position < len(path):
        found = _STEP.match(path, position)
        if found is None:
            raise ValueError(f"cannot read the path from '{path[position:position + 20]}'")
        if found["every"]:
            steps.append(EVERY)
        elif found["index"] is not None:
            steps.append(int(found["index"]))
        else:
            name = found["dot"] or found["single"] or found["double"] or ""
            steps.append(re.sub(r"\\(.)", r"\1", name))
        position = found.end()
    return steps


def checked_filter(client: dict[str, Any]) -> None:
    """422 naming the key of a filter whose path cannot be read."""
    for path in client.get(FILTER) or {}:
        try:
            parsed_path(path)
        except ValueError as error:
            pointer = f"/{FILTER}/{path.replace('~', '~0').replace('/', '~1')}"
            raise errors.SchemaInvalid(f"the target filter's path '{path}' is not read: "
                                       f"{error}", [{"path": pointer, "message": str(error)}]) \
                from error


def values_at(document: Any, steps: list[Any]) -> list[Any]:
    found = [document]
    for step in steps:
        following: list[Any] = []
        for value in found:
            if step is EVERY:
                following.extend(value if isinstance(value, list) else
                                 value.values() if isinstance(value, dict) else [])
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    following.append(value[step])
            elif isinstance(value, dict) and step in value:
                following.append(value[step])
        found = following
    return found


def first_mismatch(target_filter: dict[str, list[Any]], document: dict[str, Any]) -> str | None:
    """The first path of the filter the document does not match, or None if it matches."""
    for path, allowed in target_filter.items():
        present = [value for value in values_at(document, parsed_path(path))
                   if value not in (None, "", [], {})]
        if not present:
            return path
        if ANY in allowed:
            continue
        if not any(value in allowed or str(value) in map(str, allowed) for value in present):
            return path
    return None
