"""`If-None-Match: *` is atomic on the S3 server under test: version numbers, PIDs and
physical specimen IDs all rely on a conditional create letting exactly one writer through.
Runs against SeaweedFS in `make test` and against Ceph RGW in `make test-ceph`."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import servers  # scripts/ is on sys.path (conftest)

from storage.objects import ObjectExists, S3ObjectStore, S3Settings

pytestmark = pytest.mark.s3
WRITERS = 16
# SeaweedFS answers the losers of such a race only after about a second, so a few rounds.
ROUNDS = 5


def test_racing_conditional_creates_of_one_key_let_exactly_one_through(s3_server):
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    servers.create_bucket(s3_server, bucket)
    # A generous read timeout: the losers' answers are slow (above), and this test is about
    # who wins, not about how long a loaded machine takes to say so.
    settings = S3Settings(s3_server.endpoint, bucket, s3_server.access_key,
                          s3_server.secret_key, s3_server.region, read_timeout=60.0)
    # One store (connection pool) per writer, as writers on separate machines have.
    stores = [S3ObjectStore(settings) for _ in range(WRITERS)]
    for round_number in range(ROUNDS):
        key = f"race/{round_number}.json"
        barrier = threading.Barrier(WRITERS)

        def write(writer: int, key: str = key, barrier: threading.Barrier = barrier) -> bool:
            body = f'{{"writer": {writer}, "padding": "{"x" * 2000}"}}'.encode()
            barrier.wait()
            try:
                stores[writer].create(key, body)
                return True
            except ObjectExists:
                return False

        with ThreadPoolExecutor(WRITERS) as pool:
            won = list(pool.map(write, range(WRITERS)))
        assert won.count(True) == 1, f"round {round_number}: {won.count(True)} winners"
        winner = won.index(True)
        assert stores[0].get(key).startswith(f'{{"writer": {winner},'.encode())
