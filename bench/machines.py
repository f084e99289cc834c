"""Benchmark: an ingest through the job queue and an `fdo worker`, against the same ingest
run in-process, in one run.

    make bench-machines                               # = .venv/bin/python bench/machines.py
    BENCH_MACHINES_RECORDS=5000 make bench-machines   # a quick run (default 100,000)

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
path's (target >= 0.95x: the queue costs at most 5%). Results: stdout and
bench/results/machines.json. Everything listens on 127.0.0.1 and is stopped by its PID.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402
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

from repository.config import Config  # noqa: E402
from repository.ingest import report as ingest_report  # noqa: E402

RECORDS = int(os.environ.get("BENCH_MACHINES_RECORDS", "100000"))
TARGET = 0.95  # in-process seconds over worker-path seconds, at least
NATURALIS = "https://ror.org/0566bfb96"


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


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    started = time.perf_counter()
    archive = write_archive(tmp / "archive.zip", RECORDS)
    media = archive["media_rows"]
    print(f"{RECORDS:,} records ({media:,} media rows, {archive['bytes'] / 1e6:.1f} MB "
          f"zipped, generated in {time.perf_counter() - started:.1f}s)", flush=True)
    queue = servers.start_redis(tmp / "redis")
    try:
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
            "in_process": direct, "ratio": ratio, "target": TARGET, "met": ratio >= TARGET}


def main() -> int:
    return run_benchmark("machines", benchmark)


if __name__ == "__main__":
    sys.exit(main())
