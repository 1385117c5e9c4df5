"""The RQ worker class for Dispatch: `rq worker -w dispatch.jobs.worker.DispatchWorker ...`.

Dispatch's jobs are short: a few queries, one call to Twilio, a commit. RQ's default Worker forks
a work-horse per job, and a forked work-horse starts cold every time: SQLAlchemy's statement
cache is empty (compiling the job's queries was 43% of a callback job's CPU, profiled with
py-spy), the connection pool is empty (a new PostgreSQL connection per job), and modules imported
lazily are imported again. DispatchWorker runs each job in its own process, one after another
(RQ's SimpleWorker), so all of that is done once per worker instead of once per job.

What a job still gets from RQ: its timeout (a signal in this process), retries, the failed job
registry, and a warm shutdown on SIGTERM (the running job finishes first). A worker killed
outright (SIGKILL, out of memory) loses the job it was running like a killed work-horse would:
RQ marks it abandoned, and Dispatch's jobs are safe to run again (the outbox hands them over
again, the callback sweep re-requests due attempts).
"""

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.worker import SimpleWorker

import dispatch.jobs.callbacks  # noqa: F401 - imported once, before the first job
import dispatch.jobs.tasks  # noqa: F401


def _log_jobs_like_the_worker(level: str) -> None:
    """Show the jobs' own log lines (Dispatch's loggers) in the worker's output.

    RQ sets up a handler for its `rq.worker` logger only: a job's `log.info` (an attempt placed,
    a receipt registered, the audit anchor) went nowhere, and its warnings came out bare through
    Python's last-resort handler, without time, level or logger. Left alone when the process has
    logging set up already.
    """
    logger = logging.getLogger("dispatch")
    if logger.hasHandlers():
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)


class DispatchWorker(SimpleWorker):
    """RQ's non-forking worker, with Dispatch's jobs and its database engine set up at start.

    Redis going away does not stop it. RQ's worker waits for Redis only while it waits for a job;
    Redis lost while it records a job's end (or sends a heartbeat, or checks for a suspension)
    made it quit, and with `rq cron` handing it the relay every second that is most of the time.
    Here those steps wait and go on: the job's own work is committed (or not) in PostgreSQL, and
    Dispatch's jobs are safe to run again should RQ count the job as abandoned.

    It also restarts its scheduler (`--with-scheduler`) soon after it died. RQ's scheduler process
    exits when Redis is unreachable for a few seconds, and RQ starts it again only at the worker's
    maintenance pass, every 10 minutes: until then jobs held for later (the delayed retries of a
    call Twilio refused for now) did not run. The worker's loop turns at least once a second
    while `rq cron` runs (the outbox relay), so a dead scheduler is noticed within seconds.
    """

    # How long the worker waits before going on when Redis did not answer one of its own steps.
    REDIS_AWAY_PAUSE_SECONDS = 1.0

    # How often the worker looks at its scheduler process between maintenance passes.
    SCHEDULER_CHECK_SECONDS = 5.0
    _scheduler_checked_at = 0.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from sqlalchemy import text

        from dispatch.jobs import runtime

        _log_jobs_like_the_worker(runtime.settings()["LOG_LEVEL"])
        # Connect once now, so that a wrong DATABASE_URL stops the worker at start, not at a job.
        with runtime.session_factory()() as session:
            session.execute(text("SELECT 1"))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """RQ's schedule (every 10 min), or now when the scheduler process has died."""
        if super().should_run_maintenance_tasks:
            return True
        scheduler = self.scheduler
        if scheduler is None or self.last_cleaned_at is None:
            return False
        at = time.monotonic()
        if at - self._scheduler_checked_at < self.SCHEDULER_CHECK_SECONDS:
            return False
        self._scheduler_checked_at = at
        process = scheduler._process
        # Maintenance starts it again (when this worker can take the queue's scheduler lock).
        return process is not None and not process.is_alive()

    def _despite_redis(self, step: str, call: Callable[[], Any]) -> Any:
        """Run one of RQ's own steps; if Redis is away, log it, pause, and go on."""
        try:
            return call()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.log.warning("Worker %s: Redis unreachable at %s (%s); going on", self.name, step, exc)
            time.sleep(self.REDIS_AWAY_PAUSE_SECONDS)
            return None

    def execute_job(self, job, queue) -> None:
        self._despite_redis(f"job {job.id}", lambda: super(DispatchWorker, self).execute_job(job, queue))

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        # RQ retries the wait for a job itself, but not the steps around it (its state, the
        # job's bookkeeping): until Redis answers, wait for a job again.
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                self.log.warning("Worker %s: Redis unreachable while waiting for a job (%s)", self.name, exc)
                time.sleep(self.REDIS_AWAY_PAUSE_SECONDS)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:  # queued on a pipeline: nothing is sent here
            return super().heartbeat(timeout, pipeline)
        self._despite_redis("heartbeat", lambda: super(DispatchWorker, self).heartbeat(timeout))

    def check_for_suspension(self, burst: bool) -> None:
        self._despite_redis(
            "suspension check", lambda: super(DispatchWorker, self).check_for_suspension(burst)
        )

    def run_maintenance_tasks(self) -> None:
        self._despite_redis("maintenance", super().run_maintenance_tasks)
