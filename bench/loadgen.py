"""Servers under load for bench/resolver.py: gunicorn apps, their worker processes (from
/proc), a warm-up through every worker, and wrk runs with the servers' CPU per request.

Everything is on 127.0.0.1; every process is ours and stopped by its PID.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import servers

from repository.config import Config

BENCH = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
# On a 2-core machine one wrk thread is plenty (it is C) and leaves more CPU to the servers.
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "1"))
CONNECTIONS = 8
# --reuse-port: each worker listens on its own socket and the kernel spreads connections
# over them; on one shared socket a race to accept() decides, and measured here it often
# gave every wrk connection to one worker (half the throughput, at random).
GUNICORN = ["--worker-class", "gthread", "--workers", "2", "--threads", "4",
            "--keep-alive", "30", "--log-level", "warning", "--reuse-port"]
Request = tuple[str, str]  # (path, Accept)
SERVER_HEADERS = {"date", "server", "connection", "keep-alive"}  # gunicorn adds its own


# -- a benchmark's run -----------------------------------------------------------------

def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the servers in order, as Ctrl-C does


def run_benchmark(name: str,
                  benchmark: Callable[[Path, servers.S3Server], dict[str, Any]]) -> int:
    """`benchmark` in a temporary folder with its own SeaweedFS (stopped however it ends);
    its summary goes to bench/results/<name>.json."""
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix=f"fdo-bench-{name}-") as folder:
        tmp = Path(folder)
        s3 = servers.start_seaweedfs(tmp / "s3")
        try:
            summary = benchmark(tmp, s3)
        finally:
            s3.stop()
    out = BENCH / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(summary, indent=2))
    print(f"\nresults: {out / (name + '.json')}")
    return 0


def bench_config(tmp: Path, s3: servers.S3Server, **settings: Any) -> Config:
    """The repository's config for a benchmark: its own bucket on `s3`, a SQLite index in
    `tmp`, a base URL on a free port of 127.0.0.1."""
    servers.create_bucket(s3, "bench")
    port = servers.free_port()
    return replace(Config(), base_url=f"http://127.0.0.1:{port}", s3_endpoint=s3.endpoint,
                   s3_bucket="bench", s3_access_key=s3.access_key,
                   s3_secret_key=s3.secret_key, s3_region=s3.region,
                   database_url=f"sqlite:///{tmp}/index.sqlite3", port=port, **settings)


# -- servers --------------------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    port: int
    process: servers.Process


def gunicorn(target: str, port: int, cwd: Path, log: Path,
             env: dict[str, str] | None = None, options: list[str] = GUNICORN) -> Served:
    command = [sys.executable, "-m", "gunicorn", target, "--bind", f"127.0.0.1:{port}",
               *options]
    return Served(port, servers.start_process(
        command, env={**os.environ, **(env or {})}, cwd=cwd, log=log,
        ready_url=f"http://127.0.0.1:{port}/health", timeout=120))


def workers(master: int) -> list[int]:
    """The worker processes of a gunicorn master (its children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return sorted(found)


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _server_ends(port: int, client_port: int | None = None) -> set[str]:
    """Socket inodes of the server ends of established connections to 127.0.0.1:port."""
    ends = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state, inode = (line.split()[i] for i in (1, 2, 3, 9))
        if local == f"0100007F:{port:04X}" and state == "01" and (
                client_port is None or remote == f"0100007F:{client_port:04X}"):
            ends.add(inode)
    return ends


def connection_split(server: Served) -> list[int]:
    """How many established connections each worker holds."""
    ends = _server_ends(server.port)
    return [len(_socket_inodes(pid) & ends) for pid in workers(server.process.pid)]


def serving_worker(connection: http.client.HTTPConnection, server: Served) -> int | None:
    """Which worker holds the server end of this keep-alive connection."""
    assert connection.sock is not None
    ends = _server_ends(server.port, connection.sock.getsockname()[1])
    return next((pid for pid in workers(server.process.pid) if _socket_inodes(pid) & ends),
                None)


def one_connection_per_worker(server: Served, probe: str) -> list[http.client.HTTPConnection]:
    """Keep-alive connections until every worker holds one: a warm-up through them
    reaches every worker's in-process caches, whatever the kernel's accept order."""
    pids = workers(server.process.pid)
    held: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("GET", probe)
        connection.getresponse().read()
        pid = serving_worker(connection, server)
        if pid is None or pid in held:
            connection.close()
        else:
            held[pid] = connection
        if len(held) == len(pids):
            return list(held.values())
    raise RuntimeError(f"could not reach every worker: {pids}, got {list(held)}")


def warm_up(server: Served, requests: list[Request]) -> list[dict[str, Any]]:
    """Every request through every worker; returns the answers (of the first worker)."""
    connections = one_connection_per_worker(server, requests[0][0])

    def walk(connection: http.client.HTTPConnection) -> list[dict[str, Any]]:
        answers = []
        for path, accept in requests:
            connection.request("GET", path, headers={"Accept": accept})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} ({accept}) answered {response.status}: {body[:300]!r}")
            answers.append({"path": path, "accept": accept, "status": response.status,
                            "content_type": response.getheader("Content-Type", ""),
                            "headers": [(name, value) for name, value in response.getheaders()
                                        if name.lower() not in SERVER_HEADERS],
                            "body": base64.b64encode(body).decode()})
        connection.close()
        return answers

    with ThreadPoolExecutor(len(connections)) as pool:
        return list(pool.map(walk, connections))[0]


# -- wrk ------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text}")
    return float(match[1]) * UNITS[match[2]]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(server: Served, paths: Path, accept: str, others: list[int]) -> dict[str, Any]:
    """A wrk run in which the workers hold 4:4 or 5:3 of the connections: the kernel
    spreads them at random, and a worker with one or none leaves a core idle (measured:
    half the throughput). Up to three tries; the split is reported with the result."""
    for _ in range(3):
        result = _wrk_once(server, paths, accept, others)
        if min(result["split"]) >= CONNECTIONS // 2 - 1:  # 4:4 or 5:3
            break
        print(f"  (connections split {result['split']} over the workers: again)", flush=True)
    return result


def _wrk_once(server: Served, paths: Path, accept: str, others: list[int]) -> dict[str, Any]:
    """One wrk run; also the server's CPU per request and how busy `others` were (noise)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency",
               "--timeout", "10s", "-s", str(BENCH / "resolver.lua"),
               f"http://127.0.0.1:{server.port}", "--", str(paths), accept]
    pids = workers(server.process.pid)
    before = cpu_seconds(pids), cpu_seconds(others)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        time.sleep(min(1.0, SECONDS / 3))  # all connections are open by then
        split = connection_split(server)
        out = process.communicate(timeout=SECONDS + 60)[0]
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out}")
    used = cpu_seconds(pids) - before[0], cpu_seconds(others) - before[1]
    result = parse_wrk(out)
    return {**result, "cpu_ms_per_request": 1000 * used[0] / result["requests"],
            "others_cpu_percent": 100 * used[1] / SECONDS, "split": split}


def parse_wrk(out: str) -> dict[str, Any]:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    count = re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    if not rps or not count or len(percentiles) != 2:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"rps": float(rps[1]), "requests": int(count[1]), "p50_ms": _ms(percentiles["50"]),
            "p99_ms": _ms(percentiles["99"]), "non_2xx": int(bad[1]) if bad else 0,
            "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0}
