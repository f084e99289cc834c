"""Benchmark: the service layer against raw signed S3 requests on the same SeaweedFS, in
one run and one process.

    make bench                    # 5,000 specimens (BENCH_N overrides)

Measures creating specimens through FDOService (1 and 8 threads) against raw signed PUTs
of the same bytes through the store's own `create` (botocore's SigV4 signer on a urllib3
keep-alive pool, If-None-Match: * and Content-MD5: the fastest raw path the project has,
and the one the service writes with), and reading the latest version by PID (1 and 8
threads) against raw signed GETs of the same objects through the store's own `get`.
boto3's `put_object`/`get_object` of the same bytes are measured beside them and labelled
as such. Reports ratios to the signed baseline (targets: create >= 0.5x raw put, read >=
0.7x raw get) and the process's RSS after the run (target < 200 MB). Results go to stdout
and bench/results/core.json.
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
from schemas import SPECIMEN  # noqa: E402
from storage.versions import version_key  # noqa: E402

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


def rss_mb() -> dict[str, float]:
    """This process's resident set size now and at its peak, and what it is made of now:
    heap (RssAnon) and mapped files (RssFile: the SQLite index's memory map among them,
    page cache the kernel can take back), in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {name: int(fields[field].split()[0]) / 1024 for name, field in
            (("rss", "VmRSS"), ("peak", "VmHWM"), ("heap", "RssAnon"), ("files", "RssFile"))}


def bench(fdo: FDOService) -> dict[str, float]:
    results: dict[str, float] = {}
    created: list[str] = []
    for threads in (1, 8):
        docs = [specimen(i) for i in range(N)]
        results[f"service_create_{threads}t"] = rate(
            lambda doc: created.append(fdo.create(SPECIMEN.name, doc, AGENT).pid),
            docs, threads)
    keys = [version_key(pid, 1) for pid in created[:N]]  # the objects the reads read
    # Reading them first is also the warm-up: both read passes find the same S3 caches.
    bodies = [fdo.store.get(key) for key in keys]
    results |= raw_puts(fdo.store, keys, bodies)
    pids = [pid.split("/") for pid in created[:N]]
    for threads in (1, 8):
        results[f"service_read_{threads}t"] = rate(
            lambda pid: fdo.latest(SPECIMEN.name, pid[0], pid[1]), pids, threads)
        results |= raw_gets(fdo.store, keys, threads)
    return results


def raw_puts(store: Any, keys: list[str], bodies: list[bytes]) -> dict[str, float]:
    """The same bytes as signed PUTs through the store's own `create` (If-None-Match: *,
    Content-MD5, as every version is written), and, labelled, through boto3."""
    results = {}
    for threads in (1, 8):
        signed = [(f"raw-{threads}/{key}", body) for key, body in zip(keys, bodies, strict=True)]
        results[f"raw_put_{threads}t"] = rate(lambda item: store.create(*item), signed, threads)
        boto3 = [(f"boto3-{threads}/{key}", body) for key, body in zip(keys, bodies, strict=True)]
        results[f"boto3_put_{threads}t"] = rate(
            lambda item: store.client.put_object(Bucket=store.bucket, Key=item[0], Body=item[1],
                                                 ContentType="application/json",
                                                 IfNoneMatch="*"),
            boto3, threads)
    return results


def raw_gets(store: Any, keys: list[str], threads: int) -> dict[str, float]:
    """Signed GETs through the store's own `get`, and, labelled, boto3's `get_object`."""
    return {f"raw_get_{threads}t": rate(store.get, keys, threads),
            f"boto3_get_{threads}t": rate(
                lambda key: store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read(),
                keys, threads)}


RATIOS = {"create_vs_put_1t": ("service_create_1t", "raw_put_1t", 0.5),
          "create_vs_put_8t": ("service_create_8t", "raw_put_8t", 0.5),
          "read_vs_get_1t": ("service_read_1t", "raw_get_1t", 0.7),
          "read_vs_get_8t": ("service_read_8t", "raw_get_8t", 0.7)}


def report(results: dict[str, float]) -> dict[str, Any]:
    memory = rss_mb()
    ratios = {name: results[ours] / results[theirs] for name, (ours, theirs, _) in RATIOS.items()}
    targets = {name: target for name, (_, _, target) in RATIOS.items()}
    boto3 = {name: results[ours] / results[theirs.replace("raw_", "boto3_")]
             for name, (ours, theirs, _) in RATIOS.items()}
    summary = {"n": N, "ops_per_s": results, "ratios": ratios, "targets": targets,
               "ratios_to_boto3": boto3, "rss_mb": memory["rss"], "peak_rss_mb": memory["peak"],
               "heap_mb": memory["heap"], "mapped_files_mb": memory["files"],
               "rss_target_mb": 200}
    for name, value in results.items():
        print(f"{name:22s} {value:9.1f} ops/s")
    for name, value in ratios.items():
        verdict = "ok" if value >= targets[name] else "BELOW TARGET"
        print(f"{name:22s} {value:9.2f}x raw signed (target >= {targets[name]}x) {verdict}; "
              f"{boto3[name]:.2f}x boto3")
    print(f"{'rss after run':22s} {memory['rss']:9.1f} MB (peak {memory['peak']:.1f}; "
          f"heap {memory['heap']:.1f}, mapped files {memory['files']:.1f}; target < 200) "
          f"{'ok' if memory['rss'] < 200 else 'ABOVE TARGET'}")
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
