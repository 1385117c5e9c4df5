"""Alembic environment: the URL comes from Dispatch's settings unless the caller passes one."""

from __future__ import annotations

from alembic import context

from dispatch.models import Base
from dispatch.platform.db import make_engine

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # Hand-written PostgreSQL extras (trigram indexes) live in their own revision.
    return not (type_ == "index" and name and name.startswith("trgm_"))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from dispatch.platform.config import load_settings

        url = load_settings(webhooks=False)["DATABASE_URL"]
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
