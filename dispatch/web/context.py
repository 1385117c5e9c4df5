"""Request-scoped helpers of the pages: the database session, the signed-in person, settings."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from dispatch.platform.actors import Actor
from dispatch.platform.db import close_quietly


def sessions() -> sessionmaker[Session]:
    """The app's session factory."""
    return current_app.extensions["dispatch.sessions"]


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "web_db" not in g:
        g.web_db = sessions()()
    return g.web_db


def reports_db() -> Session:
    """The request's session for reading reports (scorecards, rankings, the watch list,
    statements): the streaming replica's while it answers and keeps up, else the primary's (as the
    API's `reports_db`; `REPORTS_DATABASE_URL`). Work waiting for a decision is read from `db()`."""
    if "web_reports_db" not in g:
        g.web_reports_db, g.web_read_from = current_app.extensions["dispatch.reports"].session()
    return g.web_reports_db


def close_db(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and give the connections back; never raises."""
    for key in ("web_db", "web_reports_db"):
        session: Session | None = g.pop(key, None)
        if session is not None:
            close_quietly(session, "the page")


def person() -> Actor | None:
    """The signed-in person, checked against the database on this request (security.load_person)."""
    return g.get("web_actor")


def actor() -> Actor:
    """The signed-in person, in a view that requires one."""
    found = person()
    assert found is not None, "a view that needs a person is wrapped in security.signed_in"
    return found


def setting(name: str) -> Any:
    """One configuration value."""
    return current_app.config[name]
