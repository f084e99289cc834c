"""Real servers for the tests: SeaweedFS (or Ceph RGW with FDO_TEST_S3=ceph) and PostgreSQL.

Each test gets its own bucket and its own index database, so tests never see each other's
objects. A server or browser that is missing or cannot start fails the run; no test skips.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import servers  # noqa: E402

from repository import build_service, create_app  # noqa: E402
from repository.config import Config  # noqa: E402
from repository.services import FDOService  # noqa: E402
from repository.tokens import create_token  # noqa: E402
from repository.worker import Worker  # noqa: E402
from tests.material import require_shared  # noqa: E402
from tests.needs import postgres_installed, require  # noqa: E402


@pytest.fixture(autouse=True)
def _upstream_material(request: pytest.FixtureRequest) -> None:
    """Tests of the upstream material fail, first thing, when it is missing."""
    if request.node.get_closest_marker("upstream"):
        require_shared()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.S3Server]:
    data = tmp_path_factory.mktemp("s3")
    if os.environ.get("FDO_TEST_S3") == "ceph":
        server = servers.start_ceph_rgw(data)
    else:
        server = servers.start_seaweedfs(data)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.PostgresServer]:
    require(postgres_installed(), "PostgreSQL", "run `make postgresql` as root")
    server = servers.start_postgres(tmp_path_factory.mktemp("pg"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RedisServer]:
    """The job queue's Redis; each test's config has its own namespace in it."""
    require(servers.redis_installed(), "Redis", "run `make redis` as root")
    server = servers.start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    pg: servers.PostgresServer = request.getfixturevalue("postgres_server")
    return pg.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def config(s3_server: servers.S3Server, database_url: str,
           redis_server: servers.RedisServer) -> Config:
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    servers.create_bucket(s3_server, bucket)
    return replace(
        Config(),
        base_url="http://fdo.test",
        database_url=database_url,
        s3_endpoint=s3_server.endpoint,
        s3_bucket=bucket,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
        s3_region=s3_server.region,
        max_body=64 * 1024,
        secret_key=uuid.uuid4().hex,  # per test: a token signed under another fails
        queue_url=redis_server.url,
        queue_namespace=f"t-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture
def service(config: Config) -> Iterator[FDOService]:
    fdo = build_service(config)
    yield fdo
    fdo.close()


@pytest.fixture
def make_app() -> Iterator[Callable[[Config], Flask]]:
    """Apps for variations of the config; their database connections closed afterwards."""
    made: list[Flask] = []

    def make(config: Config) -> Flask:
        made.append(create_app(config))
        return made[-1]

    yield make
    for app in made:
        app.extensions["fdo"].close()
        app.extensions["jobs"].queue.close()


@pytest.fixture
def start_worker() -> Iterator[Callable[[Config], Worker]]:
    """`fdo worker`'s Worker for a config, run on threads of the test process (the tests
    that kill workers run `fdo worker` itself); stopped afterwards."""
    started: list[Worker] = []

    def start(config: Config, threads: int = 1) -> Worker:
        started.append(Worker(config, threads))
        started[-1].start()
        return started[-1]

    yield start
    for worker in started:
        worker.stop(timeout=30)


@pytest.fixture
def job_worker(config: Config, start_worker: Callable[[Config], Worker]) -> Worker:
    """A worker running the jobs the test's app queues."""
    return start_worker(config)


@pytest.fixture
def app(config: Config, make_app: Callable[[Config], Flask]) -> Flask:
    return make_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> str:
    fdo: FDOService = app.extensions["fdo"]
    return create_token(fdo.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def serve_app(config: Config, port: int, workers: int = 2) -> servers.Process:
    """The app under a real gunicorn on 127.0.0.1:`port`, four threads per worker, once it
    answers /health. The caller stops it (`servers.stop_process`)."""
    env = {**os.environ, **config.to_environment()}
    return servers.start_process(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", "4", "--log-level", "warning"],
        env=env, cwd=ROOT, ready_url=f"http://127.0.0.1:{port}/health")


@pytest.fixture
def gunicorn(config: Config) -> Iterator[str]:
    """The app under a real gunicorn on 127.0.0.1: two worker processes, four threads each."""
    port = servers.free_port()
    process = serve_app(config, port)
    yield f"http://127.0.0.1:{port}"
    servers.stop_process(process)


@pytest.fixture
def live(config: Config) -> Iterator[FDOService]:
    """The whole app under a real gunicorn on 127.0.0.1 whose base URL is its own address,
    so the URLs it serves (`@id`s, links) resolve back to it: what real clients need.
    Yields the service writing to the same bucket and index; its `base_url` is the
    server's address."""
    port = servers.free_port()
    served = replace(config, base_url=f"http://127.0.0.1:{port}")
    fdo = build_service(served)
    process = serve_app(served, port, workers=1)
    yield fdo
    servers.stop_process(process)
    fdo.close()
