"""Request-scoped helpers: the database session and the calling actor."""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from dispatch.actors import Actor
from dispatch.reference import Catalogue, CatalogueCache, load_catalogue


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
