"""An S3 server we started, as the app sees it: endpoint and keys, and a client for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .processes import Process, stop_process


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
