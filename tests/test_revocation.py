"""A token revoked with `fdo tokens revoke` is refused by every gunicorn worker on its next
request: no worker keeps what it read about a token (storage/access_table.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from repository.config import Config
from repository.tokens import create_token
from scripts import servers
from storage.index import Index

pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parents[1]
ATTEMPTS = 400  # fresh connections until each worker has answered; both have long before


@pytest.fixture
def two_workers(config: Config, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn with two worker processes, logging which process answered each request."""
    port = servers.free_port()
    log = tmp_path / "access.log"
    process = servers.start_process(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "2", "--access-logfile", str(log),
         "--access-logformat", "%(p)s %(s)s %(m)s"],
        env={**os.environ, **config.to_environment()}, cwd=ROOT,
        ready_url=f"http://127.0.0.1:{port}/health")
    yield f"http://127.0.0.1:{port}", log
    servers.stop_process(process)


def _statuses_by_worker(log: Path, start: int) -> dict[str, set[int]]:
    """{worker pid: statuses it answered to POSTs} for the log's lines from `start` on.
    Only POSTs: the readiness check's GET /health may be logged after `start` was taken."""
    found: dict[str, set[int]] = {}
    for line in log.read_text().splitlines()[start:]:
        pid, status, method = line.split()
        if method == "POST":
            found.setdefault(pid, set()).add(int(status))
    return found


def _until_both_workers_answered(url: str, token: str, log: Path) -> dict[str, set[int]]:
    start = len(log.read_text().splitlines())
    for _ in range(ATTEMPTS):
        # A new connection each time, so that either worker may take it. An empty object
        # is refused with 422 after the token is accepted, and writes nothing.
        requests.post(f"{url}/api/v1/digital-specimens", json={}, timeout=10,
                      headers={"Authorization": f"Bearer {token}", "Connection": "close"})
        seen = _statuses_by_worker(log, start)
        if len(seen) == 2:
            return seen
    pytest.fail(f"one worker answered all {ATTEMPTS} requests")


def test_a_revoked_token_is_refused_by_both_workers_at_once(config, two_workers):
    url, log = two_workers
    index = Index(config.database_url)
    token = create_token(index, "harvester robot", "administrator")
    index.close()
    accepted = _until_both_workers_answered(url, token, log)
    assert all(statuses == {422} for statuses in accepted.values()), accepted

    revoke = subprocess.run(
        [sys.executable, "-m", "repository.cli", "tokens", "revoke", "harvester robot"],
        env={**os.environ, **config.to_environment()}, cwd=ROOT, capture_output=True,
        text=True, timeout=60)
    assert revoke.returncode == 0, revoke.stderr

    refused = _until_both_workers_answered(url, token, log)
    assert set(refused) == set(accepted)  # the same two workers, which read the token before
    assert all(statuses == {401} for statuses in refused.values()), refused
    answer = requests.post(f"{url}/api/v1/digital-specimens", json={}, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert "was revoked" in answer.headers["WWW-Authenticate"]
