"""The demo reference set (a few cities, providers, installers, product lines) and one user per role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import auth
from dispatch.models import Provider, Role, User
from dispatch.platform.actors import Actor
from dispatch.reference import catalogue

DATA = Path(__file__).parent / "demo_data"
SEEDER = Actor.system("demo-seed")


def seed(session: Session) -> dict[str, str]:
    """Load demo data once; returns {user name: token} on the first run, {} after."""
    if session.scalars(select(User).where(User.name == "demo-admin")).first():
        return {}
    catalogue.load_csv_dir(session, SEEDER, DATA)
    tokens: dict[str, str] = {}
    for role in (Role.SALES, Role.AGENT, Role.CALLBACK, Role.SUPERVISOR, Role.ADMIN):
        user = auth.create_user(session, SEEDER, name=f"demo-{role.value}", role=role.value)
        tokens[user.name] = auth.issue_token(session, SEEDER, user, label="demo")
    for provider in session.scalars(select(Provider).order_by(Provider.id)):
        user = auth.create_user(
            session,
            SEEDER,
            name=f"demo-provider-{provider.code}",
            role=Role.PROVIDER.value,
            provider_code=provider.code,
        )
        tokens[user.name] = auth.issue_token(session, SEEDER, user, label="demo")
    return tokens
