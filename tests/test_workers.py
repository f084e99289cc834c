"""`fdo worker` processes on a real Redis queue, over real S3 and both index engines: a
worker SIGKILLed mid-ingest or mid-batch leaves its job to another, which completes it
once; two workers share one queue and run no job twice."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
import servers
from flask import Flask
from flask.testing import FlaskClient

from repository.config import Config
from repository.ingest.report import REJECTED, UNCHANGED
from repository.integrity import verify
from repository.job_queue import QUEUE
from repository.services import FDOService
from tests.conftest import ROOT
from tests.test_curation import people as people  # noqa: F401 - the fixture, used by name
from tests.test_curation_batches import SPECIMENS, _batch, _listed, _specimens
from tests.test_ingest import archive
from tests.test_ingest_jobs import finished, submit

pytestmark = pytest.mark.s3
RECORDS = 1_500  # enough for a run of several seconds, so that it is killed half-way
BATCH_TARGETS = 150


@pytest.fixture
def config(config: Config, tmp_path: Path) -> Config:
    return replace(config, ingest_spool=str(tmp_path / "spool"))


@pytest.fixture
def worker_processes(config: Config, tmp_path: Path) -> Iterator[Callable[[], servers.Process]]:
    """Start `fdo worker` processes (each logs to tmp_path); stopped by PID afterwards."""
    started: list[servers.Process] = []
    env = {**os.environ, **config.to_environment()}

    def start() -> servers.Process:
        log = tmp_path / f"worker-{len(started)}.log"
        started.append(servers.start_process(
            [sys.executable, "-m", "repository.cli", "worker"], env=env, cwd=ROOT, log=log))
        return started[-1]

    yield start
    for process in started:
        servers.stop_process(process)


def running(client: FlaskClient, auth: dict[str, str], url: str) -> dict[str, Any]:
    """The job once it has made progress, before it has ended (a bounded wait)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(url, headers=auth).json
        if job["status"] == "running" and job["progress"]["done"] > 0:
            return job
        assert job["status"] in ("queued", "running"), job  # not ended before the kill
        time.sleep(0.02)
    raise AssertionError(f"{url} made no progress: {job}")


def killed(process: servers.Process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def test_a_worker_killed_mid_ingest_leaves_the_job_to_another_that_completes_it_once(
        app: Flask, client: FlaskClient, auth: dict[str, str], tmp_path: Path,
        worker_processes: Callable[[], servers.Process]) -> None:
    rows = [(f"r{n}", f"RMNH.INS.{n}", "PreservedSpecimen", "Bombus terrestris", "Leiden",
             "52.1", "2020-01-01") for n in range(RECORDS)]
    first = worker_processes()
    response = submit(client, auth, archive(tmp_path / "occ.zip", rows))
    assert response.status_code == 202, response.json
    url = response.headers["Location"]
    running(client, auth, url)
    killed(first)
    cut = client.get(url, headers=auth).json
    assert cut["status"] == "running" and cut["progress"]["done"] < RECORDS, cut

    worker_processes()
    job = finished(client, auth, url)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    counts = job["summary"]["counts"]
    assert sum(counts.values()) == RECORDS and not counts.get(REJECTED), counts
    assert counts.get(UNCHANGED, 0) > 0  # the second run found what the first had written
    fdo: FDOService = app.extensions["fdo"]
    specimens = [row for row in fdo.index.all_objects() if row.kind == "digital-specimens"]
    assert len(specimens) == RECORDS  # no record made twice
    assert all(len(fdo.index.versions(row.pid)) == 1 for row in specimens)  # nor changed
    assert verify(fdo.reader).problems == []
    assert not list(fdo.store.keys(f"ingest-jobs/{job['id']}/uploads/"))


def test_a_worker_killed_mid_batch_leaves_the_job_to_another_that_completes_it_once(
        client: FlaskClient, people: dict[str, dict[str, str]],
        worker_processes: Callable[[], servers.Process]) -> None:
    made = _specimens(client, people["owner"], count=BATCH_TARGETS)
    first = worker_processes()
    started = client.post("/api/v1/annotations/batches", json=_batch(),
                          headers=people["annotator"])
    assert started.status_code == 202, started.get_json()
    url = started.get_json()["job"].removeprefix("http://fdo.test")
    running(client, people["annotator"], url)
    killed(first)

    worker_processes()
    job = finished(client, people["annotator"], url)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    summary = job["summary"]
    assert summary["targets"] == BATCH_TARGETS and summary["found"] > 0  # the first's
    assert summary["created"] + summary["found"] == BATCH_TARGETS
    annotations = _listed(client, summary["batchID"])
    assert sorted(a["oa:hasTarget"]["@id"] for a in annotations) == sorted(made)


def test_two_workers_share_one_queue_and_run_no_job_twice(
        app: Flask, client: FlaskClient, people: dict[str, dict[str, str]], config: Config,
        worker_processes: Callable[[], servers.Process]) -> None:
    _specimens(client, people["owner"])
    for _ in range(2):
        worker_processes()
    queue = redis.Redis.from_url(config.queue_url)
    deadline = time.monotonic() + 60
    while queue.zcard(f"{config.queue_namespace}:__heartbeats__") < 2:  # both are asking
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    urls = []
    for number in range(6):
        batch = _batch()
        batch["annotation"]["oa:hasBody"]["oa:value"] = [f"Leiden, bed {number}"]
        started = client.post("/api/v1/annotations/batches", json=batch,
                              headers=people["annotator"])
        assert started.status_code == 202, started.get_json()
        urls.append(started.get_json()["job"].removeprefix("http://fdo.test"))
    jobs = [finished(client, people["annotator"], url) for url in urls]
    for job in jobs:
        assert job["status"] == "succeeded" and job["attempts"] == 1, job
        assert job["summary"]["created"] == SPECIMENS and "found" not in job["summary"]
    table = app.extensions["jobs"].table
    assert len({table.get(job["id"]).worker for job in jobs}) == 2  # both took jobs
    assert queue.llen(f"{config.queue_namespace}:{QUEUE}") == 0
    queue.close()
