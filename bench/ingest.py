"""Benchmark: ingesting a Darwin Core Archive with `fdo ingest dwca`, against raw S3 puts.

    make bench-ingest                           # = .venv/bin/python bench/ingest.py
    BENCH_SIZES=500,2000 make bench-ingest      # a quick run (default: 10000,100000)

For each size in BENCH_SIZES: a realistic archive of that many records (about 30% with
one to three images, bench/dwca_generator.py; its generation is not measured), a fresh
bucket on SeaweedFS and a fresh SQLite index, with a source system made by `fdo
source-systems create --name "Bench CMS" --organisation <Naturalis>`. Then:
- ingest: the real CLI in its own process, `fdo ingest dwca ARCHIVE --source-system
  <its PID>`: wall time, records/s, objects written/s
  (specimens and media, from the report's counts) and the process's peak RSS
  (`os.wait4`'s ru_maxrss: its own, no one else's). Every record must be created;
- re-check: the same command again, every record and image unchanged: the same figures;
- guarded re-check: again with `--tombstone-missing`, so the tombstone share guard first
  reads the dataset's physical IDs through and pages the source system's live specimens
  (repository/ingest/guard.py): its wall time, and what it costs over the re-check;
- raw puts: as many objects as records, each the average size of the objects the ingest
  stored under `fdo/`, on as many threads as the ingest writes with
  (`repository.ingest.run.WRITE_THREADS`), into a bucket of their own, as signed PUTs
  through the store's own `create` (the fastest raw path, and the ingest's own): puts/s;
  then boto3 `put_object` of the same bytes, reported beside it as boto3's.
Targets: ingest records/s >= 0.5x raw signed puts/s at every size, and peak RSS at the largest
size <= 1.2x that at the smallest (memory does not grow with the dataset). A report whose
counts are not all created (then all unchanged) stops the run. Results: stdout and
bench/results/ingest.json. SeaweedFS is on 127.0.0.1 and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))  # before bench/: bench/resolver.py is not the package

import servers  # noqa: E402
from dwca_generator import write_archive  # noqa: E402
from loadgen import run_benchmark  # noqa: E402

from repository.config import Config  # noqa: E402
from repository.ingest import report as ingest_report  # noqa: E402
from repository.ingest import run as ingest_run  # noqa: E402
from storage.objects import S3ObjectStore, S3Settings, s3_client  # noqa: E402
from storage.versions import KEY_ROOT  # noqa: E402

SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "10000,100000").split(",")]
THREADS: int = getattr(ingest_run, "WRITE_THREADS", 8)
SOURCE_SYSTEM_NAME = "Bench CMS"
NATURALIS = "https://ror.org/0566bfb96"
RATIO_TARGET = 0.5  # ingest records/s over raw puts/s, at least
RSS_TARGET = 1.2  # peak RSS at the largest size over that at the smallest, at most


def bucket_config(folder: Path, s3: servers.S3Server, bucket: str) -> Config:
    """The repository's config: a fresh bucket on `s3`, a fresh SQLite index in `folder`."""
    servers.create_bucket(s3, bucket)
    return replace(Config(), s3_endpoint=s3.endpoint, s3_bucket=bucket,
                   s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                   s3_region=s3.region, database_url=f"sqlite:///{folder}/index.sqlite3")


def source_system(config: Config) -> str:
    """The PID of a new source system, made by `fdo source-systems create` (it prints it
    last)."""
    made = subprocess.run(
        [sys.executable, "-m", "repository.cli", "source-systems", "create", "--name",
         SOURCE_SYSTEM_NAME, "--organisation", NATURALIS],
        env={**os.environ, **config.to_environment()}, cwd=ROOT, capture_output=True,
        text=True, check=True)
    return made.stdout.strip().splitlines()[-1]


def ingest_cli(config: Config, archive: Path, log: Path, system: str,
               *options: str) -> dict[str, Any]:
    """`fdo ingest dwca` in its own process: wall time, peak RSS, CPU time and its report."""
    command = [sys.executable, "-m", "repository.cli", "ingest", "dwca", str(archive),
               "--source-system", system, *options]
    out = log.with_suffix(".json")
    started = time.perf_counter()
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = subprocess.Popen(command, env={**os.environ, **config.to_environment()},
                                   cwd=ROOT, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"fdo ingest exited with {process.returncode}:\n"
                           f"{log.read_text()[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "report": json.loads(out.read_text())}


def startup_seconds() -> float:
    """What starting the CLI costs before any record (the interpreter and the imports),
    part of every ingest's wall time: the best of three."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import repository.cli"], cwd=ROOT, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def check_report(report: dict[str, Any], status: str, records: int, media: int) -> None:
    """Every record, and every media row, has `status`; anything else stops the run."""
    counts = {name: number for name, number in report["counts"].items() if number}
    images = {name: number for name, number in report["media"].items() if number}
    if counts != {status: records} or images != ({status: media} if media else {}):
        raise RuntimeError(f"expected {records:,} records and {media:,} media all {status}; "
                           f"the report says {counts} and media {images}: "
                           f"{json.dumps(report)[:2000]}")


def stored(config: Config) -> dict[str, float]:
    """How many objects (versions) the ingest stored under fdo/, and their average size."""
    client = s3_client(_settings(config))
    count = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=config.s3_bucket,
                                                                 Prefix=KEY_ROOT):
        for item in page.get("Contents", []):
            count += 1
            size += item["Size"]
    return {"versions": count, "average_bytes": size / max(count, 1)}


def raw_puts(config: Config, count: int, size: int) -> dict[str, float]:
    """`count` objects of `size` bytes on THREADS threads as signed PUTs through the store's
    own `create` (If-None-Match: *, Content-MD5: how the ingest writes), then, labelled,
    as boto3 `put_object` of the same bytes to keys of their own."""
    store = S3ObjectStore(_settings(config))
    filler = b'"' + b"x" * size

    def body(number: int) -> bytes:  # made as it is sent: 100,000 of them would be 600 MB
        return (b'{"n":%d,"pad":' % number + filler)[:size - 2] + b'"}'

    signed = _put_rate(lambda n: store.create(f"{KEY_ROOT}raw/{n:09d}/v1.json", body(n)),
                       count)
    boto3 = _put_rate(lambda n: store.client.put_object(
        Bucket=config.s3_bucket, Key=f"{KEY_ROOT}boto3/{n:09d}/v1.json", Body=body(n),
        ContentType="application/json", IfNoneMatch="*"), count)
    return {"objects": count, "bytes": size, "threads": THREADS, "seconds": signed[0],
            "puts_per_s": signed[1], "boto3_seconds": boto3[0], "boto3_puts_per_s": boto3[1]}


def _put_rate(put: Callable[[int], object], count: int) -> tuple[float, float]:
    """Seconds and puts/s for `put` of 0..count-1 on THREADS threads."""
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(put, range(count)))
    seconds = time.perf_counter() - started
    return seconds, count / seconds


def _settings(config: Config) -> S3Settings:
    return S3Settings(config.s3_endpoint, config.s3_bucket, config.s3_access_key,
                      config.s3_secret_key, config.s3_region)


def measure(folder: Path, s3: servers.S3Server, records: int) -> dict[str, Any]:
    folder.mkdir()
    started = time.perf_counter()
    archive = write_archive(folder / "archive.zip", records)
    archive["generate_seconds"] = time.perf_counter() - started
    media = archive["media_rows"]
    print(f"\n{records:,} records ({media:,} media rows, {archive['bytes'] / 1e6:.1f} MB "
          f"zipped, generated in {archive['generate_seconds']:.1f}s)", flush=True)
    config = bucket_config(folder, s3, f"ingest-{records}")
    system = source_system(config)
    first = ingest_cli(config, folder / "archive.zip", folder / "ingest.log", system)
    check_report(first.pop("report"), ingest_report.CREATED, records, media)
    objects = records + media
    first |= {"records_per_s": records / first["seconds"], "objects": objects,
              "objects_per_s": objects / first["seconds"]}
    print(f"  ingest:   {first['seconds']:7.1f}s {first['records_per_s']:7.0f} records/s "
          f"{first['objects_per_s']:7.0f} objects/s, peak RSS {first['peak_rss_mb']:.0f} MB",
          flush=True)
    again = ingest_cli(config, folder / "archive.zip", folder / "recheck.log", system)
    check_report(again.pop("report"), ingest_report.UNCHANGED, records, media)
    again["records_per_s"] = records / again["seconds"]
    print(f"  re-check: {again['seconds']:7.1f}s {again['records_per_s']:7.0f} records/s, "
          f"peak RSS {again['peak_rss_mb']:.0f} MB", flush=True)
    guarded = ingest_cli(config, folder / "archive.zip", folder / "guarded.log", system,
                         "--tombstone-missing")
    guard = guarded.pop("report").get("tombstoneGuard")
    guarded |= {"guard": guard, "over_recheck_seconds": guarded["seconds"] - again["seconds"]}
    print(f"  guarded:  {guarded['seconds']:7.1f}s (--tombstone-missing; its guard's count "
          f"{guard['seconds']:.2f}s of it; {guarded['over_recheck_seconds']:+.1f}s over the "
          f"re-check; {guard['missing']} of {guard['live']:,} missing)", flush=True)
    kept = stored(config)
    raw = raw_puts(bucket_config(folder, s3, f"raw-{records}"), records,
                   round(kept["average_bytes"]))
    ratio = first["records_per_s"] / raw["puts_per_s"]
    print(f"  raw puts: {raw['seconds']:7.1f}s {raw['puts_per_s']:7.0f} signed puts/s of "
          f"{raw['bytes']:,} bytes ({THREADS} threads); ingest {ratio:.2f}x raw "
          f"(boto3 put_object {raw['boto3_puts_per_s']:.0f}/s)", flush=True)
    return {"records": records, "archive": archive, "stored": kept, "ingest": first,
            "recheck": again, "guarded_recheck": guarded, "raw_put": raw,
            "ingest_vs_raw_put": ratio,
            "ingest_vs_boto3_put": first["records_per_s"] / raw["boto3_puts_per_s"],
            "met": ratio >= RATIO_TARGET}


def table(results: list[dict[str, Any]]) -> str:
    heads = ("records", "media", "ingest s", "rec/s", "obj/s", "RSS MB", "re-check s",
             "rec/s", "RSS MB", "raw put/s", "ingest/raw", "boto3 put/s")
    rows = [(f"{r['records']:,}", f"{r['archive']['media_rows']:,}",
             f"{r['ingest']['seconds']:.1f}", f"{r['ingest']['records_per_s']:.0f}",
             f"{r['ingest']['objects_per_s']:.0f}", f"{r['ingest']['peak_rss_mb']:.0f}",
             f"{r['recheck']['seconds']:.1f}", f"{r['recheck']['records_per_s']:.0f}",
             f"{r['recheck']['peak_rss_mb']:.0f}", f"{r['raw_put']['puts_per_s']:.0f}",
             f"{r['ingest_vs_raw_put']:.2f}x", f"{r['raw_put']['boto3_puts_per_s']:.0f}")
            for r in results]
    widths = [max(len(cell) for cell in column) for column in zip(heads, *rows, strict=True)]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths,
                                                                       strict=True))
                     for row in (heads, *rows))


def peak(result: dict[str, Any]) -> float:
    return max(result["ingest"]["peak_rss_mb"], result["recheck"]["peak_rss_mb"])


def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
    results = [measure(tmp / f"size-{records}", s3, records) for records in sorted(SIZES)]
    growth = peak(results[-1]) / peak(results[0])
    startup = startup_seconds()
    print(f"\n{table(results)}\n(each ingest's wall time includes the CLI's start-up, "
          f"{startup:.2f}s)\n")
    for result in results:
        verdict = "ok" if result["met"] else "BELOW TARGET"
        print(f"ingest vs raw put at {result['records']:,}: {result['ingest_vs_raw_put']:.3f}x "
              f"(target >= {RATIO_TARGET}x) {verdict}")
    print(f"peak RSS {results[-1]['records']:,} / {results[0]['records']:,} records: "
          f"{growth:.2f}x (target <= {RSS_TARGET}x) "
          f"{'ok' if growth <= RSS_TARGET else 'ABOVE TARGET'}", flush=True)
    return {"sizes": sorted(SIZES), "threads": THREADS, "cli_startup_seconds": startup,
            "results": results,
            "targets": {"ingest_vs_raw_put": RATIO_TARGET, "rss_growth": RSS_TARGET},
            "rss_growth": growth, "rss_met": growth <= RSS_TARGET,
            "ratio_met": all(result["met"] for result in results)}


def main() -> int:
    return run_benchmark("ingest", benchmark)


if __name__ == "__main__":
    sys.exit(main())
