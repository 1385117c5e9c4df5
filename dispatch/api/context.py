"""Request-scoped helpers: the database session and the calling actor."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from dispatch.actors import Actor


def sessions() -> sessionmaker[Session]:
    """The app's session factory (for work that needs its own short transaction)."""
    return current_app.extensions["dispatch.sessions"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = sessions()()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and return the connection to the pool."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()


def actor() -> Actor:
    """The authenticated caller (set by `requires`)."""
    return g.actor


def setting(name: str):
    """One configuration value."""
    return current_app.config[name]
