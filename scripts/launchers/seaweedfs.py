"""SeaweedFS (`weed mini`) as an S3 server, every port of it picked free."""

from __future__ import annotations

import json
from pathlib import Path

from .processes import BIN, HOST, free_ports, start_process
from .s3 import S3Server

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
