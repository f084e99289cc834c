"""A store that stops answering (frozen, not stopped) costs a 503, not the service.

SeaweedFS is frozen with SIGSTOP: its sockets still accept connections, so every S3
request waits, as against a hung server. Before, a create answered 503 only after 180 s,
/health never answered and every gunicorn thread waited. Each answer below is awaited
for at most ANSWER_WITHIN seconds: that bound is the behaviour (an answer instead of a
hang), not a benchmark. It is generous: the server gives up on S3 after its 2 s read
timeout (set below) or 1 s wait for an in-flight slot, /health after 1 s.

The frozen SeaweedFS is the test's own: the session's shared one must keep serving.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
import servers

from repository import build_service
from repository.access import trusted
from repository.config import Config
from repository.provenance import Agent
from repository.tokens import create_token
from tests.records import specimen

# Not marked `s3`: it freezes a SeaweedFS of its own, so `make test-ceph` would only run
# it a second time.
ROOT = Path(__file__).resolve().parents[1]
ANSWER_WITHIN = 10
CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))


@dataclass
class Served:
    base: str
    s3: servers.S3Server
    auth: dict[str, str]
    pid: str  # of a specimen stored before the freeze


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """gunicorn (1 worker, 4 threads, as `live`) on a SeaweedFS of its own."""
    s3 = servers.start_seaweedfs(tmp_path / "s3")
    process = None
    try:
        servers.create_bucket(s3, "fdo")
        port = servers.free_port()
        config = replace(Config(), base_url=f"http://127.0.0.1:{port}",
                         database_url=f"sqlite:///{tmp_path / 'index.sqlite3'}",
                         s3_endpoint=s3.endpoint, s3_bucket="fdo",
                         s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                         s3_connect_timeout=1.0, s3_read_timeout=2.0)
        fdo = build_service(config)
        made = fdo.create("digital-specimens", specimen(), CURATOR)
        token = create_token(fdo.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")
        fdo.index.close()
        process = servers.start_process(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4", "--log-level", "warning"],
            env={**os.environ, **config.to_environment()}, cwd=ROOT,
            ready_url=f"http://127.0.0.1:{port}/health")
        yield Served(f"http://127.0.0.1:{port}", s3, {"Authorization": f"Bearer {token}"},
                     made.pid)
    finally:
        if process:
            servers.stop_process(process)
        s3.stop()


@contextmanager
def frozen(s3: servers.S3Server) -> Iterator[None]:
    os.kill(s3.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(s3.pid, signal.SIGCONT)  # always: a stopped server cannot be stopped


def _create(served: Served, number: int) -> requests.Response:
    body = {**specimen(), "ods:physicalSpecimenID": f"FROZEN.{number}"}
    return requests.post(f"{served.base}/api/v1/digital-specimens", json=body,
                         headers=served.auth, timeout=ANSWER_WITHIN)


def test_a_frozen_store_answers_creates_and_reads_503_with_retry_after(served):
    with frozen(served.s3):
        with ThreadPoolExecutor(6) as pool:  # more than the worker has threads
            creates = list(pool.map(lambda n: _create(served, n), range(6)))
        read = requests.get(f"{served.base}/{served.pid}", timeout=ANSWER_WITHIN,
                            headers={"Accept": "application/ld+json"})
    for response in [*creates, read]:
        assert response.status_code == 503
        assert response.json()["code"] == "storage_unavailable"
        assert response.headers["Retry-After"].isdigit()
        assert "127.0.0.1" not in response.text
    assert _create(served, 99).status_code == 201  # and it comes back by itself


def test_health_and_index_only_pages_answer_while_creates_wait_on_a_frozen_store(served):
    index_only = ["/activity", "/activity/page/0", "/activity/1",
                  "/oai?verb=Identify",
                  "/oai?verb=ListSets", "/oai?verb=ListMetadataFormats",
                  "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc"]
    with frozen(served.s3), ThreadPoolExecutor(10) as pool:
        creates = [pool.submit(_create, served, n) for n in range(6)]
        time.sleep(0.3)  # the creates hold S3 slots and threads first
        health = requests.get(f"{served.base}/health", timeout=ANSWER_WITHIN)
        pages = {path: requests.get(served.base + path, timeout=ANSWER_WITHIN)
                 for path in index_only}
        assert all(create.result().status_code == 503 for create in creates)
    assert health.status_code == 503 and health.headers["Retry-After"].isdigit()
    assert health.json() == {"status": "unavailable", "storage": "unreachable: no answer in time",
                             "index": "ok"}
    assert {path: page.status_code for path, page in pages.items()} == dict.fromkeys(
        index_only, 200)
    assert requests.get(f"{served.base}/health", timeout=ANSWER_WITHIN).status_code == 200


def test_health_and_index_only_pages_answer_when_the_store_is_stopped(served):
    served.s3.stop()
    health = requests.get(f"{served.base}/health", timeout=ANSWER_WITHIN)
    assert health.status_code == 503
    assert health.json()["storage"] == "unreachable: connection refused"
    assert requests.get(f"{served.base}/activity", timeout=ANSWER_WITHIN).status_code == 200
    assert _create(served, 1).json()["code"] == "storage_unavailable"
