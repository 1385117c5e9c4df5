"""The worker's scheduler comes back within seconds after Redis was away, not at RQ's next
maintenance pass (10 minutes later): jobs held for later (delayed retries) run on time again.

RQ's scheduler process exits when Redis is unreachable for a few seconds. A real worker
(`--with-scheduler`) and `rq cron` run against a private Redis that is stopped and started again;
the worker itself must still be running afterwards.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.procs import PrivateRedis, children, isolated_env, start_cron, start_worker, wait_until

pytestmark = pytest.mark.slow


def running(pid: int) -> bool:
    """Whether a process exists and has not exited (an exited child not yet reaped is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_scheduler_that_died_with_redis_is_back_within_seconds(database_url, tmp_path: Path):
    redis = PrivateRedis().start()
    env = isolated_env(tmp_path, "sched", DATABASE_URL=database_url, REDIS_URL=redis.url)
    procs = []
    try:
        worker = start_worker(env)
        procs += [worker, start_cron(env)]
        seen: list[int] = []

        def one_scheduler() -> bool:
            # Keep what was seen: asking again could race a scheduler starting or exiting.
            seen[:] = [pid for pid in children(worker.pid) if running(pid)]
            return len(seen) == 1

        wait_until(one_scheduler, timeout=30, what=f"the scheduler:\n{worker.output()}")
        [first] = seen

        redis.stop()
        wait_until(
            lambda: not running(first), timeout=60, what=f"the scheduler to exit:\n{worker.output()[-3000:]}"
        )
        time.sleep(3)
        redis.start()
        restarted_at = time.monotonic()
        # RQ's stock worker quits when Redis goes while it records a job's end; this one waits.
        assert worker.alive(), worker.output()[-3000:]
        # `rq cron` exits without Redis: a supervisor starts it again, as in production.
        if not procs[1].alive():
            procs[1] = start_cron(env)

        # A job held for later, as RQ's Retry holds a call Twilio refused for now.
        queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=Redis.from_url(redis.url))
        job = queue.enqueue_in(timedelta(seconds=1), "dispatch.bench.jobs.noop")
        wait_until(
            lambda: job.get_status(refresh=True) == "finished",
            timeout=60,
            what=f"the delayed job to run (RQ alone waits 10 min):\n{worker.output()[-3000:]}",
        )
        assert time.monotonic() - restarted_at < 30
        assert [pid for pid in children(worker.pid) if running(pid) and pid != first]  # a new scheduler
    finally:
        for proc in procs:
            proc.stop()
        redis.stop()
