"""Benchmark: a curator's decision through the HTTP API, against a plain PUT update that
makes the same change, in one run.

    make bench-curation                              # = .venv/bin/python bench/curation.py
    BENCH_CURATION_OBJECTS=100 make bench-curation   # a quick run (default 400 a round)

Starts its own SeaweedFS and the app under `make serve`'s gunicorn options, with a SQLite
index and an administrator's token. Each of ROUNDS rounds creates 2 x OBJECTS realistic
specimens (bench/specimens.py), then, from a separate process on THREADS threads over
keep-alive connections (bench/api_load.py):
- update: on the first half, PUT with If-Match of the specimen with its locality changed:
  the fastest honest path to a new version carrying that change;
- annotate: on the second half, POST /api/v1/annotations proposing that change
  (`oa:editing` at the locality), reported, not compared;
- decide: POST /api/v1/annotations/<pid>/decision approving each proposal (If-Match):
  the target's new version with the change and its provenance, then the annotation's
  decision version: two S3 writes and index commits, plus the reads and checks they need.
The rounds are interleaved; the median round's decisions/s over its updates/s is the
figure (target >= 0.5x).

Then batches (BENCH_CURATION_BATCHES, default 1,000 and 10,000 specimens): the
specimens are created through the API under a family of their own, the `fdo worker`
restarted, and one batch made over the search for that family (POST
/api/v1/annotations/batches), then approved as a whole; each is timed from the request to
its job's end (polled every 0.2 s). The jobs run in that one `fdo worker` process (on
Redis, as under `make serve`). Memory: its resident set, sampled at every poll, split into
anonymous memory (RssAnon: what the job allocates) and file-backed pages (RssFile: mostly
the SQLite index read through its memory map, shared and bounded by storage/index.py's
MAPPED_BYTES); the largest sample of each is the batch's. Results: stdout and
bench/results/curation.json.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402
from api import Run, fdo, measure, pid_of, without_answers, writes  # noqa: E402
from loadgen import bench_config, gunicorn, run_benchmark  # noqa: E402
from serve import GUNICORN  # noqa: E402
from specimens import KIND, specimen  # noqa: E402

from repository.config import Config  # noqa: E402

OBJECTS = int(os.environ.get("BENCH_CURATION_OBJECTS", "400"))
ROUNDS = int(os.environ.get("BENCH_CURATION_ROUNDS", "3"))
BATCHES = [int(n) for n in os.environ.get("BENCH_CURATION_BATCHES", "1000,10000").split(",")
           if n]
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"
CHANGED = "Hortus botanicus"


def changed(number: int) -> dict[str, Any]:
    document = copy.deepcopy(specimen(number))
    document["ods:hasEvents"][0]["ods:hasLocation"]["dwc:locality"] = CHANGED
    return document


# The proposal, its target's @id left out (what a batch request carries).
TEMPLATE = {"oa:motivation": "oa:editing",
            "oa:hasTarget": {"oa:hasSelector": {"@type": "ods:TermSelector",
                                                "ods:term": LOCALITY}},
            "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [CHANGED]}}


def proposal(location: str) -> dict[str, Any]:
    return {**TEMPLATE, "oa:hasTarget": {**TEMPLATE["oa:hasTarget"], "@id": location}}


def one_round(run: Run, http: dict[str, str], first: int) -> dict[str, Any]:
    numbers = list(range(first, first + 2 * OBJECTS))
    created = measure(run, http, writes(run, "POST", [f"/api/v1/{KIND}"] * len(numbers),
                                        [specimen(n) for n in numbers]), 201)
    answers = created["answers"]
    puts, proposed = answers[:OBJECTS], answers[OBJECTS:]
    updated = measure(run, http, writes(
        run, "PUT", [f"/api/v1/{KIND}/{pid_of(location)}" for _, location in puts],
        [changed(n) for n in numbers[:OBJECTS]], [etag for etag, _ in puts]), 200, run.app)
    annotated = measure(run, http, writes(
        run, "POST", ["/api/v1/annotations"] * OBJECTS,
        [proposal(location) for _, location in proposed]), 201, run.app)
    decided = measure(run, http, writes(
        run, "POST", [f"/api/v1/annotations/{pid_of(location)}/decision"
                      for _, location in annotated["answers"]],
        [{"ods:mergingDecisionStatus": "Approved"}] * OBJECTS,
        [etag for etag, _ in annotated["answers"]]), 200, run.app)
    ratio = decided["per_s"] / updated["per_s"]
    print(f"  round: update {updated['per_s']:6.0f}/s (p50 {updated['p50_ms']:.1f} ms), "
          f"annotate {annotated['per_s']:6.0f}/s, decide {decided['per_s']:6.0f}/s "
          f"(p50 {decided['p50_ms']:.1f} ms): {ratio:.2f}x", flush=True)
    return {"ratio": ratio, "update": without_answers(updated),
            "annotate": without_answers(annotated), "decide": without_answers(decided)}


def in_family(number: int, family: str) -> dict[str, Any]:
    document = copy.deepcopy(specimen(number))
    document["ods:hasIdentifications"][0]["ods:hasTaxonIdentifications"][0][
        "dwc:family"] = family
    return document


def call(run: Run, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{run.config.base_url}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {run.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def start_worker(run: Run, log: Path) -> servers.Process:
    """`fdo worker`, as `make serve` starts it."""
    return servers.start_process([sys.executable, "-m", "repository.cli", "worker"],
                                 env={**os.environ, **run.config.to_environment()},
                                 cwd=ROOT, log=log)


def job_seconds(run: Run, started: float, answer: dict[str, Any], worker: servers.Process,
                peaks: dict[str, float]) -> float:
    """Seconds from `started` to the end of the job the answer names (it must succeed);
    the worker's memory sampled meanwhile into `peaks`."""
    path = answer["job"].removeprefix(run.config.base_url)
    while True:
        job = call(run, "GET", path)
        for name, megabytes in resident_mb(worker.pid).items():
            peaks[name] = max(peaks.get(name, 0.0), megabytes)
        if job["status"] not in ("queued", "running"):
            if job["status"] != "succeeded":
                raise RuntimeError(f"the job ended {job['status']}: {job.get('error')}")
            return time.perf_counter() - started
        time.sleep(0.2)


def resident_mb(pid: int) -> dict[str, float]:
    """The process's anonymous and file-backed resident set, MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) / 1024
    return found


def batch(run: Run, tmp: Path, size: int, first: int) -> dict[str, Any]:
    """`size` specimens of a family of their own, one batch over them, approved, by a
    fresh `fdo worker`: its peak is the batch's."""
    family = f"Benchidae{size}"
    made = measure(run, {"http": run.config.base_url}, writes(
        run, "POST", [f"/api/v1/{KIND}"] * size,
        [in_family(n, family) for n in range(first, first + size)]), 201)
    worker = start_worker(run, tmp / f"worker-{size}.log")
    try:
        peaks: dict[str, float] = {}
        started = time.perf_counter()
        answer = call(run, "POST", "/api/v1/annotations/batches",
                      {"search": f"family={family}", "annotation": TEMPLATE})
        create = job_seconds(run, started, answer, worker, peaks)
        started = time.perf_counter()
        decided = call(run, "POST",
                       f"/api/v1/annotations/batches/{answer['batchID']}/decision",
                       {"ods:mergingDecisionStatus": "Approved"})
        approve = job_seconds(run, started, decided, worker, peaks)
    finally:
        servers.stop_process(worker, timeout=40)
    status = call(run, "GET", f"/api/v1/annotations/batches/{answer['batchID']}")
    if status["annotations"] != {"Approved": size}:
        raise RuntimeError(f"the batch of {size} ended {status['annotations']}")
    result = {"specimens": size, "create_s": create, "approve_s": approve,
              "create_per_s": size / create, "approve_per_s": size / approve,
              "peak_anon_mb": peaks["RssAnon"], "peak_file_mb": peaks["RssFile"],
              "specimens_created_per_s": made["per_s"]}
    print(f"  batch of {size:,}: made in {create:.1f} s ({size / create:.0f}/s), approved in "
          f"{approve:.1f} s ({size / approve:.0f}/s); worker peak RSS: anonymous "
          f"{peaks['RssAnon']:.0f} MB, file-backed {peaks['RssFile']:.0f} MB", flush=True)
    return result


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    queue = servers.start_redis(tmp / "redis")
    try:
        return measured(tmp, bench_config(tmp, s3, queue_url=queue.url))
    finally:
        queue.stop()


def measured(tmp: Path, config: Config) -> dict[str, Any]:
    fdo(config, "init")
    run = Run(tmp, config, fdo(config, "tokens", "create", "--name", "bench", "--role",
                               "administrator").splitlines()[-1])
    run.app = gunicorn("wsgi:app", config.port, ROOT, tmp / "app.log",
                       config.to_environment(), options=GUNICORN)
    print(f"app: gunicorn {' '.join(GUNICORN)} on {config.base_url}; {ROUNDS} rounds of "
          f"{OBJECTS:,} updates and {OBJECTS:,} decisions; {8} threads, keep-alive",
          flush=True)
    median = None
    try:
        rounds = [one_round(run, {"http": config.base_url}, n * 2 * OBJECTS)
                  for n in range(ROUNDS)]
        if rounds:
            median = statistics.median(item["ratio"] for item in rounds)
            print(f"\ndecisions per second over PUT updates of the same change: {median:.2f}x"
                  f" (median of {ROUNDS} rounds; target >= 0.5)", flush=True)
        first = ROUNDS * 2 * OBJECTS
        batches = []
        for size in BATCHES:
            batches.append(batch(run, tmp, size, first))
            first += size
    finally:
        servers.stop_process(run.app.process)
    if len(batches) > 1:
        for name, key in (("anonymous", "peak_anon_mb"), ("file-backed", "peak_file_mb")):
            growth = batches[-1][key] / batches[0][key]
            print(f"worker peak {name} RSS, batch of {BATCHES[-1]:,} over {BATCHES[0]:,}: "
                  f"{growth:.2f}x (target <= 1.2)", flush=True)
    return {"objects": OBJECTS, "rounds": rounds, "median_ratio": median,
            "batches": batches, "gunicorn": GUNICORN}


def main() -> int:
    return run_benchmark("curation", benchmark)


if __name__ == "__main__":
    sys.exit(main())
