"""Schema migrations (Alembic), callable from the CLI, scripts and tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at Dispatch's migrations and, if given, a database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", "dispatch:migrations")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at `url` (default: the configured one) up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def heads() -> list[str]:
    """The migration heads; there should be exactly one."""
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
