"""Alembic migrations: one head, upgrade from empty, models and migrations agree, down and up again."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from dispatch.models import Base
from dispatch.platform import migrate
from dispatch.platform.db import make_engine
from tests.conftest import PG, _admin_conninfo


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # The same exclusion as migrations/env.py: hand-written PostgreSQL trigram indexes.
    return not (type_ == "index" and name and name.startswith("trgm_"))


def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "include_object": _include, "target_metadata": Base.metadata},
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def empty_pg():
    name = f"dispatch_migr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG}/{name}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_there_is_exactly_one_head():
    assert len(migrate.heads()) == 1


def test_the_test_database_is_at_head(engine):
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == migrate.heads()
        )


def test_upgrade_from_empty_postgres_matches_the_models_and_goes_down_and_up_again(empty_pg):
    migrate.upgrade(empty_pg)
    model_tables = set(Base.metadata.tables)
    assert model_tables <= _tables(empty_pg)
    assert _differences(empty_pg) == []

    command.downgrade(migrate.alembic_config(empty_pg), "base")
    assert _tables(empty_pg) <= {"alembic_version"}

    migrate.upgrade(empty_pg)
    assert _differences(empty_pg) == []
    engine = make_engine(empty_pg)
    try:
        with engine.connect() as conn:
            indexes = set(
                conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'trgm_%'")).scalars()
            )
    finally:
        engine.dispose()
    assert indexes == {
        "trgm_customers_name",
        "trgm_customers_address",
        "trgm_units_address",
        "trgm_customers_phone",
    }

    # The comparison does see drift: a column missing from the database is reported.
    engine = make_engine(empty_pg)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE customers DROP COLUMN created_at"))
    finally:
        engine.dispose()
    drift = _differences(empty_pg)
    assert [(d[0], d[3].name) for d in drift] == [("add_column", "created_at")]


def test_upgrade_from_empty_sqlite_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    migrate.upgrade(url)
    assert set(Base.metadata.tables) <= _tables(url)
    assert _differences(url) == []
