"""A throwaway PostgreSQL cluster on loopback, run as the `postgres` user when we are root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .processes import (
    HOST,
    Process,
    apt_install,
    free_port,
    log_tail,
    run_command,
    start_process,
    stop_process,
)


@dataclass
class PostgresServer:
    url: str  # SQLAlchemy URL of the `postgres` database
    process: Process
    cluster: Path
    remove_cluster: bool = False  # it is in a temp dir outside data_dir (see _cluster_dir)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every
        # client, e.g. a pool someone forgot to dispose, to disconnect.
        stop_process(self.process, timeout=30, sig=signal.SIGINT)
        if self.remove_cluster:
            shutil.rmtree(self.cluster.parent, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(_libpq_url(self.url), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url.rsplit("/", 1)[0] + f"/{name}"


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin dir; installs Debian `postgresql` as root."""
    root = Path("/usr/lib/postgresql")
    if not list(root.glob("*/bin/postgres")) and os.geteuid() == 0:
        apt_install("postgresql")
    found = sorted(root.glob("*/bin/postgres"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package 'postgresql')")
    return found[-1].parent


def start_postgres(data_dir: Path, port: int | None = None) -> PostgresServer:
    """A throwaway cluster: loopback only, trust auth, fsync off (test data only).
    Reuses the cluster in data_dir if there is one, so `make serve` keeps its data."""
    pg = postgres_bin()
    port = port or free_port()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    cluster, temporary = _cluster_dir(data_dir)
    if not (cluster / "PG_VERSION").exists():
        run_command([str(pg / "initdb"), "-D", str(cluster), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"], cwd=cluster.parent, **_as_postgres())
    log = data_dir / "postgres.log"  # we open it, so it may be in a dir of ours
    command = [str(pg / "postgres"), "-D", str(cluster), "-p", str(port),
               "-c", f"listen_addresses={HOST}",
               "-c", f"unix_socket_directories={_socket_dir(cluster.parent, port)}",
               "-c", "fsync=off", "-c", "synchronous_commit=off",
               "-c", "full_page_writes=off", "-c", "max_connections=200"]
    process = start_process(command, log=log, cwd=cluster.parent, **_as_postgres())
    server = PostgresServer(f"postgresql+psycopg://postgres@{HOST}:{port}/postgres",
                            process, cluster, remove_cluster=temporary)
    try:
        _wait_for_postgres(server, log)
    except BaseException:
        server.stop()
        raise
    return server


def _as_postgres() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root, run its programs as the `postgres`
    user. Popen's user= (not runuser) so that the PID we hold is the postmaster itself."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _cluster_dir(data_dir: Path) -> tuple[Path, bool]:
    """data_dir/cluster, owned by `postgres` when we are root. If `postgres` cannot
    reach data_dir (pytest's tmp dirs live under a 0700 root-owned dir), use a temp dir
    of its own instead and remove it on stop."""
    if os.geteuid() != 0:
        return data_dir / "cluster", False
    shutil.chown(data_dir, "postgres", "postgres")
    reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(data_dir)],
                               check=False).returncode == 0
    if reachable:
        return data_dir / "cluster", False
    parent = Path(tempfile.mkdtemp(prefix="fdo-postgres-"))
    shutil.chown(parent, "postgres", "postgres")
    (data_dir / "cluster-is-at").write_text(f"{parent}\n")  # for whoever looks in data_dir
    return parent / "cluster", True


def _socket_dir(directory: Path, port: int) -> str:
    """The unix socket lives in our own dir, not /var/run/postgresql; none at all if the
    path would pass the 107-byte limit of a socket address."""
    return str(directory) if len(f"{directory}/.s.PGSQL.{port}.lock") < 100 else ""


def _wait_for_postgres(server: PostgresServer, log: Path, timeout: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(_libpq_url(server.url), connect_timeout=2).close()
            return
        except psycopg.OperationalError as error:  # refused, or "starting up"
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start ({error}); log tail:\n"
                                   f"{log_tail(log)}") from None
            time.sleep(0.1)
