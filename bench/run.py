"""Benchmark: the service layer against raw boto3 on the same SeaweedFS, in one run.

    make bench                    # 5,000 specimens (BENCH_N overrides)

Measures creating specimens through FDOService versus raw `put_object` of the same bytes
(1 and 8 threads), and reading the latest version by PID versus raw `get_object`.
Reports ratios (targets: create >= 0.5x raw put, read >= 0.7x raw get) and the process's
RSS after the run (target < 200 MB). Results go to stdout and bench/results/core.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402

from repository import build_service  # noqa: E402
from repository.config import Config  # noqa: E402
from repository.provenance import Agent  # noqa: E402
from repository.services import FDOService  # noqa: E402
from storage.versions import KEY_ROOT  # noqa: E402

N = int(os.environ.get("BENCH_N", "5000"))
AGENT = Agent(id="https://orcid.org/0000-0002-1825-0097", name="bench", role="machine")


def specimen(number: int) -> dict[str, Any]:
    return {
        "ods:physicalSpecimenID": f"BENCH.{uuid.uuid4().hex[:8]}.{number}",
        "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": "https://ror.org/0566bfb96",
        "ods:specimenName": "Bombus terrestris (Linnaeus, 1758)",
        "dwc:basisOfRecord": "PreservedSpecimen",
        "ods:topicDiscipline": "Zoology",
        "dwc:preparations": "pinned",
        "dcterms:license": "http://creativecommons.org/publicdomain/zero/1.0/",
    }


def rate(work: Callable[[Any], Any], items: Sequence[Any], threads: int) -> float:
    """Items per second for `work` over `items` on `threads` threads."""
    start = time.perf_counter()
    if threads == 1:
        for item in items:
            work(item)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, items))
    return len(items) / (time.perf_counter() - start)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def bench(fdo: FDOService) -> dict[str, float]:
    client, bucket = fdo.store.client, fdo.store.bucket  # type: ignore[attr-defined]
    results: dict[str, float] = {}
    created: list[str] = []
    for threads in (1, 8):
        docs = [specimen(i) for i in range(N)]
        results[f"service_create_{threads}t"] = rate(
            lambda doc: created.append(fdo.create("digital-specimens", doc, AGENT).pid),
            docs, threads)
    keys = list(fdo.store.keys(KEY_ROOT))[:N]
    bodies = [fdo.store.get(key) for key in keys]
    for threads in (1, 8):
        raw_keys = [f"raw-{threads}/{key}" for key in keys]
        results[f"raw_put_{threads}t"] = rate(
            lambda item: client.put_object(Bucket=bucket, Key=item[0], Body=item[1],
                                           ContentType="application/json", IfNoneMatch="*"),
            list(zip(raw_keys, bodies, strict=True)), threads)
    pids = [pid.split("/") for pid in created[:N]]
    for key in keys:  # warm-up: both read passes below find the same S3 caches
        client.get_object(Bucket=bucket, Key=key)["Body"].read()
    results["service_read_1t"] = rate(
        lambda pid: fdo.latest("digital-specimens", pid[0], pid[1]), pids, 1)
    results["raw_get_1t"] = rate(
        lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read(), keys, 1)
    return results


def report(results: dict[str, float]) -> dict[str, Any]:
    current, peak = rss_mb()
    ratios = {
        "create_vs_put_1t": results["service_create_1t"] / results["raw_put_1t"],
        "create_vs_put_8t": results["service_create_8t"] / results["raw_put_8t"],
        "read_vs_get_1t": results["service_read_1t"] / results["raw_get_1t"],
    }
    targets = {"create_vs_put_1t": 0.5, "create_vs_put_8t": 0.5, "read_vs_get_1t": 0.7}
    summary = {"n": N, "ops_per_s": results, "ratios": ratios, "targets": targets,
               "rss_mb": current, "peak_rss_mb": peak, "rss_target_mb": 200}
    for name, value in results.items():
        print(f"{name:22s} {value:9.1f} ops/s")
    for name, value in ratios.items():
        verdict = "ok" if value >= targets[name] else "BELOW TARGET"
        print(f"{name:22s} {value:9.2f}x  (target >= {targets[name]}x) {verdict}")
    print(f"{'rss after run':22s} {current:9.1f} MB (peak {peak:.1f}; target < 200) "
          f"{'ok' if current < 200 else 'ABOVE TARGET'}")
    return summary


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fdo-bench-") as tmp:
        s3 = servers.start_seaweedfs(Path(tmp) / "s3")
        try:
            servers.create_bucket(s3, "bench")
            config = replace(Config(), s3_endpoint=s3.endpoint, s3_bucket="bench",
                             s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                             database_url=f"sqlite:///{tmp}/index.sqlite3")
            summary = report(bench(build_service(config)))
        finally:
            s3.stop()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "core.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
