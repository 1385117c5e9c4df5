"""People and access: users with a role, and their hashed bearer tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, _choices, utcnow


class Role(enum.StrEnum):
    SALES = "sales"
    AGENT = "agent"
    PROVIDER = "provider"
    CALLBACK = "callback"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        _choices("ck_users_role", "role", Role),
        CheckConstraint("(role = 'provider') = (provider_id IS NOT NULL)", name="ck_users_provider_binding"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The pages' login: an argon2 hash (dispatch.auth); NULL: this user cannot log in to the pages.
    password_hash: Mapped[str | None] = mapped_column(String(255))


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(lazy="joined")
