"""Reference data: cities, product lines and models, providers, their coverage, installers."""

from __future__ import annotations

import enum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, _choices


class Seniority(enum.StrEnum):
    JUNIOR = "junior"
    REGULAR = "regular"
    SENIOR = "senior"
    MASTER = "master"


class City(Base):
    __tablename__ = "cities"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2), default="US")
    # What the robot speaks and understands with its customers: "en" or "zh-CN" (dispatch.language).
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")


class ProductLine(Base):
    __tablename__ = "product_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class ProductModel(Base):
    __tablename__ = "product_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    under_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)


class Coverage(Base):
    """A provider serves a product line in a city; the lowest priority number is asked first."""

    __tablename__ = "coverage"
    __table_args__ = (UniqueConstraint("city_id", "product_line_id", "provider_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    provider: Mapped[Provider] = relationship(lazy="joined")
    city: Mapped[City] = relationship(lazy="joined")
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class Installer(Base):
    __tablename__ = "installers"
    __table_args__ = (_choices("ck_installers_seniority", "seniority", Seniority),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    seniority: Mapped[str] = mapped_column(String(16), default=Seniority.REGULAR.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
