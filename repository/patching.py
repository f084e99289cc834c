"""JSON Patch (RFC 6902) with bounds checked before each operation does its work.

A `copy` doubles what it copies, so 20 operations (2 KB of request) made a document of
a million copies: 7 s of work and a 118 MB error body. Each operation is checked before
it is applied: how much the document can grow (what `add`, `replace` and `copy` put in)
and how deep it gets (the target's depth plus the depth of the value). Size is counted
as compact JSON and only ever added to (a `remove` is not subtracted), so the bound holds
whatever order the operations come in, and checking costs no more than the bound itself.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import jsonpointer

from repository import errors
from repository.validation import MAX_DEPTH

MAX_OPERATIONS = 1000
# The default largest request body (FDO_MAX_BODY): no patch makes a document larger than
# a client could have sent whole.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
_GROWS = {"add": "value", "replace": "value", "copy": "from", "move": "from"}


def apply_bounded_patch(document: dict[str, Any], operations: Any) -> Any:
    """`document` after `operations` (not changed itself); errors.TooLarge when the patch
    or the document it makes is too large, errors.Unprocessable when it cannot apply."""
    if not isinstance(operations, list):
        raise errors.Unprocessable("a JSON Patch is an array of operations",
                                   [{"path": "", "message": "must be an array"}])
    if len(operations) > MAX_OPERATIONS:
        raise errors.TooLarge(f"a patch has at most {MAX_OPERATIONS} operations "
                              f"(this one has {len(operations)})")
    patched: Any = copy.deepcopy(document)
    size = _size(patched)
    for number, operation in enumerate(operations):
        size += _checked_growth(patched, operation, number)
        if size > MAX_DOCUMENT_BYTES:
            raise errors.TooLarge(
                f"operation {number} would make the document larger than "
                f"{MAX_DOCUMENT_BYTES} bytes", [{"path": f"/{number}",
                                                 "message": "makes the document too large"}])
        try:
            patched = jsonpatch.apply_patch(patched, [operation], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException,
                TypeError, ValueError, KeyError, AttributeError) as error:
            raise errors.Unprocessable(
                f"the JSON Patch cannot be applied: operation {number}: {error}",
                [{"path": f"/{number}", "message": str(error)}]) from error
    return patched


def _checked_growth(document: Any, operation: Any, number: int) -> int:
    """What the operation adds to the document's size; errors.Unprocessable when the
    value would nest deeper than a stored document may."""
    field = _GROWS.get(str(operation.get("op"))) if isinstance(operation, dict) else None
    if field is None:
        return 0  # remove and test add nothing; a malformed operation fails to apply
    value = operation.get("value") if field == "value" else _resolved(document, operation)
    target = operation.get("path")
    levels = target.count("/") if isinstance(target, str) else 0
    if levels + _depth(value) > MAX_DEPTH:
        raise errors.Unprocessable(
            f"operation {number} would nest the document deeper than {MAX_DEPTH} levels",
            [{"path": f"/{number}", "message": f"nests deeper than {MAX_DEPTH} levels"}])
    return 0 if operation.get("op") == "move" else _size(value)


def _resolved(document: Any, operation: dict[str, Any]) -> Any:
    source = operation.get("from")
    try:
        return jsonpointer.resolve_pointer(document, source) if isinstance(source, str) \
            else None
    except jsonpointer.JsonPointerException:
        return None  # applying the operation says what is wrong with it


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _depth(value: Any) -> int:
    """Levels of arrays and objects in `value` (0 for a scalar), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        node, level = pending.pop()
        children = node.values() if isinstance(node, dict) else (
            node if isinstance(node, list) else None)
        if children is not None:
            deepest = max(deepest, level + 1)
            pending.extend((child, level + 1) for child in children)
    return deepest
