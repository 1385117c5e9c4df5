"""Per-process resources for jobs: settings, the database and Redis, created on first use.

DispatchWorker runs every job in its own process, so the engine, its pool and SQLAlchemy's
statement cache serve job after job. Should jobs run in a forked process (RQ's stock Worker), the
child keeps the parent's engine but never its connections: the pool is per process id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue, get_current_job
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit.trail import make_session_factory
from dispatch.platform import logs, outbox, redis_client
from dispatch.platform.config import load_settings
from dispatch.platform.db import make_engine

QUEUE_NAMES = ("default",)


@lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    """The settings, read once per process (and its log lines redacted from then on)."""
    loaded = load_settings()
    logs.install(loaded)
    return loaded


_factories: dict[int, sessionmaker[Session]] = {}


def session_factory() -> sessionmaker[Session]:
    """This process's session factory (a forked child reuses the engine, never its connections)."""
    pid = os.getpid()
    if pid not in _factories:
        inherited = next(iter(_factories.values()), None)
        _factories.clear()
        if inherited is not None:
            # A forked work-horse: keep the parent's engine (driver imported, dialect set up) but
            # drop the pool it inherited without touching the parent's sockets (SQLAlchemy's
            # recipe for fork). A fresh engine per job cost ~0.5 s of CPU (scripts/bench).
            inherited.kw["bind"].dispose(close=False)
            _factories[pid] = inherited
        else:
            _factories[pid] = make_session_factory(make_engine(settings()["DATABASE_URL"], pool_size=2))
    return _factories[pid]


@contextmanager
def job_session() -> Iterator[Session]:
    """A session for one job: committed if the job returns, rolled back if it raises.

    A job handed over by the outbox relay marks its outbox row completed in the same commit as
    its work, so the relay hands it over again only if that work never committed.
    """
    session = session_factory()()
    try:
        yield session
        outbox_id = _current_outbox_id()
        if outbox_id is not None:
            outbox.mark_completed(session, outbox_id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# RQ job ids of jobs handed over by the outbox relay: this prefix and the outbox row's id.
OUTBOX_JOB_PREFIX = "outbox-"


def _current_outbox_id() -> int | None:
    job = get_current_job()
    if job is None or not job.id.startswith(OUTBOX_JOB_PREFIX):
        return None
    return int(job.id.removeprefix(OUTBOX_JOB_PREFIX))


def redis_connection() -> Redis:
    """This installation's Redis (REDIS_URL, or the master its Sentinels name) for RQ and jobs.

    With timeouts: a job or the relay whose Redis host vanished fails (and is retried, or handed
    over again) instead of waiting for its job timeout.
    """
    return redis_client.make_redis(
        settings(),
        socket_connect_timeout=redis_client.MASTER_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=redis_client.MASTER_SOCKET_TIMEOUT_SECONDS,
    )


def queue_name(name: str = "default", prefix: str | None = None) -> str:
    """The full queue name, prefixed so that installations can share a Redis."""
    return f"{prefix if prefix is not None else settings()['QUEUE_PREFIX']}-{name}"


def queue(name: str = "default", connection: Redis | None = None) -> Queue:
    """An RQ queue of this installation."""
    return Queue(queue_name(name), connection=connection or redis_connection())
