"""Benchmark: harvesting the whole repository via the change feed and via a bulk dump.

    make bench-harvest              # = .venv/bin/python bench/harvest.py (100,000 objects)
    BENCH_OBJECTS=5000 make bench-harvest       # a quick run

Loads BENCH_OBJECTS realistic specimens into SeaweedFS + SQLite (a quarter with a second
version, see specimens.py), tombstones 1% of them, and serves them with gunicorn (the
config of bench/resolver.py). Then, from this process over one keep-alive connection:
- feed: walks /activity from the first page along `next`, parsing every page (JSON-LD):
  activities/s and, counting each object once, objects/s. The first fetch of a page is
  uncached, so page latency is compared on first fetches: the median of the first five
  pages against the median of the last five full pages (target: within 1.5x);
- OAI-PMH: ListRecords in oai_dc from the first request along resumption tokens, parsing
  every response (XML): records/s, and page latency as for the feed (first five pages
  against the last five full pages, target within 1.5x), on pages with no deleted record
  (the tombstones, made last, fill the last pages, and a deleted record reads nothing
  from S3). Then ListIdentifiers the same way: the paging alone, with no S3 reads;
- dump: `fdo export` (its own process) of each object's latest version, then a loader
  reading every line back (gunzip + JSON): objects/s for each, and the export's peak RSS;
- raw reads: every object's latest version as signed GETs through the store's own `get`
  (the fastest raw path, the one OAI-PMH and the export read with) on as many threads as
  they read with, from this process: the limit `ListRecords` and the export are given
  as ratios to (both read each object's current version from S3 and render it).
Results: stdout and bench/results/harvest.json. Every server is on 127.0.0.1 and stopped by its PID.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402
from loadgen import bench_config, gunicorn, run_benchmark  # noqa: E402
from specimens import CURATOR, KIND, load  # noqa: E402

from repository import build_service  # noqa: E402
from repository.config import Config  # noqa: E402
from storage.objects import ObjectStore  # noqa: E402
from storage.reader import READ_THREADS as READERS  # noqa: E402
from storage.versions import version_key  # noqa: E402

OBJECTS = int(os.environ.get("BENCH_OBJECTS", "100000"))
PAGE_SIZE = 1000  # the default FDO_FEED_PAGE_SIZE
OAI_PAGE_SIZE = 100  # the default FDO_OAI_PAGE_SIZE
OAI = "{http://www.openarchives.org/OAI/2.0/}"
EDGE_PAGES = 5  # pages compared at each end
LATENCY_TARGET = 1.5


def get(connection: http.client.HTTPConnection, path: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    connection.request("GET", path, headers={"Accept": "application/ld+json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
    document: dict[str, Any] = json.loads(body)
    return document, time.perf_counter() - started


def harvest_feed(port: int, base: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    collection, _ = get(connection, "/activity")
    path: str | None = collection["first"]["id"].removeprefix(base)
    latencies: list[float] = []
    activities, objects = 0, set()
    while path:
        page, seconds = get(connection, path)
        items = page["orderedItems"]
        if len(items) == PAGE_SIZE:
            latencies.append(seconds)
        activities += len(items)
        objects.update(item["object"]["dcterms:isVersionOf"] for item in items)
        path = page["next"]["id"].removeprefix(base) if "next" in page else None
    elapsed = time.perf_counter() - started
    connection.close()
    first = statistics.median(latencies[:EDGE_PAGES])
    last = statistics.median(latencies[-EDGE_PAGES:])
    return {"activities": activities, "objects": len(objects), "seconds": elapsed,
            "activities_per_s": activities / elapsed, "objects_per_s": len(objects) / elapsed,
            "full_pages": len(latencies), "first_pages_ms": 1000 * first,
            "last_pages_ms": 1000 * last, "last_over_first": last / first,
            "target": LATENCY_TARGET, "met": last / first <= LATENCY_TARGET}


def harvest_oai(port: int, verb: str) -> dict[str, Any]:
    """ListRecords or ListIdentifiers (the paging alone, no S3 reads) in oai_dc."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    query = f"verb={verb}&metadataPrefix=oai_dc"
    path = "record/" + OAI + "header" if verb == "ListRecords" else "header"
    latencies: list[float] = []
    records, deleted, identifiers = 0, 0, set()
    while query:
        page_started = time.perf_counter()
        connection.request("GET", f"/oai?{query}")
        response = connection.getresponse()
        body = response.read()
        root = ET.fromstring(body)
        seconds = time.perf_counter() - page_started
        if response.status != 200 or root.find(f"{OAI}error") is not None:
            raise RuntimeError(f"/oai?{query} answered {response.status}: {body[:300]!r}")
        listing = root.find(f"{OAI}{verb}")
        assert listing is not None
        headers = listing.findall(f"{OAI}{path}")
        gone = sum(header.get("status") == "deleted" for header in headers)
        if len(headers) == OAI_PAGE_SIZE and not (gone and verb == "ListRecords"):
            latencies.append(seconds)  # pages alike: full (of records read from S3)
        records += len(headers)
        deleted += gone
        identifiers.update(header.findtext(f"{OAI}identifier") for header in headers)
        token = listing.findtext(f"{OAI}resumptionToken")
        query = f"verb={verb}&resumptionToken={token}" if token else ""
    elapsed = time.perf_counter() - started
    connection.close()
    first = statistics.median(latencies[:EDGE_PAGES])
    last = statistics.median(latencies[-EDGE_PAGES:])
    return {"records": records, "deleted": deleted, "distinct": len(identifiers),
            "seconds": elapsed, "records_per_s": records / elapsed,
            "full_pages": len(latencies), "first_pages_ms": 1000 * first,
            "last_pages_ms": 1000 * last, "last_over_first": last / first,
            "target": LATENCY_TARGET, "met": last / first <= LATENCY_TARGET}


def harvest_dump(config: Config, folder: Path) -> dict[str, Any]:
    """`fdo export` in its own process (so its peak RSS is its own), then a loader."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "repository.cli", "export", "--out", str(folder)],
        env={**os.environ, **config.to_environment()}, cwd=ROOT, stdout=subprocess.DEVNULL)
    peaks = {"RssAnon": 0, "RssFile": 0}  # heap, and file pages mapped (SQLite's mmap)
    while True:  # wait4: this child's own peak RSS, no one else's
        ended, status, usage = os.wait4(process.pid, os.WNOHANG)
        if ended:
            break
        peaks = _resident(process.pid, peaks)
        time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"fdo export failed ({process.returncode})")
    exported = time.perf_counter() - started
    rss_mb = usage.ru_maxrss / 1024
    manifest = json.loads((folder / "manifest.json").read_text())
    started = time.perf_counter()
    loaded = 0
    for item in manifest["files"]:
        with gzip.open(folder / item["name"], "rt", encoding="utf-8") as lines:
            for line in lines:
                json.loads(line)
                loaded += 1
    read = time.perf_counter() - started
    return {"objects": loaded, "export_seconds": exported,
            "export_objects_per_s": loaded / exported, "load_seconds": read,
            "load_objects_per_s": loaded / read, "files": len(manifest["files"]),
            "bytes": sum(item["bytes"] for item in manifest["files"]),
            "export_peak_rss_mb": rss_mb, "export_peak_anon_mb": peaks["RssAnon"] / 1024,
            "export_peak_file_mb": peaks["RssFile"] / 1024}


def _resident(pid: int, peaks: dict[str, int]) -> dict[str, int]:
    """The larger of `peaks` and the process's current resident kB, by kind."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return peaks  # it has just ended
    now = {name: int(rest.split()[0]) for name, _, rest in
           (line.partition(":") for line in lines) if name in peaks}
    return {name: max(value, now.get(name, 0)) for name, value in peaks.items()}


def raw_reads(store: ObjectStore, keys: list[str]) -> dict[str, Any]:
    """Signed GETs of `keys` on READERS threads: the baseline of ListRecords and export."""
    started = time.perf_counter()
    with ThreadPoolExecutor(READERS) as pool:
        size = sum(len(body) for body in pool.map(store.get, keys))
    seconds = time.perf_counter() - started
    return {"objects": len(keys), "threads": READERS, "seconds": seconds,
            "objects_per_s": len(keys) / seconds, "average_bytes": size / max(len(keys), 1)}


def tombstone_some(fdo: Any, pids: list[str]) -> int:
    gone = pids[::100]
    for pid in gone:
        prefix, suffix = pid.split("/")
        fdo.tombstone(KIND, prefix, suffix, "benchmark: a duplicate", None, None, CURATOR)
    return len(gone)


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    config = bench_config(tmp, s3, feed_page_size=PAGE_SIZE)
    port = config.port
    fdo = build_service(config)
    loaded = load(fdo, 0, OBJECTS)
    tombstones = tombstone_some(fdo, loaded.pids)
    app = gunicorn("wsgi:app", port, ROOT, tmp / "app.log", config.to_environment())
    try:
        feed = harvest_feed(port, config.base_url)
        print(f"feed: {feed['activities']:,} activities ({feed['objects']:,} objects) in "
              f"{feed['seconds']:.1f}s: {feed['activities_per_s']:.0f} activities/s, "
              f"{feed['objects_per_s']:.0f} objects/s; first pages "
              f"{feed['first_pages_ms']:.1f} ms, last pages {feed['last_pages_ms']:.1f} ms "
              f"({feed['last_over_first']:.2f}x, target <= {LATENCY_TARGET}x)", flush=True)
        oai = {verb: harvest_oai(port, verb) for verb in ("ListRecords", "ListIdentifiers")}
        for verb, result in oai.items():
            print(f"oai {verb}: {result['records']:,} items ({result['deleted']:,} deleted, "
                  f"{result['distinct']:,} distinct) in {result['seconds']:.1f}s: "
                  f"{result['records_per_s']:.0f} items/s; first pages "
                  f"{result['first_pages_ms']:.1f} ms, last pages "
                  f"{result['last_pages_ms']:.1f} ms ({result['last_over_first']:.2f}x, "
                  f"target <= {LATENCY_TARGET}x)", flush=True)
    finally:
        servers.stop_process(app.process)
    keys = [version_key(row.pid, row.version) for row in fdo.index.all_objects()]
    fdo.index.close()
    dump = harvest_dump(config, tmp / "dump")
    raw = raw_reads(fdo.store, keys)
    print(f"dump: {dump['objects']:,} objects exported in {dump['export_seconds']:.1f}s "
          f"({dump['export_objects_per_s']:.0f}/s, {dump['files']} file(s), "
          f"{dump['bytes'] / 1e6:.1f} MB, peak RSS {dump['export_peak_rss_mb']:.0f} MB: "
          f"heap {dump['export_peak_anon_mb']:.0f} MB, mapped files "
          f"{dump['export_peak_file_mb']:.0f} MB), "
          f"read back in {dump['load_seconds']:.1f}s ({dump['load_objects_per_s']:.0f}/s)",
          flush=True)
    ratios = {"list_records_vs_raw_get": oai["ListRecords"]["records_per_s"] / raw["objects_per_s"],
              "export_vs_raw_get": dump["export_objects_per_s"] / raw["objects_per_s"]}
    print(f"raw signed GETs: {raw['objects']:,} latest versions in {raw['seconds']:.1f}s: "
          f"{raw['objects_per_s']:.0f}/s ({READERS} threads); ListRecords "
          f"{ratios['list_records_vs_raw_get']:.2f}x, export {ratios['export_vs_raw_get']:.2f}x",
          flush=True)
    return {"objects": OBJECTS, "tombstones": tombstones, "load": loaded.summary(),
            "feed": feed, "oai": oai, "dump": dump, "raw_get": raw, "ratios": ratios}


def main() -> int:
    return run_benchmark("harvest", benchmark)


if __name__ == "__main__":
    sys.exit(main())
