"""The durable queue background jobs wait in: Redis, through dramatiq (docs/jobs.md).

A message is only a job's ID; everything else about the job is its row in the index and
its uploads in S3 (repository/jobs.py), so a worker on any machine that
reaches the same Redis, index and bucket can run it. Dramatiq delivers a message at least
once: a worker that dies holding one stops its heartbeat in Redis, and after
`HEARTBEAT_TIMEOUT_MS` the next worker to ask for work puts the message back on the
queue. The job row's own claim (storage/job_table.py) makes a second delivery of a job
that is running, or already done, do nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

ACTOR = "run_job"
QUEUE = "jobs"
# A worker whose heartbeat in Redis is this old is dead: its messages go back on the queue.
# Its consumers beat at least once a second while it runs (worker_timeout), so 15 s is
# many missed beats, not one slow one.
HEARTBEAT_TIMEOUT_MS = 15_000
# Dramatiq checks for dead workers' messages on a random share of its commands (0.1% by
# default: a lost job could wait many minutes). Every command checks here; with a handful
# of workers the check is one sorted-set range in Redis.
MAINTENANCE_EVERY_COMMAND = 1_000_000
# A job whose row is held by a live worker, or whose index did not answer, is tried again
# later (`dramatiq.Retry`, or any exception), with backoff from 5 s to a minute: about
# three hours in all before the message is given up.
RETRY_MIN_MS, RETRY_MAX_MS, RETRIES = 5_000, 60_000, 200
# Redis that does not answer fails a submission in seconds (503), never hangs it.
CONNECT_TIMEOUT, READ_TIMEOUT = 2.0, 5.0


# Raised by a job's handler to have its message delivered again after a delay; dramatiq
# does not log it as an error.
TryLater = dramatiq.Retry


class QueueUnavailable(Exception):
    """Redis could not take the message: the job is not queued."""


class JobQueue:
    """One repository's queue in Redis (`namespace` keeps several apart in one Redis).

    The web app only sends; `fdo worker` also sets `handler`, which runs a job by its ID.
    """

    def __init__(self, url: str, namespace: str) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                           socket_timeout=READ_TIMEOUT)
        # Only the retry middleware: dramatiq's default time limit (10 minutes) would cut
        # a long ingest, and its age limit, callbacks and pipelines are not used.
        self.broker = RedisBroker(
            client=self.client, namespace=namespace, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=MAINTENANCE_EVERY_COMMAND,
            middleware=[Retries(max_retries=RETRIES, min_backoff=RETRY_MIN_MS,
                                max_backoff=RETRY_MAX_MS)])
        self.handler: Callable[[str], None] | None = None
        self.actor = dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE,
                                    broker=self.broker)(self._run)

    def send(self, job_id: str, delay_ms: int | None = None) -> None:
        """Queue the job, to be run now or once `delay_ms` have passed."""
        try:
            self.actor.send_with_options(args=(job_id,), delay=delay_ms)
        except redis.exceptions.RedisError as error:
            raise QueueUnavailable(f"the job queue did not answer ({error})") from error

    def waiting(self) -> int:
        """Messages waiting for a worker (not those being run)."""
        return int(self.client.llen(f"{self.broker.namespace}:{QUEUE}"))

    def close(self) -> None:
        self.broker.close()
        self.client.close()

    def _run(self, job_id: str) -> None:
        if self.handler is None:
            raise RuntimeError("this process only sends jobs: `fdo worker` runs them")
        self.handler(job_id)
