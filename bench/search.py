"""Benchmark: search through the HTTP API at 10,000 and 100,000 specimens, on SQLite and
on PostgreSQL, and what the search index costs creates.

    make bench-search                              # = .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --sizes 2000,5000 --engines sqlite   # a quick run

For each engine, with its own SeaweedFS bucket and index (PostgreSQL started by the
project's launcher, scripts/launchers/postgres.py):
- create throughput with the search index and without it (FDO_SEARCH_INDEX=off): two
  fresh indexes, ROUNDS interleaved rounds of the same number of realistic specimens
  (with their media) each, through FDOService on 8 threads; the median rounds compared
  (target: with >= 0.85x without);
- then bench/search_data.py's repository, grown to each size in turn (specimens, 30%
  with a media object, one annotation per ten specimens), through FDOService on 8
  threads, timed; after each size (and, on PostgreSQL, VACUUM (ANALYZE) and a
  CHECKPOINT, as after any bulk load), the app under `make serve`'s gunicorn options
  (scripts/serve.py GUNICORN: 2 workers, 4 threads) answers, one request at a time from
  a separate process (bench/api_load.py, keep-alive), a mix of different requests of:
  (a) free text over every kind (`/api/v1/search?q=`: names, places, collectors,
      catalogue numbers, one to three words);
  (b) two filters and three facets on specimens;
  (d) a suggestion for the first 2-8 characters of a name or catalogue number;
  and (c), from this process over one keep-alive connection, walks of up to 10,000 hits
  by cursor (pageSize 100) in several sort orders: the first five pages' median latency
  against the last five's.
Targets: p99 <= 100 ms for (a) and (b), <= 30 ms for (d); a walk's last pages <= 1.5x
its first; p99 at the largest size within 1.5x of the smallest. Results: stdout and
bench/results/search.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import dwca_generator  # noqa: E402
import ingest  # noqa: E402
import search_data  # noqa: E402
import servers  # noqa: E402
from loadgen import bench_config, gunicorn, run_benchmark  # noqa: E402
from serve import GUNICORN  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from repository import build_service  # noqa: E402
from repository.config import Config  # noqa: E402
from repository.services import FDOService  # noqa: E402
from storage.search_tables import SearchTermRow  # noqa: E402
from tests.needs import postgres_installed  # noqa: E402

TARGETS_MS = {"free text": 100.0, "filters and facets": 100.0, "suggest": 30.0}
WALK_TARGET = 1.5  # last pages over first pages
SIZE_TARGET = 1.5  # p99 at the largest size over the smallest
WALK_PAGES, WALK_PAGE_SIZE, EDGE_PAGES = 100, 100, 5
FACETS = ("country", "typeStatus", "license", "organisation", "kingdom", "family",
          "basisOfRecord", "topicDiscipline", "hasMedia", "year")


# -- the requests: a realistic mix, drawn from what the generator writes ------------------

def free_text(rng: random.Random, count: int) -> list[str]:
    """Queries of one to three words: names, epithets, places, collectors, institutions."""
    taxa, places = dwca_generator.taxa(), dwca_generator.places()
    words = [lambda: rng.choice(taxa).genus, lambda: rng.choice(taxa).epithet,
             lambda: f"{(t := rng.choice(taxa)).genus} {t.epithet}",
             lambda: rng.choice(taxa).family, lambda: rng.choice(places)[4].split(",")[0],
             lambda: rng.choice(places)[0],
             lambda: rng.choice(dwca_generator.PEOPLE).split()[-1],
             lambda: f"{rng.choice(taxa).genus} {rng.choice(places)[0]}",
             lambda: rng.choice(("herbarium sheet", "pinned", "holotype", "skull", "label",
                                 "naturalis", "tartu", "berlin", "in ethanol"))]
    return [_path("/api/v1/search", [("q", rng.choice(words)())]) for _ in range(count)]


def filters_and_facets(rng: random.Random, count: int) -> list[str]:
    taxa, places = dwca_generator.taxa(), dwca_generator.places()
    filters = [lambda: ("kingdom", rng.choice(taxa).kingdom),
               lambda: ("family", rng.choice(taxa).family),
               lambda: ("genus", rng.choice(taxa).genus),
               lambda: ("country", rng.choice(places)[0]),
               lambda: ("countryCode", rng.choice(places)[1]),
               lambda: ("hasMedia", rng.choice(("true", "false"))),
               lambda: ("license", rng.choice((dwca_generator.CC0, dwca_generator.CC_BY))),
               lambda: ("organisationID", rng.choice(dwca_generator.INSTITUTIONS).ror),
               lambda: ("basisOfRecord", rng.choice(("PreservedSpecimen", "FossilSpecimen"))),
               lambda: ("typeStatus", rng.choice(("holotype", "paratype", "syntype"))),
               lambda: ("year", str(rng.randint(1880, 2025)))]
    paths = []
    for _ in range(count):
        first, second = rng.sample(filters, 2)
        chosen = [first(), second()] + [("facet", name) for name in rng.sample(FACETS, 3)]
        paths.append(_path("/api/v1/digital-specimens/search", chosen))
    return paths


def suggestions(rng: random.Random, count: int, catalogues: list[str]) -> list[str]:
    """Prefixes of names (most) and of catalogue numbers, 2 to 8 characters."""
    taxa = dwca_generator.taxa()
    paths = []
    for _ in range(count):
        text = (rng.choice(catalogues) if rng.random() < 0.25
                else f"{(taxon := rng.choice(taxa)).genus} {taxon.epithet}")
        paths.append(_path("/api/v1/digital-specimens/search/suggest",
                           [("prefix", text[:rng.randint(2, 8)])]))
    return paths


WALKS = {  # name -> the query walked
    "specimens, latest change first": [("sort", "-modified")],
    "animals by catalogue number": [("kingdom", "Animalia"), ("sort", "catalogueNumber")],
    "collected 1900-2025 by date": [("eventDate", "1900..2025"), ("sort", "eventDate")],
    "free text 'preserved' by relevance": [("q", "preserved")],
}


def _path(path: str, arguments: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(arguments)}"


# -- measuring ----------------------------------------------------------------------------

def latencies(tmp: Path, base_url: str, paths: list[str], threads: int = 1) -> dict[str, Any]:
    """The paths sent by bench/api_load.py (another process) on `threads` keep-alive
    connections; every answer must be 200."""
    job, out = tmp / "search-job.json", tmp / "search-result.json"
    requests = [{"method": "GET", "path": path, "headers": {"Accept": "application/json"}}
                for path in paths]
    job.write_text(json.dumps({"threads": threads, "target": {"http": base_url},
                               "requests": requests}))
    subprocess.run([sys.executable, str(BENCH / "api_load.py"), str(job), str(out)], cwd=ROOT,
                   check=True)
    answers = json.loads(out.read_text())["answers"]
    failed = [(path, answer[0]) for path, answer in zip(paths, answers, strict=True)
              if answer[0] != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} requests failed, first: {failed[0]}")
    slowest = sorted(zip(paths, (answer[1] for answer in answers), strict=True),
                     key=lambda pair: -pair[1])[:5]
    return {**summary_ms([answer[1] for answer in answers]),
            "slowest": [{"path": path, "ms": 1000 * seconds} for path, seconds in slowest]}


def summary_ms(seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    return {"requests": len(ordered), "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
            "max_ms": 1000 * ordered[-1]}


def walk(base_url: str, arguments: list[tuple[str, str]]) -> dict[str, Any]:
    """Up to WALK_PAGES pages of WALK_PAGE_SIZE hits along the cursors, timed."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    query = [*arguments, ("pageSize", str(WALK_PAGE_SIZE))]
    seconds: list[float] = []
    hits, ids, total = 0, set(), 0
    path: str | None = _path("/api/v1/digital-specimens/search", query)
    while path and len(seconds) < WALK_PAGES:
        began = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        seconds.append(time.perf_counter() - began)
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
        page = json.loads(body)
        total = page["total"]
        hits += len(page["hits"])
        ids.update(hit["pid"] for hit in page["hits"])
        cursor = page["cursor"]
        path = _path("/api/v1/digital-specimens/search", [*query, ("cursor", cursor)]) \
            if cursor else None
    connection.close()
    if len(ids) != hits:
        raise RuntimeError(f"a walk sent {hits - len(ids)} hits twice")
    complete = hits == total or len(seconds) == WALK_PAGES
    if not complete:  # reported, not raised: the other figures are still worth having
        print(f"  !! a walk ended after {hits:,} of {total:,} hits: {arguments}", flush=True)
    first = statistics.median(seconds[:EDGE_PAGES])
    last = statistics.median(seconds[-EDGE_PAGES:])
    return {"total": total, "pages": len(seconds), "hits": hits, "complete": complete,
            **summary_ms(seconds),
            "first_pages_ms": 1000 * first, "last_pages_ms": 1000 * last,
            "last_over_first": last / first}


def catalogue_numbers(fdo: FDOService, count: int) -> list[str]:
    """Catalogue numbers of random specimens (the physical IDs that are neither URNs nor
    URLs), as the index holds them."""
    term = SearchTermRow.__table__.c
    statement = (select(term.value).where(term.field == "physicalSpecimenID",
                                          ~term.key.startswith("urn:"),
                                          ~term.key.startswith("http"))
                 .order_by(func.random()).limit(count))
    with fdo.index.engine.connect() as connection:
        return list(connection.scalars(statement))


def settle(fdo: FDOService) -> None:
    """What an operator runs after a bulk load, before traffic: on PostgreSQL, VACUUM
    (ANALYZE) and a CHECKPOINT. Otherwise autovacuum and the checkpointer, woken by the
    load, run during the measurement on this 2-core machine, and the planner has no
    statistics for the tables it just filled. SQLite has neither (nothing to do)."""
    engine = fdo.index.engine
    if engine.dialect.name != "postgresql":
        return
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE)"))
        connection.execute(text("CHECKPOINT"))
    print(f"  VACUUM (ANALYZE) and CHECKPOINT: {time.perf_counter() - began:.1f} s", flush=True)


def measure_size(tmp: Path, base_url: str, catalogues: list[str], requests: int,
                 seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    mixes = {"free text": free_text(rng, requests),
             "filters and facets": filters_and_facets(rng, requests),
             "suggest": suggestions(rng, requests, catalogues)}
    # Warm up: the app's first requests (imports, statements compiled, pages cached).
    latencies(tmp, base_url, [path for paths in mixes.values() for path in paths[:20]], 2)
    results: dict[str, Any] = {}
    for name, paths in mixes.items():
        results[name] = latencies(tmp, base_url, paths)
        print(f"  {name:20s} p50 {results[name]['p50_ms']:6.1f} ms  p99 "
              f"{results[name]['p99_ms']:6.1f} ms  (target p99 <= {TARGETS_MS[name]:.0f})",
              flush=True)
    results["walks"] = {}
    for name, arguments in WALKS.items():
        found = results["walks"][name] = walk(base_url, arguments)
        print(f"  walk: {name:36s} {found['pages']:3d} pages of {found['total']:,}: first "
              f"{found['first_pages_ms']:.1f} ms, last {found['last_pages_ms']:.1f} ms "
              f"({found['last_over_first']:.2f}x), p99 {found['p99_ms']:.1f} ms", flush=True)
    return results


# -- create throughput with and without the search index ------------------------------------

def create_rate(fdo: FDOService, numbers: range) -> dict[str, float]:
    began = time.perf_counter()
    written = sum(1 + media for _, media in search_data.threaded(
        lambda number: search_data.create_specimen(fdo, number), numbers, "creates"))
    seconds = time.perf_counter() - began
    return {"objects": written, "seconds": seconds, "objects_per_s": written / seconds}


def search_index_cost(config: Config, database_urls: tuple[str, str], rounds: int,
                      size: int) -> dict[str, Any]:
    """Rounds of `size` specimens with the index and without, interleaved; medians."""
    services = {on: build_service(replace(config, database_url=url, search_index=on))
                for on, url in zip((True, False), database_urls, strict=True)}
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    try:
        for round_number in range(rounds):
            for on in (True, False):
                start = 5_000_000 + (2 * round_number + (not on)) * size
                runs[on].append(create_rate(services[on], range(start, start + size)))
    finally:
        for service in services.values():
            service.close()
    median = {on: statistics.median(run["objects_per_s"] for run in runs[on]) for on in runs}
    ratio = median[True] / median[False]
    print(f"  creates/s with the search index {median[True]:.0f}, without {median[False]:.0f}: "
          f"{ratio:.2f}x (target >= 0.85; rounds {[round(r['objects_per_s']) for r in runs[True]]}"
          f" / {[round(r['objects_per_s']) for r in runs[False]]})", flush=True)
    return {"with_per_s": median[True], "without_per_s": median[False], "ratio": ratio,
            "rounds": {"with": runs[True], "without": runs[False]}, "specimens_per_round": size}


# -- the run --------------------------------------------------------------------------------

def engine_run(tmp: Path, s3: servers.S3Server, engine: str, options: argparse.Namespace,
               postgres: Any) -> dict[str, Any]:
    folder = tmp / engine
    folder.mkdir()
    for bucket in (f"bench-{engine}", f"bench-{engine}-cost"):
        servers.create_bucket(s3, bucket)
    base = replace(bench_config(folder, s3), s3_bucket=f"bench-{engine}")
    urls = [f"sqlite:///{folder / name}.sqlite3" if postgres is None
            else postgres.create_database(name) for name in ("search", "with", "without")]
    print(f"\n{engine}: create throughput, with and without the search index", flush=True)
    cost = search_index_cost(replace(base, s3_bucket=f"bench-{engine}-cost"),
                             (urls[1], urls[2]), options.rounds, options.round_size)
    if not options.sizes:
        return {"create_cost": cost, "sizes": {}}
    config = replace(base, database_url=urls[0])
    fdo = build_service(config)
    app = gunicorn("wsgi:app", config.port, ROOT, folder / "app.log",
                   config.to_environment(), options=GUNICORN)
    loaded, sizes = search_data.Loaded(), {}
    try:
        system = ingest.source_system(config) if options.load == "ingest" else ""
        for size in options.sizes:
            print(f"\n{engine}: loading to {size:,} specimens ({options.load})", flush=True)
            if options.load == "ingest":
                search_data.load_by_ingest(fdo, loaded, size, folder, lambda archive: (
                    ingest.ingest_cli(config, archive, folder / "ingest.log", system)["report"]))
            else:
                search_data.load(fdo, loaded, size)
            settle(fdo)
            sizes[str(size)] = {"load": loaded.summary(), **measure_size(
                folder, config.base_url, catalogue_numbers(fdo, 200), options.requests, size)}
    finally:
        servers.stop_process(app.process)
        fdo.close()
    return {"create_cost": cost, "load": options.load, "sizes": sizes}


def verdicts(engines: dict[str, Any], sizes: list[int]) -> list[str]:
    """Each target, met or not, one line each."""
    lines = []
    for engine, result in engines.items():
        ratio = result["create_cost"]["ratio"]
        lines.append(f"{engine} creates with the search index: {ratio:.2f}x without "
                     f"({'met' if ratio >= 0.85 else 'NOT met'})")
        if not sizes:
            continue
        smallest, largest = (result["sizes"][str(size)] for size in (sizes[0], sizes[-1]))
        for name, target in TARGETS_MS.items():
            p99 = largest[name]["p99_ms"]
            growth = p99 / smallest[name]["p99_ms"]
            lines.append(f"{engine} {name}: p99 {p99:.1f} ms at {sizes[-1]:,} (target "
                         f"{target:.0f}: {'met' if p99 <= target else 'NOT met'}); "
                         f"{growth:.2f}x the p99 at {sizes[0]:,} "
                         f"({'met' if growth <= SIZE_TARGET else 'NOT met'})")
        worst = max(w["last_over_first"] for w in largest["walks"].values())
        lines.append(f"{engine} cursor walks: last pages at most {worst:.2f}x the first "
                     f"({'met' if worst <= WALK_TARGET else 'NOT met'})")
    return lines


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SEARCH_SIZES", "10000,100000"),
                        help="specimen counts measured at, in order (default 10000,100000)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--load", choices=("ingest", "create"), default="ingest",
                        help="specimens and media by `fdo ingest dwca` (default) or by one "
                             "FDOService.create each; annotations by FDOService.create")
    parser.add_argument("--requests", type=int, default=300, help="per kind of request")
    parser.add_argument("--rounds", type=int, default=5,
                        help="create-cost rounds (rates vary by up to 30%% between rounds here)")
    parser.add_argument("--round-size", type=int, default=1000, help="specimens per round")
    options = parser.parse_args(argv)
    # --sizes none: the create throughput alone.
    options.sizes = sorted(int(size) for size in options.sizes.split(",") if size != "none")
    options.engines = options.engines.split(",")
    return options


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)

    def benchmark(tmp: Path, s3: servers.S3Server) -> dict[str, Any]:
        engines = {}
        for engine in options.engines:
            if engine == "sqlite":
                engines[engine] = engine_run(tmp, s3, engine, options, None)
                continue
            if not postgres_installed():
                raise SystemExit("PostgreSQL is not installed: run `make postgresql` as root")
            postgres = servers.start_postgres(tmp / "pg")
            try:
                engines[engine] = engine_run(tmp, s3, engine, options, postgres)
            finally:
                postgres.stop()
        print("\n" + "\n".join(verdicts(engines, options.sizes)), flush=True)
        return {"sizes": options.sizes, "requests": options.requests, "gunicorn": GUNICORN,
                "threads": search_data.THREADS, "engines": engines}

    # One engine's run has results of its own, so the two may be run one after the other.
    name = ("search" if len(options.engines) > 1 else f"search-{options.engines[0]}") + (
        "" if options.sizes else "-cost")
    return run_benchmark(name, benchmark)


if __name__ == "__main__":
    sys.exit(main())
