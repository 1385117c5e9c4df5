"""The RQ worker class for Dispatch: `rq worker -w dispatch.jobs.worker.DispatchWorker ...`.

RQ forks a work-horse per job and imports the job's function inside it, so with the stock
Worker every job pays for importing Dispatch (SQLAlchemy, the models, the SDKs) and for creating
and setting up a database engine: over 0.5 s of CPU per job, measured by scripts/bench. Doing
both once in the parent lets every forked work-horse inherit them.
"""

from rq.worker import Worker

import dispatch.jobs.callbacks  # noqa: F401 - imported for the work-horses to inherit
import dispatch.jobs.tasks  # noqa: F401


class DispatchWorker(Worker):
    """RQ's forking worker, with Dispatch's jobs imported and its engine set up before forking."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from sqlalchemy import text

        from dispatch.jobs import runtime

        # One connection from the parent sets the dialect up (server version, types); it goes
        # back to the pool, and each work-horse drops the inherited pool (runtime.session_factory).
        with runtime.session_factory()() as session:
            session.execute(text("SELECT 1"))
        runtime.session_factory().kw["bind"].dispose()
