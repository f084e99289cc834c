"""The object store: write-once JSON blobs in S3.

Only three outcomes of an S3 call mean something to the layers above: the object is
missing (`ObjectMissing`), a conditional create found the key taken (`ObjectExists`), or
it worked; anything else is the store being unavailable (`StoreRequestFailed`, or
boto3's errors). Errors are translated here, at the edge, and nowhere else.

Versions are written and read (`create`, `get`) without boto3: each request is signed
with botocore's own SigV4 signer and sent on urllib3's connection pool. boto3's per-call
machinery (events, parameter validation, response parsing) cost 1.1 ms of CPU per GET,
the signed GET 0.44 ms, so 8 threads read 1,655 objects/s instead of 745 from SeaweedFS
(same machine, 2 KB objects); creates gain the same way. These two calls are what every
write, cold resolution, OAI-PMH page, dump and ingest is made of. Listings, multipart
uploads and streams stay on boto3.

A store that stops answering must not take the service with it (a frozen SeaweedFS held
every gunicorn thread for 180 s). So every call has short connect and read timeouts, a
read timeout is never retried, and a serving process keeps at most `max_in_flight`
requests in flight: a caller that finds no free slot within `queue_timeout` fails
(`StoreBusy`) instead of queuing behind requests that may never return, and after one
has, the next fail at once until a slot is given back.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import quote

import boto3
import urllib3
from boto3.exceptions import S3UploadFailedError
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool

STREAM_CHUNK = 256 * 1024


class ObjectMissing(Exception):
    """The key does not exist."""


class ObjectExists(Exception):
    """A conditional create found the key already written."""


class StoreRequestFailed(Exception):
    """A read or a create failed for another reason than a missing or taken key (after
    retries): the store is unavailable. `reason` says why in words that name no host,
    bucket or key, so that it may be shown to clients; the message is for the log."""

    def __init__(self, message: str, reason: str = "request failed") -> None:
        super().__init__(message)
        self.reason = reason


class StoreBusy(StoreRequestFailed):
    """Every in-flight slot stayed taken for the whole queue timeout: the store is
    saturated or hung, and waiting longer would only hold one more thread."""


class ObjectStore(Protocol):
    def create(self, key: str, body: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def keys(self, prefix: str, start_after: str = "") -> Iterator[str]: ...
    def upload(self, key: str, path: Path, content_type: str) -> None: ...
    def download(self, key: str, path: Path) -> None: ...
    def delete_upload(self, key: str) -> None: ...
    def stream(self, key: str) -> tuple[int, Iterator[bytes]]: ...
    def ping(self) -> None: ...


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_in_flight: int | None = None  # None: only the connection pool's size
    queue_timeout: float = 1.0


MAX_CONNECTIONS = 32
# Datasets uploaded for ingest jobs wait under `ingest-jobs/<job>/uploads/` for a worker
# (repository/jobs.py): the only keys the application deletes.
UPLOAD_KEY = re.compile(r"ingest-jobs/[0-9a-f-]{36}/uploads/")
# /health must answer within 2 s in every state: its probe gets one attempt of 1 s.
PING_TIMEOUT = 1.0


def s3_client(settings: S3Settings, max_connections: int = MAX_CONNECTIONS):  # type: ignore[no-untyped-def]
    """A boto3 client for one endpoint; thread-safe, so one is shared per process."""
    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region,
        config=BotoConfig(
            max_pool_connections=max_connections,
            # two attempts in all: a listing or stream of a hung store fails within two
            # read timeouts, not after the default's minutes
            retries={"total_max_attempts": 2, "mode": "standard"},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            s3={"addressing_style": "path"},
            # Ceph RGW (Pacific) does not understand aws-chunked trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class _Retry(urllib3.Retry):
    """Connection failures and 5xx are retried; a read timeout is not: the store took the
    request and did not answer, so a retry would only wait as long again."""

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: ConnectionPool | None = None,
                  _stacktrace: TracebackType | None = None) -> Self:
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    """Why a request failed, in words that name no host (urllib3's messages do)."""
    cause = getattr(error, "reason", None) or error  # MaxRetryError wraps the last one
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection refused"
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return "no answer in time"
    return "connection failed"


class _Slots:
    """At most `limit` requests in flight in this process (None: no limit here).

    A caller waits up to `wait` seconds for a slot. Once one has waited in vain, the store
    counts as stalled until a slot is given back: meanwhile a caller who finds no free
    slot fails at once, so that callers queued behind it (and the threads they hold) do
    not each wait again; a /health queued behind them answers in about `wait` seconds."""

    def __init__(self, limit: int | None, wait: float) -> None:
        self._free = threading.BoundedSemaphore(limit) if limit else None
        self._wait = wait
        self._stalled = False  # a race on it costs one caller one wait, or none

    @contextmanager
    def taken(self, what: str) -> Iterator[None]:
        if self._free is None:
            yield
            return
        if not self._free.acquire(timeout=0 if self._stalled else self._wait):
            self._stalled = True
            raise StoreBusy(f"{what}: no free slot in {self._wait}s", "too many requests waiting")
        try:
            yield
        finally:
            self._stalled = False
            self._free.release()


class S3ObjectStore:
    """Write-once JSON objects in one bucket."""

    def __init__(self, settings: S3Settings) -> None:
        self.bucket = settings.bucket
        self.client = s3_client(settings)
        self._object_url = f"{settings.endpoint.rstrip('/')}/{quote(settings.bucket)}/"
        self._signer = S3SigV4Auth(Credentials(settings.access_key, settings.secret_key),
                                   "s3", settings.region)
        self._slots = _Slots(settings.max_in_flight, settings.queue_timeout)
        # Up to 3 attempts on connection errors and 5xx, none after a read timeout.
        self._http = urllib3.PoolManager(
            maxsize=MAX_CONNECTIONS,
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            retries=_Retry(total=2, backoff_factor=0.05, raise_on_status=False,
                           status_forcelist=(500, 502, 503, 504)))

    def create(self, key: str, body: bytes) -> None:
        """Write `key` only if nobody has: `If-None-Match: *` makes S3 refuse an overwrite
        (412). Content-MD5 makes it refuse bytes that arrive changed."""
        digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        response = self._send("PUT", key, body, {
            "Content-Type": "application/json", "If-None-Match": "*", "Content-MD5": digest})
        if response.status == 412:
            raise ObjectExists(key)
        if response.status != 200:
            raise StoreRequestFailed(f"PUT {key}: HTTP {response.status} {response.data[:200]!r}",
                                     f"HTTP {response.status}")

    def get(self, key: str) -> bytes:
        """The bytes of `key`."""
        response = self._send("GET", key)
        if response.status == 200:
            body: bytes = response.data
            return body
        if response.status == 404:
            raise ObjectMissing(key)
        raise StoreRequestFailed(f"GET {key}: HTTP {response.status} {response.data[:200]!r}",
                                 f"HTTP {response.status}")

    def _send(self, method: str, key: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> Any:
        """One request on `key` in one of this process's in-flight slots."""
        with self._slots.taken(f"{method} {key}"):
            return self._request(method, self._object_url + quote(key, safe="/~"), body,
                                 headers)

    def _request(self, method: str, url: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, **options: Any) -> Any:
        """One request signed with botocore's SigV4 signer (see above)."""
        request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        self._signer.add_auth(request)
        try:
            return self._http.request(method, url, body=body,
                                      headers=dict(request.headers.items()), **options)
        except urllib3.exceptions.HTTPError as error:
            raise StoreRequestFailed(f"{method} {url}: {error}", _reason(error)) from error

    def _get_object(self, key: str) -> Any:
        try:
            with self._slots.taken(f"GET {key}"):
                return self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _status(error) == 404 or _error_code(error) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from error
            raise

    def upload(self, key: str, path: Path, content_type: str) -> None:
        """A local file to `key`, streamed (multipart when large): for bulk dumps, which
        are not versions and may be replaced by a later dump of the same name."""
        try:
            self.client.upload_file(str(path), self.bucket, key,
                                    ExtraArgs={"ContentType": content_type})
        except S3UploadFailedError as error:  # boto3's own, not a botocore error
            raise StoreRequestFailed(f"upload {key}: {error}", "upload failed") from error

    def download(self, key: str, path: Path) -> None:
        """`key` to a local file, streamed (`ObjectMissing` if there is none)."""
        try:
            self.client.download_file(self.bucket, key, str(path))
        except ClientError as error:
            if _status(error) == 404 or _error_code(error) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from error
            raise

    def delete_upload(self, key: str) -> None:
        """Delete an uploaded file a job has done with. Only those: a version is never
        deleted (docs/design.md, write once), so any other key is refused."""
        if not UPLOAD_KEY.match(key):
            raise ValueError(f"only a job's uploads are deleted, not {key}")
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def stream(self, key: str) -> tuple[int, Iterator[bytes]]:
        """The size of `key` and its bytes in chunks, without holding it in memory."""
        response = self._get_object(key)
        body = response["Body"]
        return int(response["ContentLength"]), body.iter_chunks(STREAM_CHUNK)

    def keys(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Every key under `prefix`, in S3's (lexicographic) order, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix, StartAfter=start_after)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def ping(self) -> None:
        """Raise unless the bucket answers to our credentials within `PING_TIMEOUT`, in
        one attempt and outside the in-flight slots: a saturated store is still probed."""
        response = self._request("HEAD", self._object_url, retries=False,
                                 timeout=urllib3.Timeout(total=PING_TIMEOUT))
        if response.status != 200:
            raise StoreRequestFailed(f"HEAD bucket: HTTP {response.status}",
                                     f"HTTP {response.status}")

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
