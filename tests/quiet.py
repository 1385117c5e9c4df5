"""Wait until a running system is quiet before counting what it did ("no duplicate" checks).

A fixed sleep before counting passes when a duplicate arrives late. Quiet means: no RQ job other
than cron's own periodic passes queued, started, scheduled or deferred under the test's queue
prefix, and no outbox row that is due but not handed over, or handed over but not finished; and
it stays so for `settle` seconds (cron runs every second and could hand over new work).
"""

from __future__ import annotations

import time
from collections.abc import Collection

import psycopg
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from dispatch.jobs.runtime import OUTBOX_JOB_PREFIX, QUEUE_NAMES

# `rq cron`'s periodic passes come every second whatever happens; the work they hand over shows
# in the outbox (due, or handed over and not finished) and as jobs of its own.
PERIODIC = {
    "dispatch.jobs.tasks.relay_outbox",
    "dispatch.jobs.tasks.register_sales",
    "dispatch.jobs.tasks.sweep_callbacks",
    "dispatch.jobs.tasks.plan_status_checks",
    "dispatch.jobs.tasks.log_audit_anchor",
    "dispatch.jobs.outreach.sweep_customer_messages",
}


def busy(env: dict[str, str], abandoned: Collection[int] = ()) -> list[str]:
    """What is still going on (empty when quiet), for the check and for the failure message.

    `abandoned`: outbox rows whose job the test killed on purpose (with its worker); RQ lists such
    a job as started until its timeout, and the relay hands the row over again only much later.
    """
    skip = {f"{OUTBOX_JOB_PREFIX}{i}" for i in abandoned}
    redis = Redis.from_url(env["DISPATCH_REDIS_URL"])
    found: list[str] = []
    for name in QUEUE_NAMES:
        queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-{name}", connection=redis)
        groups = {
            "queued": queue.get_job_ids(),
            "started": StartedJobRegistry(queue=queue).get_job_ids(),
            "scheduled": ScheduledJobRegistry(queue=queue).get_job_ids(),
            "deferred": DeferredJobRegistry(queue=queue).get_job_ids(),
        }
        for state, ids in groups.items():
            for job in Job.fetch_many(ids, connection=redis):
                if job is not None and job.func_name not in PERIODIC and job.id not in skip:
                    found.append(f"{state} job {job.id} ({job.func_name})")
    conninfo = env["DISPATCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        pending, unfinished = conn.execute(
            "SELECT count(*) FILTER (WHERE dispatched_at IS NULL AND available_at <= now()),"
            " count(*) FILTER (WHERE dispatched_at IS NOT NULL AND completed_at IS NULL) FROM outbox"
            " WHERE id <> ALL(%s)",
            (list(abandoned),),
        ).fetchone()
    if pending:
        found.append(f"{pending} outbox rows due, not handed over")
    if unfinished:
        found.append(f"{unfinished} outbox rows handed over, not finished")
    return found


def wait_until_quiet(
    env: dict[str, str], *, abandoned: Collection[int] = (), timeout: float = 90, settle: float = 2.0
) -> None:
    """Return once nothing is queued, running or due and it stayed so for `settle` seconds."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    last: list[str] = []
    while time.monotonic() < deadline:
        last = busy(env, abandoned)
        now = time.monotonic()
        if last:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= settle:
            return
        time.sleep(0.2)
    raise AssertionError(f"the system never went quiet in {timeout}s: {last}")
