"""Benchmark: the public HTTP API and the resolver under `make serve`'s gunicorn config,
against raw signed S3 to the same SeaweedFS and a bare Flask app, in one run.

    make bench-api                              # = .venv/bin/python bench/api.py
    BENCH_API_OBJECTS=300 make bench-api        # a quick run (default 1,500 specimens)

Starts its own SeaweedFS and the app (`scripts/serve.py`'s GUNICORN options: 2 workers,
4 threads, its access log) on free ports of 127.0.0.1, with a SQLite index and a machine
token made by `fdo tokens create`. Every measured request comes from a separate process
(bench/api_load.py) on THREADS threads over keep-alive connections, and so does every
baseline request, pair by pair in this order:
- create: POST /api/v1/digital-specimens (bench/specimens.py's realistic specimens)
  against raw signed PUTs of the version-1 objects the app stored (same bytes);
- update: PUT with If-Match (a curator's revision) against raw signed PUTs of the
  version-2 objects;
- read latest and read version 1 (/api/v1/...) against raw signed GETs of the same
  objects;
- first resolution (GET /<pid>) in JSON-LD, Turtle and HTML, each format on its own third
  of the specimens, so no object is resolved twice and nothing is in the resolver's
  caches, against raw signed GETs of those objects' latest versions;
- cached resolution: the same URLs, BENCH_API_CACHED_ROUNDS (5) times over, once every
  worker has served each of them, against bench/baseline_app.py (a bare Flask app under
  the same gunicorn options answering the same status, headers and bytes from memory),
  BENCH_API_ROUNDS (3) runs of each, interleaved; the median runs are compared;
- create by a curator with a JWT access token of the local OpenID provider against a
  curator with an API token (bench/api_access.py), BENCH_API_ROUNDS interleaved pairs.
Raw S3 requests go through `S3ObjectStore.create`/`get`: botocore's SigV4 signer on a
urllib3 keep-alive pool, as the service itself sends them (If-None-Match: * and
Content-MD5 on every PUT). The connections each gunicorn worker held are reported (without
--reuse-port the kernel may give one worker most of them, as under `make serve`).
Ratios are printed last; results go to bench/results/api.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))  # first: the `resolver` package, not bench/resolver.py

import api_access  # noqa: E402
import servers  # noqa: E402
from loadgen import Served, bench_config, connection_split, gunicorn, run_benchmark  # noqa: E402
from loadgen import warm_up as warm_every_worker  # noqa: E402
from serve import GUNICORN  # noqa: E402
from specimens import KIND, specimen  # noqa: E402

from repository.config import Config  # noqa: E402
from storage.objects import S3ObjectStore, S3Settings  # noqa: E402
from storage.versions import version_key  # noqa: E402

OBJECTS = int(os.environ.get("BENCH_API_OBJECTS", "1500"))
CACHED_ROUNDS = int(os.environ.get("BENCH_API_CACHED_ROUNDS", "5"))  # the URLs per run
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "3"))  # interleaved runs per cached format
THREADS = 8
FORMATS = {"JSON-LD": "application/ld+json", "Turtle": "text/turtle", "HTML": "text/html"}
Request = dict[str, Any]


@dataclass
class Run:
    """What the measurements share: the folder, the servers, the token, the results."""
    tmp: Path
    config: Config
    token: str
    app: Served | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    jobs: int = 0

    @property
    def s3(self) -> dict[str, str]:
        c = self.config
        return {"endpoint": c.s3_endpoint, "bucket": c.s3_bucket, "access_key": c.s3_access_key,
                "secret_key": c.s3_secret_key, "region": c.s3_region}


# -- one measurement: a list of requests from the load process --------------------------

def measure(run: Run, target: dict[str, Any], requests: list[Request], expect: int,
            served: Served | None = None) -> dict[str, Any]:
    """The requests sent by bench/api_load.py; every answer must have status `expect`."""
    run.jobs += 1
    job, out = run.tmp / f"job-{run.jobs}.json", run.tmp / f"result-{run.jobs}.json"
    job.write_text(json.dumps({"threads": THREADS, "target": target, "requests": requests}))
    process = subprocess.Popen([sys.executable, str(BENCH / "api_load.py"), str(job), str(out)],
                               cwd=ROOT)
    split = finish(process, served)
    if process.returncode != 0:
        raise RuntimeError(f"the load process exited with {process.returncode}")
    result = json.loads(out.read_text())
    answers = result["answers"]
    statuses = Counter(answer[0] for answer in answers)
    if statuses != {expect: len(requests)}:
        raise RuntimeError(f"expected {len(requests)} answers {expect}, got {dict(statuses)}")
    latencies = sorted(answer[1] for answer in answers)
    return {"requests": len(requests), "seconds": result["seconds"],
            "per_s": len(requests) / result["seconds"],
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "split": split, "client_cpu": result["cpu_seconds"] / result["seconds"],
            "answers": [answer[2:] for answer in answers]}


def finish(process: subprocess.Popen[bytes], served: Served | None) -> list[int]:
    """Wait for the load process; the connections each worker held, sampled until all
    THREADS are open (or the load ends) and not after: a sample costs ~8 ms of CPU, which
    the app's runs alone would pay."""
    best: list[int] = []
    while process.poll() is None:
        if served is not None and sum(best) < THREADS:
            split = connection_split(served)
            best = split if sum(split) > sum(best) else best
        time.sleep(0.1)
    return best


def compare(run: Run, name: str, app: dict[str, Any], baseline_name: str,
            baseline: dict[str, Any]) -> None:
    row = {"operation": name, "baseline": baseline_name, "ratio": app["per_s"] / baseline["per_s"],
           "app": without_answers(app), "base": without_answers(baseline)}
    run.rows.append(row)
    print(f"  {name:26s} {app['per_s']:7.0f}/s  {baseline_name} {baseline['per_s']:7.0f}/s  "
          f"{row['ratio']:.2f}x  (connections per worker: {app['split']}"
          f"{', baseline ' + str(baseline['split']) if baseline['split'] else ''})", flush=True)


def without_answers(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "answers"}


# -- the requests -----------------------------------------------------------------------

def revised(number: int) -> dict[str, Any]:
    """Specimen `number` as a curator revises it (specimens.REVISION, as a full document)."""
    document = specimen(number)
    document["ods:hasIdentifications"][0]["ods:isVerifiedIdentification"] = True
    document["dwc:disposition"] = "in collection"
    return document


def writes(run: Run, method: str, paths: list[str], documents: list[dict[str, Any]],
           etags: list[str] | None = None) -> list[Request]:
    headers = {"Authorization": f"Bearer {run.token}", "Content-Type": "application/json"}
    return [{"method": method, "path": path, "body": json.dumps(document),
             "headers": {**headers, **({"If-Match": etags[i]} if etags else {})}}
            for i, (path, document) in enumerate(zip(paths, documents, strict=True))]


def gets(paths: list[str], accept: str = "application/json") -> list[Request]:
    return [{"method": "GET", "path": path, "headers": {"Accept": accept}} for path in paths]


def raw_puts(run: Run, keys: list[str]) -> list[Request]:
    """Signed PUTs of the bytes the app stored under `keys`, to keys of their own."""
    store = S3ObjectStore(S3Settings(**run.s3))
    with ThreadPoolExecutor(THREADS) as pool:
        bodies = list(pool.map(store.get, keys))
    return [{"method": "PUT", "path": f"raw/{key}", "body": body.decode()}
            for key, body in zip(keys, bodies, strict=True)]


def raw_gets(keys: list[str]) -> list[Request]:
    return [{"method": "GET", "path": key} for key in keys]


def pid_of(location: str) -> str:
    return "/".join(urlsplit(location).path.split("/")[-2:])


# -- the scenarios ------------------------------------------------------------------------

def writes_and_reads(run: Run, http: dict[str, str], s3: dict[str, Any]) -> list[str]:
    """Create, update, read latest, read version 1, each against its raw baseline."""
    numbers = range(OBJECTS)
    created = measure(run, http, writes(run, "POST", [f"/api/v1/{KIND}"] * OBJECTS,
                                        [specimen(n) for n in numbers]), 201, run.app)
    pids = [pid_of(location) for _, location in created["answers"]]
    first = [version_key(pid, 1) for pid in pids]
    compare(run, "create (POST)", created, "raw signed PUT", measure(run, s3, raw_puts(run, first),
                                                                     200))
    objects = [f"/api/v1/{KIND}/{pid}" for pid in pids]
    updated = measure(run, http, writes(run, "PUT", objects, [revised(n) for n in numbers],
                                        [etag for etag, _ in created["answers"]]), 200, run.app)
    second = [version_key(pid, 2) for pid in pids]
    compare(run, "update (PUT, If-Match)", updated, "raw signed PUT",
            measure(run, s3, raw_puts(run, second), 200))
    compare(run, "read latest", measure(run, http, gets(objects), 200, run.app),
            "raw signed GET", measure(run, s3, raw_gets(second), 200))
    compare(run, "read version 1", measure(run, http, gets([f"{o}/versions/1" for o in objects]),
                                           200, run.app),
            "raw signed GET", measure(run, s3, raw_gets(first), 200))
    return pids


def thirds(pids: list[str]) -> dict[str, list[str]]:
    """Each format its own objects: a resolution of one format caches the decoded version
    for the others (resolver/lookup.py), so sharing objects would not be a first one."""
    return {name: pids[i::len(FORMATS)] for i, name in enumerate(FORMATS)}


def first_resolutions(run: Run, http: dict[str, str], s3: dict[str, Any],
                      groups: dict[str, list[str]]) -> None:
    for name, pids in groups.items():
        app = measure(run, http, gets([f"/{pid}" for pid in pids], FORMATS[name]), 200, run.app)
        compare(run, f"first resolution, {name}", app, "raw signed GET",
                measure(run, s3, raw_gets([version_key(pid, 2) for pid in pids]), 200))


def cached_resolutions(run: Run, http: dict[str, str], groups: dict[str, list[str]]) -> None:
    """The same URLs again, after every worker has served them, against the bare Flask
    app answering the same bytes under the same gunicorn options: ROUNDS runs of each,
    interleaved, so a drift of the machine's load hits both alike; the median run of each
    is compared."""
    assert run.app is not None
    requests = {name: gets([f"/{pid}" for pid in pids] * CACHED_ROUNDS, FORMATS[name])
                for name, pids in groups.items()}
    urls = [(f"/{pid}", FORMATS[name]) for name, pids in groups.items() for pid in pids]
    (run.tmp / "answers.json").write_text(json.dumps(warm_every_worker(run.app, urls)))
    target = f"bench.baseline_app:create_app({str(run.tmp / 'answers.json')!r}, 'response')"
    bare = gunicorn(target, servers.free_port(), ROOT, run.tmp / "baseline.log",
                    options=GUNICORN)
    try:
        warm_every_worker(bare, urls)
        for name, batch in requests.items():
            runs: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
            for _ in range(ROUNDS):
                runs[0].append(measure(run, http, batch, 200, run.app))
                runs[1].append(measure(run, {"http": f"http://127.0.0.1:{bare.port}"}, batch,
                                       200, bare))
            compare(run, f"cached resolution, {name}", median_run(runs[0]),
                    "bare Flask, same bytes", median_run(runs[1]))
    finally:
        servers.stop_process(bare.process)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (the upper one of an even number)."""
    return sorted(runs, key=lambda result: result["per_s"])[len(runs) // 2]


# -- the run --------------------------------------------------------------------------

def fdo(config: Config, *args: str) -> str:
    """`fdo ARGS` as a user runs it, against this run's S3 and index."""
    return servers.run_command([sys.executable, "-m", "repository.cli", *args], cwd=ROOT,
                               env={**os.environ, **config.to_environment()}).strip()


def table(rows: list[dict[str, Any]]) -> str:
    """One line per operation; `conns` are the connections each worker held, `client`
    the load process's CPU over its run (1.00: a whole core, so it was the limit)."""
    heads = ("operation", "app /s", "p50 ms", "p99 ms", "conns", "client", "baseline",
             "baseline /s", "p50 ms", "p99 ms", "client", "ratio")
    cells = [(row["operation"], *_figures(row["app"], True), row["baseline"],
              *_figures(row["base"], False), f"{row['ratio']:.2f}x") for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(heads, *cells, strict=True)]
    return "\n".join("  ".join(cell.ljust(width) if i in (0, 6) else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(line, widths, strict=True)))
                     for line in (heads, *cells))


def _figures(result: dict[str, Any], split: bool) -> tuple[str, ...]:
    figures = (f"{result['per_s']:.0f}", f"{result['p50_ms']:.1f}", f"{result['p99_ms']:.1f}")
    conns = ("/".join(map(str, result["split"])) or "-",) if split else ()
    return (*figures, *conns, f"{result['client_cpu']:.2f}")


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    provider, config = api_access.start_provider(tmp, bench_config(tmp, s3))
    fdo(config, "init")
    bench = Run(tmp, config, fdo(config, "tokens", "create", "--name", "bench", "--role",
                                 "administrator").splitlines()[-1])
    curator_token = api_access.curator_token(fdo, config)
    bench.app = gunicorn("wsgi:app", config.port, ROOT, tmp / "app.log",
                         config.to_environment(), options=GUNICORN)
    http, raw = {"http": config.base_url}, {"s3": bench.s3}
    print(f"app: gunicorn {' '.join(GUNICORN)} on {config.base_url}; {OBJECTS:,} specimens; "
          f"load from another process, {THREADS} threads, keep-alive", flush=True)
    try:
        groups = thirds(writes_and_reads(bench, http, raw))
        first_resolutions(bench, http, raw, groups)
        cached_resolutions(bench, http, groups)
        api_access.compare_credentials(bench, http, provider, curator_token, measure, writes,
                                       compare, ROUNDS, max(OBJECTS // ROUNDS, 1))
    finally:
        servers.stop_process(bench.app.process)
        provider.stop()
    print(f"\n{table(bench.rows)}", flush=True)
    return {"objects": OBJECTS, "threads": THREADS, "cached_rounds": CACHED_ROUNDS,
            "rounds": ROUNDS,
            "gunicorn": GUNICORN, "results": bench.rows}


def main() -> int:
    if len(FORMATS) > OBJECTS:
        sys.exit(f"BENCH_API_OBJECTS must be at least {len(FORMATS)}")
    return run_benchmark("api", benchmark)


if __name__ == "__main__":
    sys.exit(main())
