"""The launchers in scripts/servers.py start real servers that answer like the app needs.

Each test starts its own server in tmp_path (not the session's, which conftest owns), so a
broken launcher fails here with its own message. With CI=true a missing server is a
failure, never a skip.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import servers  # scripts/ is on sys.path (conftest)
from botocore.exceptions import ClientError

from repository.job_queue import JobQueue
from tests.needs import postgres_installed, require


def _round_trip(server: servers.S3Server) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    servers.create_bucket(server, bucket)
    servers.create_bucket(server, bucket)  # idempotent
    client = servers.s3_client(server)
    client.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}')
    assert client.get_object(Bucket=bucket, Key="a/b.json")["Body"].read() == b'{"x": 1}'
    client.put_object(Bucket=bucket, Key="new", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key="new", Body=b"second", IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.get_object(Bucket=bucket, Key="new")["Body"].read() == b"first"


def _stopped(server: servers.S3Server) -> bool:
    return all(process.poll() is not None for process in server.processes)


@pytest.fixture
def seaweedfs(tmp_path: Path) -> Iterator[servers.S3Server]:
    server = servers.start_seaweedfs(tmp_path / "weed")
    yield server
    server.stop()


@pytest.mark.s3
def test_seaweedfs_round_trip_and_conditional_put(seaweedfs: servers.S3Server) -> None:
    assert seaweedfs.endpoint.startswith("http://127.0.0.1:")
    _round_trip(seaweedfs)


@pytest.mark.s3
def test_two_seaweedfs_run_side_by_side_and_stop_cleanly(
        seaweedfs: servers.S3Server, tmp_path: Path) -> None:
    """Tests and `make serve` run at once: no fixed port may be shared."""
    other = servers.start_seaweedfs(tmp_path / "other")
    try:
        _round_trip(other)
    finally:
        other.stop()
    assert _stopped(other)
    assert not [path for path in other.leftovers if path.exists()]  # no stale gRPC sockets
    _round_trip(seaweedfs)


@pytest.mark.postgres
def test_postgres_starts_and_creates_databases(tmp_path: Path) -> None:
    require(postgres_installed(), "PostgreSQL", "run `make postgresql` as root")
    server = servers.start_postgres(tmp_path / "pg")
    try:
        url = server.create_database("t_servers")
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql", 1)) as connection:
            row = connection.execute("SELECT 1, current_database(), current_setting("
                                     "'listen_addresses')").fetchone()
        assert row == (1, "t_servers", "127.0.0.1")
    finally:
        server.stop()
    assert server.process.poll() is not None


def test_make_serves_redis_keeps_queued_jobs_across_a_restart(tmp_path: Path) -> None:
    """The bundled Redis is durable (an append-only file): a job queued before a restart
    is still waiting after it, on loopback only."""
    require(servers.redis_installed(), "Redis", "run `make redis` as root")
    port = servers.free_port()
    server = servers.start_redis(tmp_path / "redis", port, durable=True)
    try:
        assert server.url == f"redis://127.0.0.1:{port}/0"
        queue = JobQueue(server.url, "fdo")
        queue.send("d1c3f0a2-5b6e-4c7d-8e9f-0a1b2c3d4e5f")
        queue.close()
    finally:
        server.stop()
    assert server.process.poll() is not None
    again = servers.start_redis(tmp_path / "redis", port, durable=True)
    try:
        queue = JobQueue(again.url, "fdo")
        assert queue.waiting() == 1
        assert queue.client.config_get("bind")["bind"] == "127.0.0.1"
        queue.close()
    finally:
        again.stop()


@pytest.mark.ceph
@pytest.mark.timeout(120)
def test_ceph_rgw_round_trip_and_conditional_put(tmp_path: Path) -> None:
    require(servers.ceph_installed(), "Ceph RGW (Debian radosgw, ceph-mon, ceph-osd)",
            "run `make ceph` as root")
    server = servers.start_ceph_rgw(tmp_path / "ceph")
    try:
        _round_trip(server)
    finally:
        server.stop()
    assert _stopped(server)


def test_free_ports_are_distinct() -> None:
    ports = servers.free_ports(20)
    assert len(set(ports)) == 20


def test_a_server_that_does_not_come_up_says_why(tmp_path: Path) -> None:
    false = shutil.which("false")
    assert false
    with pytest.raises(RuntimeError, match="exited with 1"):
        servers.start_process([false], ready_url=f"http://127.0.0.1:{servers.free_port()}/",
                              log=tmp_path / "false.log", timeout=5)
