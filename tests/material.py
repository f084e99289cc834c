"""The real records and datasets the tests read.

A few live in tests/data/ (part of the repository; `make test` reads only those). All of
the upstream material (openDS schemas and examples, the sample datasets) lives in a
folder outside the repository that only `make test-upstream` names, in FDO_SHARED; the
tests over it are marked `upstream`, and fail when it is missing. Without FDO_SHARED
nothing outside the repository is looked at, not even while collecting (`make test`
clears it). tests/data/ mirrors the upstream layout, so one relative path names both.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
_NAMED = os.environ.get("FDO_SHARED", "")
SHARED: Path | None = (ROOT / _NAMED).resolve() if _NAMED else None
upstream = pytest.mark.upstream


def require_shared() -> None:
    """Fail (never skip) a test of the upstream material when the material is missing."""
    if SHARED is None or not SHARED.is_dir():
        where = f"at {SHARED}" if SHARED else "named (FDO_SHARED is not set)"
        pytest.fail(f"the upstream material is not {where}: run `make test-upstream` with "
                    "the shared folder beside the checkout, or set FDO_SHARED to it",
                    pytrace=False)


def shared(*parts: str) -> Path:
    """A path in the upstream material, for an `upstream` test; fails when it is not named."""
    require_shared()
    assert SHARED is not None
    return SHARED.joinpath(*parts)


def data_files(folder: str, pattern: str = "*.json") -> list[Path]:
    return sorted((DATA / folder).glob(pattern))


def files(folder: str, pattern: str = "*.json") -> list[Any]:
    """pytest params: each file of tests/data/`folder` matching `pattern`, then, marked
    `upstream`, each of the shared folder's that is not byte for byte one of those."""
    ours = data_files(folder, pattern)
    mine = [pytest.param(path, id=path.relative_to(DATA / folder).as_posix()) for path in ours]
    return mine + upstream_files(folder, pattern, exclude=ours)


def upstream_files(folder: str, pattern: str = "*.json", exclude: Iterable[Path] = ()
                   ) -> list[Any]:
    """pytest params, marked `upstream`: the shared folder's files, without those whose
    bytes are in `exclude` (`make test` reads them already). Without the shared folder, one
    placeholder that fails, so an empty selection cannot pass for a checked one."""
    base = SHARED / folder if SHARED else Path(folder)
    if SHARED is None or not base.is_dir():
        return [pytest.param(base, id=f"upstream:{folder}:missing", marks=upstream)]
    seen = {_digest(path) for path in exclude}
    return [pytest.param(path, id=f"upstream:{path.relative_to(base).as_posix()}",
                         marks=upstream)
            for path in sorted(base.glob(pattern)) if _digest(path) not in seen]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def json_records(folder: str, pattern: str = "*.json") -> list[tuple[Any, dict[str, Any]]]:
    """(param, document) for each of files(): the document read now, for tests that are
    parametrised over what is in it ({} for the placeholder of missing material)."""
    found = []
    for param in files(folder, pattern):
        path: Path = param.values[0]
        found.append((param, json.loads(path.read_text(encoding="utf-8"))
                      if path.is_file() else {}))
    return found


def carrying(param: Any, *values: Any) -> Any:
    """`param` (one of files()'s) with `values` instead of its path; its id and marks kept."""
    return pytest.param(*values, id=param.id, marks=param.marks)
