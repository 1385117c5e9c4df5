"""Request-scoped helpers: the database session and the calling actor."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress

from flask import current_app, g
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.platform.actors import Actor
from dispatch.reference.catalogue import Catalogue, CatalogueCache, load_catalogue

log = logging.getLogger(__name__)


def sessions() -> sessionmaker[Session]:
    """The app's session factory (for work that needs its own short transaction)."""
    return current_app.extensions["dispatch.sessions"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = sessions()()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and return the connection to the pool.

    Runs after the answer is made, so it must not raise: an error here reached the client as
    the server's bare HTML 500, whatever the answer was (a 201 included). When the connection
    died meanwhile (the database restarted), the rollback fails; the connection is discarded,
    and what the request committed stays committed (the rest died with the connection).
    """
    session: Session | None = g.pop("db", None)
    if session is None:
        return
    try:
        session.close()
    except DBAPIError as exc:
        log.warning("database connection lost after the answer was made: %s", type(exc.orig or exc).__name__)
        with suppress(DBAPIError):
            session.invalidate()


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
