"""`fdo worker`: a process that runs background jobs from the queue (repository/jobs.py).

Start as many as the work needs, on this machine or others: each needs the same
configuration as the web app (index, S3, queue, secret key) and nothing else, since a job's
files come from S3. SIGTERM or Ctrl-C stops taking jobs and waits `stop_timeout` seconds
for those running; any still running then are run again by another worker (docs/jobs.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import dramatiq

from repository import build_search, build_service
from repository.batches import Batches
from repository.config import Config
from repository.decisions import Decisions
from repository.job_queue import JobQueue
from repository.jobs import Jobs, JobWorker
from repository.keys import purpose_key, secret_key
from repository.machine_services import TOKEN_PURPOSE, MachineServices

log = logging.getLogger(__name__)
# How often an idle worker asks the queue for work (and so beats in Redis), in ms.
POLL_MS = 1_000


class Worker:
    """The jobs of one queue, run on `threads` threads of this process."""

    def __init__(self, config: Config, threads: int = 1) -> None:
        # Serving nothing, a worker reads its SQLite index without the memory map: a job
        # that reads every page of a large index would otherwise hold them all resident.
        self.service = build_service(config, bulk=True)
        batches = Batches(self.service, build_search(config, self.service),
                          Decisions(self.service.index, self.service.reader,
                                    self.service.writes, config.base_url))
        machine_services = MachineServices(self.service, purpose_key(
            secret_key(config.secret_key), TOKEN_PURPOSE))
        self.queue = JobQueue(config.queue_url, config.queue_namespace)
        self.jobs = JobWorker(self.service, batches, machine_services,
                              Jobs(self.service, self.queue, Path(config.ingest_spool)),
                              config.tombstone_max_share, Path(config.ingest_spool))
        self.queue.handler = self.jobs.run
        self._worker = dramatiq.Worker(self.queue.broker, worker_threads=threads,
                                       worker_timeout=POLL_MS)
        # Dramatiq takes twice as many messages as it has threads; a job waiting in one
        # worker's memory is one another idle worker cannot take.
        self._worker.queue_prefetch = threads

    def start(self) -> None:
        self.jobs.start()
        self._worker.start()

    def stop(self, timeout: float = 30) -> None:
        self._worker.stop(timeout=int(timeout * 1000))
        self.jobs.stop()
        self.queue.close()
        self.service.close()


def run_worker(config: Config, threads: int, stop_timeout: float) -> int:
    """Run until SIGTERM or SIGINT."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker = Worker(config, threads)
    worker.start()
    log.info("fdo worker %s: %d thread(s) on queue %s of %s", worker.jobs.name, threads,
             config.queue_namespace, config.queue_url)
    stopping.wait()
    log.info("fdo worker %s stopping: waiting up to %s s for running jobs",
             worker.jobs.name, stop_timeout)
    worker.stop(stop_timeout)
    return 0
