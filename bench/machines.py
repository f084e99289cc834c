"""Benchmark: background work on the queue, in one run: (1) an ingest through the job queue
and an `fdo worker`, against the same ingest run in-process; (2) the example machine
annotation service over many specimens, through the repository's runs, against calling
the service directly.

    make bench-machines                               # = .venv/bin/python bench/machines.py
    BENCH_MACHINES_RECORDS=5000 BENCH_MACHINES_SPECIMENS=500 make bench-machines  # quick

One realistic archive (bench/dwca_generator.py: about 30% of records with one to three
images; its generation is not measured), ingested twice, each time into a fresh bucket on
the same SeaweedFS and a fresh SQLite index with a source system of its own:
- in-process: `fdo ingest dwca ARCHIVE` in its own process, the run a web worker's job
  thread made before jobs moved out: wall time from start to exit, less the CLI's
  start-up (the best of three `import repository.cli`), which a web worker had behind it;
- through the worker: gunicorn (`make serve`'s options) and one `fdo worker` on a Redis
  queue, as `make serve` runs them. The archive is POSTed to /api/v1/ingest-jobs, and the
  time runs from the request to the job's end (polled every 0.2 s): the upload, its copy
  to S3, the queue, the worker's download, the ingest and the job's bookkeeping. The
  worker has started before the clock does.
Every record must be created both times. The figure is the in-process time over the worker
path's (target >= 0.95x: the queue costs at most 5%).

(2) BENCH_MACHINES_SPECIMENS (default 10,000) realistic specimens (bench/specimens.py),
every second one naming another country than its coordinates lie in, made twice over
in two families through the API; gunicorn, one `fdo worker --threads 8` and the example
service (scripts/services/country_check.py) as its own process:
- direct: the bench POSTs each specimen's JSON-LD (read beforehand) to the service on 8
  threads, with a callback whose token is an annotator's API token and whose `job` is a
  sink of the bench's own. The service posts its annotations to the repository as it
  does in a run; the time runs until the sink has heard every run end;
- through the repository: one run on a search over the other family (POST
  /api/v1/digital-specimens/search/mas); the time runs until every job record has ended
  (the index, polled every 0.5 s). Each run is then a job record in three versions, two
  background jobs and a delivery by the worker.
Figures: annotations per second end to end, and the repository's share of the time,
(through - direct) / through (target <= 20%). Results: stdout and
bench/results/machines.json. Everything listens on 127.0.0.1 and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402
from api import Run, measure  # noqa: E402
from curation import call, in_family  # noqa: E402
from dwca_generator import write_archive  # noqa: E402
from ingest import (  # noqa: E402
    bucket_config,
    check_report,
    ingest_cli,
    source_system,
    startup_seconds,
)
from loadgen import gunicorn, run_benchmark  # noqa: E402
from serve import GUNICORN  # noqa: E402
from specimens import KIND  # noqa: E402

from repository.config import Config  # noqa: E402
from repository.ingest import report as ingest_report  # noqa: E402

RECORDS = int(os.environ.get("BENCH_MACHINES_RECORDS", "100000"))
SPECIMENS = int(os.environ.get("BENCH_MACHINES_SPECIMENS", "10000"))
TARGET = 0.95  # in-process seconds over worker-path seconds, at least
SHARE_TARGET = 0.20  # the repository's share of a machine annotation run's time, at most
THREADS = 8


def through_worker(config: Config, folder: Path, archive: Path) -> dict[str, Any]:
    """The archive as a client submits it, run by one `fdo worker`: seconds to the end."""
    system = source_system(config)
    env = {**os.environ, **config.to_environment()}
    token = servers.run_command([sys.executable, "-m", "repository.cli", "tokens", "create",
                                 "--name", "bench", "--role", "administrator"],
                                cwd=ROOT, env=env).strip().splitlines()[-1]
    app = gunicorn("wsgi:app", config.port, ROOT, folder / "app.log",
                   config.to_environment(), options=GUNICORN)
    worker = servers.start_process([sys.executable, "-m", "repository.cli", "worker"],
                                   env=env, cwd=ROOT, log=folder / "worker.log")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        time.sleep(3)  # the worker's imports, so that the clock runs for the job only
        started = time.perf_counter()
        with archive.open("rb") as stream:
            answer = requests.post(f"{config.base_url}/api/v1/ingest-jobs", headers=headers,
                                   data={"sourceSystem": system, "format": "dwca"},
                                   files={"archive": ("archive.zip", stream)}, timeout=600)
        answer.raise_for_status()
        accepted = time.perf_counter() - started
        url = answer.headers["Location"]
        while (job := requests.get(url, headers=headers, timeout=60).json())["status"] in (
                "queued", "running"):
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if job["status"] != "succeeded":
            raise RuntimeError(f"the job ended {job['status']}: {job['error']}")
        report = requests.get(f"{url}/report", headers=headers, timeout=60).json()
    finally:
        servers.stop_process(worker, timeout=40)
        servers.stop_process(app.process)
    return {"seconds": seconds, "accepted_seconds": accepted, "report": report,
            "attempts": job["attempts"]}


def wrong_country(number: int, family: str) -> dict[str, Any]:
    """A realistic specimen of `family`; every second one names a country its
    coordinates do not lie in. The same number in two families is the same specimen
    but for its family and physical ID: the two ways do the same work."""
    document = in_family(number, family)
    document["ods:physicalSpecimenID"] += f".{family}"
    location = document["ods:hasEvents"][0]["ods:hasLocation"]
    if number % 2:
        location["dwc:country"] = "Iceland" if location["dwc:country"] != "Iceland" else "Chile"
    return document


class Sink(ThreadingHTTPServer):
    """Where the service ends its direct runs: counts them, and when the last came."""

    def __init__(self) -> None:
        self.ended = 0
        self.last = 0.0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    sink.ended += 1
                    sink.last = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.request_queue_size = 128  # the service ends runs 8 at a time, in bursts
        super().__init__(("127.0.0.1", 0), Handler)


def ended_runs(database: Path) -> int:
    """Job records that have ended: three versions (Scheduled, Running, then the end)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM fdo_objects WHERE kind = "
                                      "'mas-jobs' AND version >= 3").fetchone()[0])


def machine_annotation(tmp: Path, s3: servers.S3Server, queue_url: str) -> dict[str, Any]:
    folder = tmp / "annotating"
    folder.mkdir()
    port = servers.free_port()
    config = replace(bucket_config(folder, s3, "annotating"), queue_url=queue_url,
                     queue_namespace="annotating", port=port,
                     base_url=f"http://127.0.0.1:{port}", ingest_spool=str(folder / "spool"))
    env = {**os.environ, **config.to_environment()}
    token = servers.run_command([sys.executable, "-m", "repository.cli", "tokens", "create",
                                 "--name", "bench", "--role", "administrator"],
                                cwd=ROOT, env=env).strip().splitlines()[-1]
    annotator = servers.run_command([sys.executable, "-m", "repository.cli", "tokens",
                                     "create", "--name", "direct", "--role", "annotator"],
                                    cwd=ROOT, env=env).strip().splitlines()[-1]
    run = Run(folder, config, token)
    run.app = gunicorn("wsgi:app", port, ROOT, folder / "app.log", config.to_environment(),
                       options=GUNICORN)
    service_port = servers.free_port()
    started = [run.app.process,
               servers.start_process([sys.executable, "-m", "repository.cli", "worker",
                                      "--threads", str(THREADS)], env=env, cwd=ROOT,
                                     log=folder / "worker.log"),
               servers.start_process([sys.executable, str(ROOT / "scripts" / "services" /
                                                          "country_check.py"),
                                      "--port", str(service_port)], cwd=ROOT,
                                     log=folder / "service.log",
                                     ready_url=f"http://127.0.0.1:{service_port}/")]
    sink = Sink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        sets = {family: created(run, [wrong_country(n, family) for n in range(SPECIMENS)])
                for family in ("Directidae", "Queuedidae")}
        print(f"  {2 * SPECIMENS:,} specimens made", flush=True)
        service = call(run, "POST", "/api/v1/machine-annotation-services", {
            "schema:name": "Country check",
            "ods:serviceEndpoint": f"http://127.0.0.1:{service_port}/",
            "ods:hasTargetDigitalObjectFilter": {}, "ods:batchingPermitted": True,
            "ods:maxObjectsPerRun": SPECIMENS})["@id"]

        with ThreadPoolExecutor(THREADS) as pool:  # what a run sends, read beforehand
            documents = list(pool.map(lambda location: requests.get(
                location, headers={"Accept": "application/ld+json"}, timeout=60).json(),
                sets["Directidae"]))
        requests_direct = [{"method": "POST", "path": "/", "headers": {
            "Content-Type": "application/json"}, "body": json.dumps({
                # A job ID as the schema wants one; an annotator's annotation keeps none.
                "jobID": f"{config.base_url}/direct/D{number % 100:02d}-AAA-AAA",
                "object": document, "callback": {
                    "annotations": f"{config.base_url}/api/v1/annotations",
                    "job": f"http://127.0.0.1:{sink.server_address[1]}/{number}",
                    "token": annotator}})} for number, document in enumerate(documents)]
        before = annotations_made(run)
        clock = time.perf_counter()
        measure(run, {"http": f"http://127.0.0.1:{service_port}"}, requests_direct, 202)
        deadline = time.monotonic() + 3600
        while sink.ended < SPECIMENS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service ended {sink.ended:,} of {SPECIMENS:,} runs")
            time.sleep(0.05)
        direct = sink.last - clock
        direct_annotations = annotations_made(run) - before
        print(f"  direct:  {direct:7.1f}s for {SPECIMENS:,} runs, {direct_annotations:,} "
              f"annotations ({direct_annotations / direct:.0f}/s)", flush=True)

        before = annotations_made(run)
        clock = time.perf_counter()
        call(run, "POST", f"/api/v1/{KIND}/search/mas",
             {"services": [service], "search": "family=Queuedidae"})
        database = folder / "index.sqlite3"
        deadline = time.monotonic() + 3600
        while ended_runs(database) < SPECIMENS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ended_runs(database):,} of {SPECIMENS:,} runs ended")
            time.sleep(0.5)
        through = time.perf_counter() - clock
        queued_annotations = annotations_made(run) - before
        print(f"  through: {through:7.1f}s for {SPECIMENS:,} runs, {queued_annotations:,} "
              f"annotations ({queued_annotations / through:.0f}/s)", flush=True)
    finally:
        sink.shutdown()
        for process in reversed(started):
            servers.stop_process(process, timeout=40)
    if direct_annotations != queued_annotations:  # the same work both ways, or no figure
        raise RuntimeError(f"direct runs made {direct_annotations} annotations, runs through "
                           f"the repository {queued_annotations}")
    share = (through - direct) / through
    print(f"\nthe repository's share of a machine annotation run: {share:.1%} "
          f"(target <= {SHARE_TARGET:.0%}) {'ok' if share <= SHARE_TARGET else 'ABOVE TARGET'}",
          flush=True)
    return {"specimens": SPECIMENS, "threads": THREADS, "direct_seconds": direct,
            "direct_annotations": direct_annotations, "through_seconds": through,
            "through_annotations": queued_annotations,
            "annotations_per_s": queued_annotations / through, "repository_share": share,
            "share_target": SHARE_TARGET, "met": share <= SHARE_TARGET}


def created(run: Run, documents: list[dict[str, Any]]) -> list[str]:
    """The specimens made through the API on THREADS threads (setting up, not measured):
    a 503 the app's back-pressure answers is sent again after its Retry-After."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {run.token}"}

    def create(document: dict[str, Any]) -> str:
        for _ in range(10):
            answer = session.post(f"{run.config.base_url}/api/v1/{KIND}", json=document,
                                  headers=headers, timeout=60)
            if answer.status_code != 503:
                answer.raise_for_status()
                return str(answer.json()["@id"])
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        raise RuntimeError("the app kept answering 503")

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(create, documents))


def annotations_made(run: Run) -> int:
    return int(call(run, "GET", "/api/v1/annotations/search?pageSize=1")["total"])


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    started = time.perf_counter()
    archive = write_archive(tmp / "archive.zip", RECORDS)
    media = archive["media_rows"]
    print(f"{RECORDS:,} records ({media:,} media rows, {archive['bytes'] / 1e6:.1f} MB "
          f"zipped, generated in {time.perf_counter() - started:.1f}s)", flush=True)
    queue = servers.start_redis(tmp / "redis")
    try:
        annotating = machine_annotation(tmp, s3, queue.url) if SPECIMENS else None
        port = servers.free_port()
        queued = tmp / "through-worker"
        queued.mkdir()
        config = replace(bucket_config(queued, s3, "through-worker"), queue_url=queue.url,
                         port=port, base_url=f"http://127.0.0.1:{port}",
                         ingest_spool=str(queued / "spool"))
        worker = through_worker(config, queued, tmp / "archive.zip")
    finally:
        queue.stop()
    check_report(worker.pop("report"), ingest_report.CREATED, RECORDS, media)
    print(f"  through the worker: {worker['seconds']:7.1f}s ({RECORDS / worker['seconds']:.0f} "
          f"records/s; accepted after {worker['accepted_seconds']:.1f}s)", flush=True)
    local = tmp / "in-process"
    local.mkdir()
    config = bucket_config(local, s3, "in-process")
    direct = ingest_cli(config, tmp / "archive.zip", local / "ingest.log",
                        source_system(config))
    check_report(direct.pop("report"), ingest_report.CREATED, RECORDS, media)
    # A web worker's job thread ran in a process already started: the CLI's start-up is
    # not part of the in-process figure, as the worker's is not part of the other.
    startup = startup_seconds()
    direct["run_seconds"] = direct["seconds"] - startup
    print(f"  in-process:         {direct['run_seconds']:7.1f}s "
          f"({RECORDS / direct['run_seconds']:.0f} records/s; the CLI's start-up of "
          f"{startup:.1f}s left out)", flush=True)
    ratio = direct["run_seconds"] / worker["seconds"]
    print(f"\ningest through the worker over in-process: {ratio:.3f}x (target >= {TARGET}x) "
          f"{'ok' if ratio >= TARGET else 'BELOW TARGET'}", flush=True)
    return {"records": RECORDS, "archive": archive, "through_worker": worker,
            "in_process": direct, "ratio": ratio, "target": TARGET, "met": ratio >= TARGET,
            "machine_annotation": annotating}


def main() -> int:
    return run_benchmark("machines", benchmark)


if __name__ == "__main__":
    sys.exit(main())
