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
figure (target >= 0.5x). Results: stdout and bench/results/curation.json.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
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

OBJECTS = int(os.environ.get("BENCH_CURATION_OBJECTS", "400"))
ROUNDS = int(os.environ.get("BENCH_CURATION_ROUNDS", "3"))
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"
CHANGED = "Hortus botanicus"


def changed(number: int) -> dict[str, Any]:
    document = copy.deepcopy(specimen(number))
    document["ods:hasEvents"][0]["ods:hasLocation"]["dwc:locality"] = CHANGED
    return document


def proposal(location: str) -> dict[str, Any]:
    return {"oa:motivation": "oa:editing",
            "oa:hasTarget": {"@id": location, "oa:hasSelector": {
                "@type": "ods:TermSelector", "ods:term": LOCALITY}},
            "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [CHANGED]}}


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


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    config = bench_config(tmp, s3)
    fdo(config, "init")
    run = Run(tmp, config, fdo(config, "tokens", "create", "--name", "bench", "--role",
                               "administrator").splitlines()[-1])
    run.app = gunicorn("wsgi:app", config.port, ROOT, tmp / "app.log",
                       config.to_environment(), options=GUNICORN)
    print(f"app: gunicorn {' '.join(GUNICORN)} on {config.base_url}; {ROUNDS} rounds of "
          f"{OBJECTS:,} updates and {OBJECTS:,} decisions; {8} threads, keep-alive",
          flush=True)
    try:
        rounds = [one_round(run, {"http": config.base_url}, n * 2 * OBJECTS)
                  for n in range(ROUNDS)]
    finally:
        servers.stop_process(run.app.process)
    median = statistics.median(item["ratio"] for item in rounds)
    print(f"\ndecisions per second over PUT updates of the same change: {median:.2f}x "
          f"(median of {ROUNDS} rounds; target >= 0.5)", flush=True)
    return {"objects": OBJECTS, "rounds": rounds, "median_ratio": median,
            "gunicorn": GUNICORN}


def main() -> int:
    return run_benchmark("curation", benchmark)


if __name__ == "__main__":
    sys.exit(main())
