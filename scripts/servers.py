"""Start and stop the real servers the project runs against, on 127.0.0.1 only.

Used by the tests (conftest), `make serve`, the benchmarks and CI. Every server is a
child process of ours, started in the foreground and stopped by its PID: nothing is
daemonized, nothing is found or killed by name. Also runnable:

    python scripts/servers.py seaweedfs|postgres|redis|ceph [--data DIR] [--port N]

which prints `export NAME=value` lines and runs until SIGINT or SIGTERM.
Why each setting: docs/testing.md, "The real servers". The launchers themselves live in
scripts/launchers/, one module per server; this module is the one name callers import.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from launchers.ceph import ceph_installed, start_ceph_rgw
from launchers.oidc import OidcServer, start_oidc
from launchers.postgres import PostgresServer, start_postgres
from launchers.processes import (
    HOST,
    Process,
    free_port,
    free_ports,
    run_command,
    start_process,
    stop_process,
    wait_http,
)
from launchers.redis import RedisServer, redis_installed, start_redis
from launchers.s3 import S3Server, create_bucket, s3_client, wait_for_s3
from launchers.seaweedfs import start_seaweedfs

__all__ = ["HOST", "OidcServer", "PostgresServer", "Process", "RedisServer", "S3Server",
           "ceph_installed", "create_bucket", "free_port", "free_ports", "redis_installed",
           "run_command", "s3_client", "start_ceph_rgw", "start_oidc", "start_postgres",
           "start_process", "start_redis", "start_seaweedfs", "stop_process", "wait_for_s3",
           "wait_http"]


# -- command line -------------------------------------------------------------------------

def _start_from_cli(kind: str, data: Path, port: int | None) -> tuple[dict[str, str],
                                                                   Callable[[], None]]:
    if kind == "postgres":
        postgres = start_postgres(data, port)
        return {"FDO_DATABASE_URL": postgres.url}, postgres.stop
    if kind == "redis":
        queue = start_redis(data, port, durable=True)
        return {"FDO_QUEUE_URL": queue.url}, queue.stop
    start = start_seaweedfs if kind == "seaweedfs" else start_ceph_rgw
    s3 = start(data, port)
    return s3.environment(), s3.stop


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("server", choices=("seaweedfs", "postgres", "redis", "ceph"))
    parser.add_argument("--data", type=Path, help="data dir (default: var/servers/SERVER)")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    data = args.data or Path("var") / "servers" / args.server
    if args.server == "ceph" and data.exists():
        shutil.rmtree(data)  # a Ceph cluster is throwaway: its OSD kept its data in RAM
    # SIGTERM ends the wait below like Ctrl-C does, so both stop the server in order.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    environment, stop = _start_from_cli(args.server, data, args.port)
    print(f"# {args.server} ready in {time.monotonic() - started:.1f}s; data in {data}",
          flush=True)
    for name, value in environment.items():
        print(f"export {name}={value}", flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
