"""The load generator of bench/api.py, run as a process of its own so that its CPU is not
the server's: one list of requests, sent from THREADS threads over keep-alive connections,
either to an HTTP server (a urllib3 pool) or to S3 as signed requests through the store's
own `create` and `get` (storage/objects.py: botocore's SigV4 signer on a urllib3 pool, the
fastest raw path the project has, and the one the service itself uses).

    python bench/api_load.py JOB.json RESULT.json

JOB.json: {"threads": 8, "target": {"http": "http://127.0.0.1:PORT"} or {"s3": {the
fields of storage.objects.S3Settings}}, "requests": [{"method", "path", "headers",
"body"}]}; for S3, "path" is the key, and only PUT (a conditional create) and GET exist.
RESULT.json: {"seconds": wall time of the whole list, "cpu_seconds": this process's CPU
time meanwhile (all threads: near "seconds", a whole core, and it was the limit, not the
server), "answers": [[status, seconds, ETag, Location], ...]} in the order of the
requests. Nothing is checked here: the caller
looks at the statuses.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.objects import (  # noqa: E402
    ObjectExists,
    ObjectMissing,
    S3ObjectStore,
    S3Settings,
)

Request = dict[str, Any]
Answer = tuple[int, str | None, str | None]  # status, ETag, Location


def http_sender(url: str, threads: int) -> Callable[[Request], Answer]:
    """Requests on one keep-alive pool of `threads` connections (block: never more)."""
    parts = urlsplit(url)
    pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=threads, block=True,
                                      timeout=urllib3.Timeout(connect=10, read=120),
                                      retries=False)

    def send(request: Request) -> Answer:
        body = request.get("body")
        response = pool.urlopen(request["method"], request["path"],
                                body=body.encode() if body is not None else None,
                                headers=request.get("headers") or {})
        return response.status, response.headers.get("ETag"), response.headers.get("Location")

    return send


def s3_sender(settings: dict[str, str]) -> Callable[[Request], Answer]:
    """Signed PUTs (If-None-Match: *, Content-MD5, as every version is written) and GETs."""
    store = S3ObjectStore(S3Settings(**settings))

    def send(request: Request) -> Answer:
        try:
            if request["method"] == "PUT":
                store.create(request["path"], request["body"].encode())
            elif request["method"] == "GET":
                store.get(request["path"])
            else:
                raise ValueError(f"S3 requests are PUT or GET, not {request['method']}")
        except ObjectExists:
            return 412, None, None
        except ObjectMissing:
            return 404, None, None
        return 200, None, None

    return send


def sender(target: dict[str, Any], threads: int) -> Callable[[Request], Answer]:
    if "http" in target:
        return http_sender(target["http"], threads)
    return s3_sender(target["s3"])


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Every request of the job on its threads: the wall time and each answer."""
    threads = int(job["threads"])
    send = sender(job["target"], threads)

    def timed(request: Request) -> list[Any]:
        began = time.perf_counter()
        status, etag, location = send(request)
        return [status, time.perf_counter() - began, etag, location]

    with ThreadPoolExecutor(threads) as pool:
        began, cpu = time.perf_counter(), time.process_time()
        answers = list(pool.map(timed, job["requests"]))
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "answers": answers}


def main() -> int:
    job_file, result_file = sys.argv[1:3]
    result = run(json.loads(Path(job_file).read_text()))
    Path(result_file).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
