"""Start and stop the real servers the project runs against, on 127.0.0.1 only.

Used by the tests (conftest), `make serve`, the benchmarks and CI. Every server is a
child process started and stopped by PID. Also runnable:

    python scripts/servers.py seaweedfs|postgres|ceph [--data DIR] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_process(command: list[str], *, ready_url: str | None = None,
                  env: dict[str, str] | None = None, cwd: Path | None = None,
                  log: Path | None = None, timeout: float = 60) -> subprocess.Popen[bytes]:
    """Start `command`; if `ready_url` is given, wait until it answers any HTTP status."""
    if log:
        with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    else:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while ready_url:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n"
                               + (_log_tail(log) if log else ""))
        try:
            urllib.request.urlopen(ready_url, timeout=2).close()
            break
        except urllib.error.HTTPError:
            break  # it answered: ready
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"{command[0]} not ready after {timeout}s:\n"
                                   + (_log_tail(log) if log else "")) from None
            time.sleep(0.2)
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after `timeout`; only this process (by PID)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# -- S3 ---------------------------------------------------------------------------------

@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)

    def environment(self) -> dict[str, str]:
        return {"FDO_S3_ENDPOINT": self.endpoint, "FDO_S3_ACCESS_KEY": self.access_key,
                "FDO_S3_SECRET_KEY": self.secret_key, "FDO_S3_REGION": self.region}


def start_seaweedfs(data_dir: Path, port: int | None = None, access_key: str = "fdo-dev",
                    secret_key: str = "fdo-dev-secret") -> S3Server:
    """`weed mini` (master, volume, filer, S3 in one process) on loopback, telemetry off.
    Every port is chosen free, so several instances (tests, `make serve`) can coexist."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    identities = data_dir / "identities.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "fdo", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "admin")}
    command = [
        str(BIN / "weed"), "mini", f"-dir={data_dir}", f"-s3.port={port}",
        f"-s3.config={identities}", f"-ip={HOST}", f"-ip.bind={HOST}",
        "-master.telemetry=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}",
    ]
    process = start_process(command, ready_url=f"http://{HOST}:{port}/",
                            log=data_dir / "weed.log", cwd=data_dir)
    return S3Server(f"http://{HOST}:{port}", access_key, secret_key, processes=[process])


def s3_client(server: S3Server):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name=server.region,
        config=BotoConfig(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))


def create_bucket(server: S3Server, name: str) -> None:
    """Create `name` if missing. SeaweedFS may refuse for a moment after start: retry."""
    client = s3_client(server)
    for attempt in range(50):
        try:
            client.head_bucket(Bucket=name)
            return
        except ClientError:
            try:
                client.create_bucket(Bucket=name)
                return
            except ClientError:
                if attempt == 49:
                    raise
                time.sleep(0.2)


# -- PostgreSQL ---------------------------------------------------------------------------

@dataclass
class PostgresServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.process, timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin dir; installs Debian `postgresql` as root."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir() and os.geteuid() == 0:
        apt_install("postgresql")
    versions = sorted(root.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed (Debian package 'postgresql')")
    return versions[-1].parent


def apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env)


def start_postgres(data_dir: Path, port: int | None = None) -> PostgresServer:
    """A throwaway cluster: trust auth on loopback, fsync off (test data only)."""
    pg = postgres_bin()
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root, and the `postgres` user cannot enter root's
        # private temp dirs: the cluster goes to a fresh dir of its own.
        data_dir = Path(tempfile.mkdtemp(prefix="fdo-postgres-"))
        shutil.chown(data_dir, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    cluster = data_dir / "cluster"
    init = subprocess.run([*as_postgres, str(pg / "initdb"), "-D", str(cluster), "-U",
                           "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                          capture_output=True, text=True)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    command = [*as_postgres, str(pg / "postgres"), "-D", str(cluster), "-p", str(port),
               "-h", HOST, "-k", str(data_dir), "-c", "fsync=off",
               "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
               "-c", "max_connections=200"]
    process = start_process(command, log=data_dir / "postgres.log")
    _wait_for_postgres(pg, port, process, data_dir / "postgres.log")
    return PostgresServer(f"postgresql+psycopg://postgres@{HOST}:{port}/postgres", data_dir,
                          process)


def _wait_for_postgres(pg: Path, port: int, process: subprocess.Popen[bytes],
                       log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run([str(pg / "pg_isready"), "-h", HOST, "-p", str(port)],
                         capture_output=True).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"PostgreSQL did not start:\n{_log_tail(log)}")
        time.sleep(0.2)


# -- Ceph RADOS Gateway -------------------------------------------------------------------

def start_ceph_rgw(data_dir: Path, port: int | None = None, access_key: str = "fdo-dev",
                   secret_key: str = "fdo-dev-secret") -> S3Server:
    from ceph import start_ceph_cluster  # the longer recipe lives in scripts/ceph.py

    return start_ceph_cluster(data_dir, port or free_port(), access_key, secret_key)


# -- command line -------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=("seaweedfs", "postgres", "ceph"))
    parser.add_argument("--data", type=Path, default=Path("var") / "servers")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    data = args.data / args.server
    if args.server == "postgres":
        pg = start_postgres(data, args.port)
        print(f"export FDO_DATABASE_URL={pg.url}", flush=True)
        stop = pg.stop
    else:
        start = start_seaweedfs if args.server == "seaweedfs" else start_ceph_rgw
        s3 = start(data, args.port)
        for name, value in s3.environment().items():
            print(f"export {name}={value}", flush=True)
        stop = s3.stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
