"""A throwaway single-node Ceph RADOS Gateway as an S3 server (the CI compatibility run)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from .processes import HOST, Process, ensure_commands, free_ports, run_command, start_process
from .s3 import S3Server

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
    ensure_commands(CEPH_COMMANDS, CEPH_PACKAGES)
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
    run_command(["monmaptool", "--create", "--fsid", str(fsid), "--addv", "a",
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
    return run_command([command[0], "-c", str(conf), *command[1:]])


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
