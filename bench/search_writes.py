"""Benchmark: what the search index adds to recording a version, without S3 or threads.

    .venv/bin/python bench/search_writes.py                       # both engines
    .venv/bin/python bench/search_writes.py --engines sqlite --creates 1000

The versions of COUNT realistic creates (bench/search_data.py: specimens, ~30% with a
media object linked) are captured as the index receives them, then recorded again,
one transaction each, by one thread, into fresh indexes with and without their search
documents (ROUNDS rounds, interleaved). On SQLite the figure is the process's CPU per
version (the database runs in it); on PostgreSQL the wall time per version (the
server's work and the round trips are what a version waits for). The full benchmark,
creates through FDOService on 8 threads with S3, is bench/search.py --sizes none; this
one isolates the index writes, with far less noise, to say where the cost is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import search_data  # noqa: E402
import servers  # noqa: E402
from loadgen import bench_config, run_benchmark  # noqa: E402

from repository import build_service  # noqa: E402
from storage.index import Index  # noqa: E402
from storage.models import VersionEntry  # noqa: E402


def captured_versions(config: Any, count: int) -> list[VersionEntry]:
    """The versions `count` creates record, as the index was given them."""
    service = build_service(config)
    versions: list[VersionEntry] = []
    record = service.index.record_version

    def keep(entry: VersionEntry) -> None:
        versions.append(entry)
        record(entry)

    service.index.record_version = keep  # type: ignore[method-assign]
    try:
        for number in range(count):
            search_data.create_specimen(service, 7_000_000 + number)
    finally:
        service.close()
    return versions


def replay(url: str, versions: list[VersionEntry], clock: Any) -> float:
    """Milliseconds per version, recording each in a transaction of its own."""
    index = Index(url)
    try:
        index.create_schema()
        began = clock()
        for entry in versions:
            index.record_version(entry)
        return (clock() - began) / len(versions) * 1000
    finally:
        index.close()


def engine_run(tmp: Path, versions: list[VersionEntry], engine: str, rounds: int
               ) -> dict[str, Any]:
    postgres = servers.start_postgres(tmp / "pg") if engine == "postgresql" else None
    # SQLite runs in this process: its CPU. PostgreSQL's server works apart: the wall time.
    clock = time.perf_counter if postgres else time.process_time
    without = [replace(entry, search=None) for entry in versions]
    runs: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for number in range(rounds):
            for name, given in (("with", versions), ("without", without)):
                url = (postgres.create_database(f"{name}{number}") if postgres
                       else f"sqlite:///{tmp}/{name}{number}.sqlite3")
                runs[name].append(replay(url, given, clock))
    finally:
        if postgres:
            postgres.stop()
    median = {name: statistics.median(values) for name, values in runs.items()}
    added = median["with"] - median["without"]
    unit = "wall" if postgres else "CPU"
    print(f"{engine}: ms of {unit} per version with the search index {median['with']:.3f}, "
          f"without {median['without']:.3f}: the index adds {added:.3f} "
          f"(rounds {[round(v, 3) for v in runs['with']]} / "
          f"{[round(v, 3) for v in runs['without']]})", flush=True)
    return {"unit": unit, "with_ms": median["with"], "without_ms": median["without"],
            "added_ms": added, "rounds": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--creates", type=int, default=2000, help="specimens created")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)

    def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
        config = replace(bench_config(tmp, s3), database_url=f"sqlite:///{tmp}/captured.sqlite3")
        versions = captured_versions(config, options.creates)
        print(f"{len(versions):,} versions captured from {options.creates:,} creates",
              flush=True)
        return {"versions": len(versions), "engines": {
            engine: engine_run(tmp, versions, engine, options.rounds)
            for engine in options.engines.split(",")}}

    return run_benchmark("search-writes", benchmark)


if __name__ == "__main__":
    sys.exit(main())
