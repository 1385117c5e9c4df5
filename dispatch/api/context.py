"""Request-scoped helpers: the database session and the calling actor."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from dispatch.platform.actors import Actor
from dispatch.platform.db import close_quietly
from dispatch.reference.catalogue import Catalogue, CatalogueCache, load_catalogue


def sessions() -> sessionmaker[Session]:
    """The app's session factory (for work that needs its own short transaction)."""
    return current_app.extensions["dispatch.sessions"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = sessions()()
    return g.db


def reports_db() -> Session:
    """The request's session for reading reports (scorecards, rankings, the watch list,
    statements): the streaming replica's while it answers and keeps up, else the primary's. The
    answer's `X-Read-From` header says which (`say_where_read`)."""
    if "reports_db" not in g:
        g.reports_db, g.read_from = current_app.extensions["dispatch.reports"].session()
    return g.reports_db


def say_where_read(response: Response) -> Response:
    """`X-Read-From: replica|primary` on an answer made from a reports session (after_request)."""
    where = g.get("read_from")
    if where:
        response.headers["X-Read-From"] = where
    return response


def close_db(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and return the connections to the pools.

    Runs after the answer is made, so it must not raise: an error here reached the client as
    the server's bare HTML 500, whatever the answer was (a 201 included). When the connection
    died meanwhile (the database restarted), the rollback fails; the connection is discarded,
    and what the request committed stays committed (the rest died with the connection).
    """
    for key in ("db", "reports_db"):
        session: Session | None = g.pop(key, None)
        if session is not None:
            close_quietly(session, "the answer")


def catalogue(*, city: str, models: Iterable[str]) -> Catalogue:
    """This process's copy of the catalogue, fresh enough to judge this city and these models."""
    cache = current_app.extensions.get("dispatch.catalogue")
    if cache is None:
        factory = sessions()

        def load() -> Catalogue:
            with factory() as session:
                return load_catalogue(session)

        cache = current_app.extensions.setdefault("dispatch.catalogue", CatalogueCache(load))
    return cache.get(city=city, models=models)


def actor() -> Actor:
    """The authenticated caller (set by `requires`)."""
    return g.actor


def setting(name: str):
    """One configuration value."""
    return current_app.config[name]
