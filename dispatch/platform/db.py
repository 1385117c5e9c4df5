"""Engines and sessions. PostgreSQL in production; SQLite (WAL + BEGIN IMMEDIATE) embedded."""

from __future__ import annotations

import logging
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite, switch on WAL and take the write lock at BEGIN."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _make_sqlite_safe(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _make_sqlite_safe(engine: Engine) -> None:
    # With the driver's defaults, concurrent API and worker processes lose updates: a deferred
    # transaction reads, another process writes, and the first then overwrites. WAL lets readers
    # run beside the writer; BEGIN IMMEDIATE makes each transaction take the write lock up front.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(session_or_engine: Session | Engine) -> bool:
    """True when the session or engine talks to PostgreSQL."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def paginate(session: Session, query: Select, order_by: tuple, page: int, per_page: int) -> tuple[list, int]:
    """One page of a query's rows in the given order, and the total number of rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.order_by(*order_by).limit(per_page).offset((page - 1) * per_page))
    return list(rows.unique()), int(total or 0)


def close_quietly(session: Session, made: str) -> None:
    """Close a request's session after `made` (the answer, the page) was made; never raises.

    When the connection died meanwhile (the database restarted), the rollback fails: the
    connection is discarded, and what the request committed stays committed.
    """
    try:
        session.close()
    except DBAPIError as exc:
        log.warning("database connection lost after %s was made: %s", made, type(exc.orig or exc).__name__)
        with suppress(DBAPIError):
            session.invalidate()
