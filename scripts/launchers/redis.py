"""Redis on loopback, the queue background jobs wait in (repository/job_queue.py).

Debian's `redis-server`, started in the foreground as our child. Durable for `make serve`
(an append-only file in its data dir, so queued jobs survive a restart); throwaway for the
tests (no file at all)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import HOST, Process, apt_install, free_port, log_tail, start_process, stop_process


@dataclass
class RedisServer:
    url: str  # redis://127.0.0.1:<port>/0
    process: Process

    def stop(self) -> None:
        stop_process(self.process, timeout=30)  # SIGTERM: Redis syncs its file and exits


def redis_installed() -> bool:
    return shutil.which("redis-server") is not None


def start_redis(data_dir: Path, port: int | None = None, durable: bool = False) -> RedisServer:
    """Redis on 127.0.0.1; installs Debian's `redis-server` as root when it is missing."""
    if not redis_installed() and os.geteuid() == 0:
        apt_install("redis-server")
    program = shutil.which("redis-server")
    if program is None:
        raise RuntimeError("Redis is not installed (Debian package 'redis-server')")
    port = port or free_port()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "redis.log"
    keep = ["--appendonly", "yes", "--appendfsync", "everysec"] if durable \
        else ["--appendonly", "no"]
    command = [program, "--port", str(port), "--bind", HOST, "--protected-mode", "yes",
               "--dir", str(data_dir), "--save", "", "--daemonize", "no", *keep]
    process = start_process(command, log=log)
    server = RedisServer(f"redis://{HOST}:{port}/0", process)
    try:
        _wait_for_redis(server, log)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_redis(server: RedisServer, log: Path, timeout: float = 30) -> None:
    import redis

    client = redis.Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.BusyLoadingError:
                pass  # loading its append-only file
            except redis.exceptions.ConnectionError as error:
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Redis did not start ({error}); log tail:\n"
                                       f"{log_tail(log)}") from None
            time.sleep(0.05)
    finally:
        client.close()
