"""`make test` reads only the repository: collecting its selection, with FDO_SHARED
cleared (as the Makefile clears it) or unset (pytest run by hand), opens and lists nothing
beside the checkout, where a developer's shared folder with the upstream material may
well be."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.material import ROOT

# Runs pytest's collection of `make test`'s selection in a child process and prints every
# path it opened or listed, seen by an audit hook (PEP 578) installed before pytest starts.
COLLECT = """
import json, os, sys
seen = set()
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes)):
        seen.add(os.path.abspath(os.fsdecode(args[0])))
sys.addaudithook(hook)
import pytest
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                    "-m", "not ceph and not upstream"])
print("SEEN " + json.dumps(sorted(seen)))
sys.exit(int(code))
"""


@pytest.mark.parametrize("folder", ["", None], ids=["cleared, as make test does", "unset"])
def test_collecting_make_tests_selection_looks_at_nothing_beside_the_checkout(
        folder: str | None) -> None:
    env = {name: value for name, value in os.environ.items() if name != "FDO_SHARED"}
    if folder is not None:
        env["FDO_SHARED"] = folder
    done = subprocess.run([sys.executable, "-c", COLLECT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(done.stdout.rsplit("SEEN ", 1)[1])
    assert any(path.startswith(str(ROOT / "tests" / "data")) for path in seen)  # the hook saw
    beside = [path for path in seen
              if path.startswith(str(ROOT.parent) + os.sep)
              and not (path + os.sep).startswith(str(ROOT) + os.sep)]
    assert beside == []
