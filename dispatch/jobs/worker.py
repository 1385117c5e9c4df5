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

from rq.worker import SimpleWorker

import dispatch.jobs.callbacks  # noqa: F401 - imported once, before the first job
import dispatch.jobs.tasks  # noqa: F401


class DispatchWorker(SimpleWorker):
    """RQ's non-forking worker, with Dispatch's jobs and its database engine set up at start."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from sqlalchemy import text

        from dispatch.jobs import runtime

        # Connect once now, so that a wrong DATABASE_URL stops the worker at start, not at a job.
        with runtime.session_factory()() as session:
            session.execute(text("SELECT 1"))
