"""Benchmark: the resolver under gunicorn against a baseline app returning the same bytes.

    make bench-resolver             # = .venv/bin/python bench/resolver.py (100,000 objects)
    BENCH_OBJECTS=5000 make bench-resolver      # a quick run

Loads 1,000 realistic specimens (a quarter with two versions) into SeaweedFS + SQLite,
serves them with gunicorn (gthread, 2 workers x 4 threads, keep-alive 30 s), and loads it
with wrk on 127.0.0.1 over 8 keep-alive connections: JSON-LD, Turtle and HTML, each on
latest (`/<pid>`) and versioned (`/<pid>/1`) URLs of a 1,000-object sample, after a
warm-up in which both workers have served every sampled URL (so: cached). The baseline
(bench/baseline_app.py) is a Flask app under the same gunicorn config answering the same
(path, Accept) with the same status, headers and body from memory; a second one answers
with the same body and Content-Type only (reported beside it). Both are measured by the
same wrk runs, interleaved with the app's. Then grows the repository to BENCH_OBJECTS on
the same server, draws a new sample at random from all objects, and measures again.
Each scenario is BENCH_ROUNDS wrk runs of BENCH_SECONDS per app; medians are reported.
Targets: cached JSON-LD and Turtle >= 0.6x baseline, HTML >= 0.5x; p99 at 1,000 objects
and at BENCH_OBJECTS within 1.2x. Results go to stdout and bench/results/resolver.json.
Environment: BENCH_OBJECTS (100000), BENCH_ROUNDS (3), BENCH_SECONDS (5),
BENCH_WRK_THREADS (1). Needs Debian's wrk (`make wrk`, as root).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))  # first: the `resolver` package, not this file

import servers  # noqa: E402
from loadgen import (  # noqa: E402
    CONNECTIONS,
    GUNICORN,
    SECONDS,
    WRK_THREADS,
    Served,
    bench_config,
    gunicorn,
    run_benchmark,
    warm_up,
    wrk,
)
from specimens import load  # noqa: E402

from repository import build_service  # noqa: E402

OBJECTS = int(os.environ.get("BENCH_OBJECTS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
FIRST = 1000  # the small repository, and the sample size at both sizes
FORMATS = {"jsonld": "application/ld+json", "turtle": "text/turtle", "html": "text/html"}
TARGETS = {"jsonld": 0.6, "turtle": 0.6, "html": 0.5}
P99_GROWTH = 1.2
URLS = ("latest", "versioned")
BASELINES = ("response", "body")  # see bench/baseline_app.py


# -- one size -------------------------------------------------------------------------

def sample_paths(sample: list[str]) -> dict[str, list[str]]:
    return {"latest": [f"/{pid}" for pid in sample], "versioned": [f"/{pid}/1" for pid in sample]}


def measure(size: int, sample: list[str], app: Served, others: list[int],
            tmp: Path) -> list[dict[str, Any]]:
    """Warm the app up, build and start the baselines from its answers, run wrk on all."""
    folder = tmp / f"size-{size}"
    folder.mkdir()
    paths = sample_paths(sample)
    requests = [(path, accept) for urls in paths.values() for path in urls
                for accept in FORMATS.values()]
    started = time.perf_counter()
    answers = warm_up(app, requests)
    print(f"  warm-up: {len(requests)} requests through each worker in "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    (folder / "answers.json").write_text(json.dumps(answers))
    for url, urls in paths.items():
        (folder / f"{url}.txt").write_text("\n".join(urls) + "\n")
    baselines = []
    try:
        for mode in BASELINES:
            target = f"bench.baseline_app:create_app({str(folder / 'answers.json')!r}, {mode!r})"
            baselines.append(gunicorn(target, servers.free_port(), ROOT,
                                      tmp / f"baseline-{mode}.log"))
            warm_up(baselines[-1], requests)
        return [scenario(size, name, url, (app, *baselines), folder / f"{url}.txt", others)
                for name in FORMATS for url in URLS]
    finally:
        for baseline in baselines:
            servers.stop_process(baseline.process)


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
    return {**{key: statistics.median(run[key] for run in runs) for key in keys}, "runs": runs}


def scenario(size: int, name: str, url: str, served: tuple[Served, ...], paths: Path,
             others: list[int]) -> dict[str, Any]:
    """ROUNDS runs of each server, interleaved, so a drift of the machine hits all alike."""
    runs: tuple[list[dict[str, Any]], ...] = tuple([] for _ in served)
    for _ in range(ROUNDS):
        for server, results in zip(served, runs, strict=True):
            results.append(wrk(server, paths, FORMATS[name], others))
    app, base, bare = (medians(results) for results in runs)
    ratio, bare_ratio = app["rps"] / base["rps"], app["rps"] / bare["rps"]
    print(f"  {name:7s} {url:9s} app {app['rps']:6.0f}/s  baseline {base['rps']:6.0f}/s "
          f"{ratio:4.2f}x  (body-only {bare['rps']:6.0f}/s {bare_ratio:4.2f}x)  "
          f"p50 {app['p50_ms']:5.2f} ms  p99 {app['p99_ms']:5.2f} ms  "
          f"CPU/request {app['cpu_ms_per_request']:.2f} vs {base['cpu_ms_per_request']:.2f} ms",
          flush=True)
    for run in [run for results in runs for run in results]:
        if run["non_2xx"] or run["socket_errors"] or run["others_cpu_percent"] > 5:
            print(f"  WARNING: errors, or SeaweedFS busy, during a run: {run}", flush=True)
    return {"objects": size, "format": name, "url": url, "app": app, "baseline": base,
            "body_only_baseline": bare, "ratio": ratio, "body_only_ratio": bare_ratio,
            "target": TARGETS[name], "met": ratio >= TARGETS[name]}


# -- report ---------------------------------------------------------------------------

def table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'objects':>8s} {'scenario':17s} {'app req/s':>9s} {'base req/s':>10s} "
          f"{'ratio':>5s} {'target':>6s} {'met':>3s} {'body-only':>9s} {'ratio':>5s} "
          f"{'p50 ms':>6s} {'p99 ms':>6s} {'base p50':>8s} {'base p99':>8s} "
          f"{'CPU ms/req app':>14s} {'base':>5s}")
    for row in rows:
        app, base, bare = row["app"], row["baseline"], row["body_only_baseline"]
        print(f"{row['objects']:8d} {row['format'] + ' ' + row['url']:17s} {app['rps']:9.0f} "
              f"{base['rps']:10.0f} {row['ratio']:5.2f} {row['target']:5.1f}x "
              f"{'yes' if row['met'] else 'NO':>3s} {bare['rps']:9.0f} "
              f"{row['body_only_ratio']:5.2f} {app['p50_ms']:6.2f} {app['p99_ms']:6.2f} "
              f"{base['p50_ms']:8.2f} {base['p99_ms']:8.2f} "
              f"{app['cpu_ms_per_request']:14.2f} {base['cpu_ms_per_request']:5.2f}")


def p99_growth(small: list[dict[str, Any]], large: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The app's p99 growth, and the baseline's beside it: the baseline does the same work
    at any size, so its growth is what the machine itself changed between the two."""
    growth = []
    print(f"\np99 at {large[0]['objects']:,} objects / p99 at {small[0]['objects']:,} "
          f"(target <= {P99_GROWTH}x; the baseline's growth for comparison)")
    for before, after in zip(small, large, strict=True):
        ratio = after["app"]["p99_ms"] / before["app"]["p99_ms"]
        base = after["baseline"]["p99_ms"] / before["baseline"]["p99_ms"]
        met = ratio <= P99_GROWTH
        growth.append({"format": before["format"], "url": before["url"], "ratio": ratio,
                       "baseline_ratio": base, "target": P99_GROWTH, "met": met})
        print(f"  {before['format'] + ' ' + before['url']:17s} {before['app']['p99_ms']:7.2f} ms "
              f"-> {after['app']['p99_ms']:7.2f} ms  {ratio:4.2f}x  {'ok' if met else 'NO':3s}"
              f"  baseline {base:4.2f}x")
    return growth


# -- the run --------------------------------------------------------------------------

def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    config = bench_config(tmp, s3)
    port = config.port
    fdo = build_service(config)
    loads = [load(fdo, 0, FIRST)]
    pids = list(loads[0].pids)
    app = gunicorn("wsgi:app", port, ROOT, tmp / "app.log", config.to_environment())
    others = [process.pid for process in s3.processes]  # idle, we hope: its CPU is reported
    try:
        print(f"app: gunicorn {' '.join(GUNICORN)} on 127.0.0.1:{port} "
              f"(pid {app.process.pid}); wrk -t{WRK_THREADS} -c{CONNECTIONS} -d{SECONDS}s "
              f"x {ROUNDS} rounds",
              flush=True)
        print(f"measuring at {FIRST:,} objects", flush=True)
        small = measure(FIRST, pids, app, others, tmp)
        loads.append(load(fdo, FIRST, OBJECTS - FIRST))
        pids += loads[1].pids
        print(f"measuring at {len(pids):,} objects", flush=True)
        sample = random.Random(7).sample(pids, FIRST)
        large = measure(len(pids), sample, app, others, tmp)
    finally:
        servers.stop_process(app.process)
        fdo.index.close()
    table(small + large)
    growth = p99_growth(small, large)
    return {"objects": [FIRST, len(pids)], "gunicorn": GUNICORN,
            "wrk": {"threads": WRK_THREADS, "connections": CONNECTIONS, "seconds": SECONDS,
                    "rounds": ROUNDS},
            "load": [item.summary() for item in loads], "scenarios": small + large,
            "p99_growth": growth}


def main() -> int:
    if OBJECTS <= FIRST:
        sys.exit(f"BENCH_OBJECTS must be more than {FIRST:,} (the first size measured)")
    return run_benchmark("resolver", benchmark)


if __name__ == "__main__":
    sys.exit(main())
