"""What a test needs from the machine. A missing server or browser fails the test with
how to get it; it never skips, so a green run means every test ran (`make test`
installs them as root, and CI runs as root)."""

from __future__ import annotations

from pathlib import Path

import pytest


def require(available: bool, what: str, install: str) -> None:
    if not available:
        pytest.fail(f"{what} is not installed: {install}", pytrace=False)


def postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
