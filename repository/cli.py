"""The `fdo` command: init, source systems, ingest, demo data, and the S3-is-truth
tools (tokens and grants: repository/access_cli.py). It acts as the repository itself: no
token is asked for."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from repository import build_service, errors
from repository.access import trusted
from repository.access_cli import add_access_commands
from repository.config import Config
from repository.demo import load_demo
from repository.dump_writer import DumpError, DumpOptions, export, publish
from repository.ingest.datasets import DATASET_FORMATS, open_dataset
from repository.ingest.dwca import ArchiveError
from repository.ingest.mapping import ORGANISATION
from repository.ingest.report import Listing, write_report
from repository.ingest.run import TooManyMissing, run
from repository.integrity import IntegrityReport, rebuild_index, reconcile, verify
from repository.provenance import Agent
from repository.services import FDOService
from repository.source_systems import (
    TRANSLATOR_TYPES,
    create_source_system,
    resolve_source_system,
)
from schemas import KINDS
from storage.objects import S3ObjectStore


def _service() -> FDOService:
    return build_service(Config.from_environment())


def cmd_init(_: argparse.Namespace) -> int:
    """Create the bucket and the index tables (both idempotent)."""
    fdo = _service()
    if isinstance(fdo.store, S3ObjectStore):
        fdo.store.ensure_bucket()
    fdo.index.create_schema()
    print("bucket and index ready")
    return 0


def cli_agent(base_url: str) -> Agent:
    """Who the provenance names for a change made with this command."""
    return Agent(id=f"{base_url}/agents/fdo-cli", name="fdo command line", role="machine")


def cmd_source_systems_create(args: argparse.Namespace) -> int:
    """Create a source system; its PID URL is printed last (ingest names it so)."""
    fdo = _service()
    try:
        created = create_source_system(fdo, trusted(cli_agent(fdo.base_url)), args.name,
                                       args.organisation, args.url, args.format, args.license)
    except errors.FDOError as error:
        problems = "; ".join(f"{item['path']}: {item['message']}" for item in error.errors)
        print(f"fdo: {error}{': ' + problems if problems else ''}", file=sys.stderr)
        return 2
    finally:
        fdo.close()
    print(f"source system {created.name!r} of {created.organisation_id}", file=sys.stderr)
    print(created.pid_url)
    return 0


def _print_report(report: IntegrityReport, what: str) -> int:
    for problem in report.problems:
        print(problem)
    for pid in report.completed:
        print(f"{pid}: an interrupted approval completed (its decision version written)")
    for pid in report.searched:
        print(f"{pid}: search entry written again (a write stopped before it)")
    print(f"{what}: {report.checked} versions checked, {report.adopted} indexed, "
          + (f"{len(report.completed)} approval(s) completed, " if report.completed else "")
          + (f"{len(report.searched)} search entries written again, "
             if report.searched else "")
          + f"{len(report.problems)} problem(s)", file=sys.stderr)
    return 1 if report.problems else 0


def cmd_verify(_: argparse.Namespace) -> int:
    fdo = _service()
    return _print_report(verify(fdo.reader, fdo.index), "verify")


def cmd_rebuild_index(_: argparse.Namespace) -> int:
    fdo = _service()
    return _print_report(rebuild_index(fdo), "rebuild-index")


def cmd_reconcile(_: argparse.Namespace) -> int:
    fdo = _service()
    return _print_report(reconcile(fdo), "reconcile")


def cmd_load_demo(args: argparse.Namespace) -> int:
    loaded = load_demo(_service(), Path(args.directory) if args.directory else None)
    print(json.dumps(loaded, indent=2))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a bulk dump (and with --publish, upload it for /dumps/)."""
    config = Config.from_environment()
    fdo = build_service(config)
    options = DumpOptions(all_versions=args.all_versions, kind=args.kind, since=args.since,
                          max_file_bytes=args.max_file_mb * 1024 * 1024)
    try:
        manifest = export(fdo.reader, fdo.index, config.base_url, Path(args.out), options)
        published = publish(fdo.store, Path(args.out)) if args.publish else None
    except DumpError as error:
        print(f"fdo export: {error}", file=sys.stderr)
        return 2
    finally:
        fdo.close()
    print(json.dumps({"feedPosition": manifest["feedPosition"], "counts": manifest["counts"],
                      "files": len(manifest["files"]), "published": published}))
    return 0


class Progress:
    """Records done, records/s and the time left, on one line of a terminal's stderr, at
    most twice a second; silent when stderr is not a terminal or under CI."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty() and not os.environ.get("CI")
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.shown or (now - self.last < 0.5 and done < total):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = int((total - done) / rate) if rate else 0
        print(f"\r  {done:,}/{total:,} records  {rate:,.0f}/s  ETA {left // 60}:{left % 60:02d}",
              end="\n" if done >= total else "", file=sys.stderr, flush=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest a dataset (a format of DATASET_FORMATS); prints the report as JSON, rejected
    and missing records included."""
    config = Config.from_environment()
    fdo = build_service(config, bulk=True)
    with Listing() as listing:
        try:
            system = resolve_source_system(fdo, args.source_system, "source-system")
            system.check_organisation(args.organisation, "organisation")
            with contextlib.ExitStack() as stack:
                dataset = open_dataset(stack, args.ingest_command,
                                       [Path(path) for path in args.paths])
                report = run(fdo, dataset, system.ingest_source(args.license), listing,
                             dry_run=args.dry_run, tombstone_missing=args.tombstone_missing,
                             force=args.force, max_share=config.tombstone_max_share,
                             progress=Progress())
        except (ArchiveError, OSError, errors.FDOError) as error:
            print(f"fdo ingest: {error}", file=sys.stderr)
            return 2
        except TooManyMissing as error:
            print(f"fdo ingest: {error}", file=sys.stderr)
            return 1
        finally:
            fdo.close()
        write_report(report, listing, sys.stdout)
    print(report.readable(), file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from repository.worker import run_worker  # dramatiq only where jobs are run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return run_worker(Config.from_environment(), args.threads, args.stop_timeout)


def organisation_id(text: str) -> str:
    if not ORGANISATION.match(text):
        raise argparse.ArgumentTypeError(f"not a ROR or Wikidata URL: {text!r}")
    return text


def since_time(text: str) -> str:
    """A date or an ISO 8601 date-time (UTC if it names no zone), in the index's form."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or date-time: {text!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="fdo", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the bucket and the index").set_defaults(
        run=cmd_init)
    add_access_commands(commands)
    commands.add_parser("verify", help="re-hash every version, walk every chain").set_defaults(
        run=cmd_verify)
    commands.add_parser("rebuild-index", help="recreate the index from S3 alone").set_defaults(
        run=cmd_rebuild_index)
    commands.add_parser("reconcile", help="index versions S3 has and the index lacks"
                        ).set_defaults(run=cmd_reconcile)
    worker = commands.add_parser("worker", help="run background jobs from the queue "
                                 "(ingest uploads, annotation batches) until stopped")
    worker.add_argument("--threads", type=positive, default=1,
                        help="jobs run at once by this process (default 1)")
    worker.add_argument("--stop-timeout", type=positive, default=30,
                        help="seconds a stop waits for running jobs before leaving them to "
                             "another worker (default 30)")
    worker.set_defaults(run=cmd_worker)
    demo = commands.add_parser("load-demo", help="load demo records into an empty repository")
    demo.add_argument("directory", nargs="?",
                      help="a folder of openDS JSON records (instead of the built-in demo)")
    demo.set_defaults(run=cmd_load_demo)
    dump = commands.add_parser("export", help="write a bulk dump: gzip NDJSON + manifest")
    dump.add_argument("--out", required=True, help="a new or empty folder")
    dump.add_argument("--all-versions", action="store_true",
                      help="every version with its provenance, not only the latest")
    dump.add_argument("--kind", choices=sorted(KINDS))
    dump.add_argument("--since", type=since_time, help="only versions made since this time")
    dump.add_argument("--max-file-mb", type=positive, default=256,
                      help="start a new file once one passes this size (default 256)")
    dump.add_argument("--publish", action="store_true",
                      help="upload the dump to S3, listed at /dumps/")
    dump.set_defaults(run=cmd_export)
    systems = commands.add_parser("source-systems", help="where datasets come from"
                                  ).add_subparsers(dest="systems_command", required=True)
    system = systems.add_parser("create", help="create a source system and print its PID")
    system.add_argument("--name", required=True, help="as its records will carry it")
    system.add_argument("--organisation", type=organisation_id, required=True,
                        help="ROR or Wikidata URL of the organisation it belongs to")
    system.add_argument("--url", help="where its dataset can be fetched")
    system.add_argument("--format", choices=sorted(TRANSLATOR_TYPES),
                        help="the format its dataset comes in")
    system.add_argument("--license", help="licence of its records that name none")
    system.set_defaults(run=cmd_source_systems_create)
    ingest = commands.add_parser("ingest", help="enrol a dataset").add_subparsers(
        dest="ingest_command", required=True)
    for dataset_format in DATASET_FORMATS.values():
        command = ingest.add_parser(dataset_format.name, help=dataset_format.description)
        command.add_argument("paths", nargs=1 if dataset_format.one_file else "+",
                          metavar="path" if dataset_format.one_file else "paths")
        command.add_argument("--source-system", required=True,
                             help="the source system's PID (fdo source-systems create)")
        command.add_argument("--organisation", type=organisation_id,
                             help="the source system's organisation, if you want it checked")
        command.add_argument("--license", help="licence of records that name none (default: "
                                               "the source system's)")
        command.add_argument("--dry-run", action="store_true", help="map and check, write nothing")
        command.add_argument("--tombstone-missing", action="store_true",
                             help="tombstone this source system's specimens the dataset no "
                                  "longer has")
        command.add_argument("--force", action="store_true",
                             help="with --tombstone-missing: even more than "
                                  "FDO_TOMBSTONE_MAX_SHARE of them")
        command.set_defaults(run=cmd_ingest)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
