"""The delivery log: each notice with its deliveries and their attempts. A provider reads its own
(another provider's notice is 404, as one that does not exist); headquarters reads all."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.models import ProviderNotice, Role
from dispatch.platform.actors import Actor
from dispatch.platform.db import paginate
from dispatch.platform.errors import NotFound


@dataclass(frozen=True)
class NoticeFilter:
    provider_id: int | None = None  # headquarters only: a provider always reads its own
    work_order_id: int | None = None
    type: str | None = None


def _visible(actor: Actor) -> Select[tuple[ProviderNotice]]:
    query = select(ProviderNotice)
    if actor.role == Role.PROVIDER:
        query = query.where(ProviderNotice.provider_id == actor.provider_id)
    return query


def list_notices(
    session: Session, actor: Actor, flt: NoticeFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[ProviderNotice], int]:
    """A page of the notices the actor may see, newest first, each with its deliveries and attempts."""
    query = _visible(actor)
    if flt.provider_id:
        query = query.where(ProviderNotice.provider_id == flt.provider_id)
    if flt.work_order_id:
        query = query.where(ProviderNotice.work_order_id == flt.work_order_id)
    if flt.type:
        query = query.where(ProviderNotice.type == flt.type)
    return paginate(session, query, (ProviderNotice.id.desc(),), page, per_page)


def get_notice(session: Session, actor: Actor, notice_id: int) -> ProviderNotice:
    """One notice the actor may see, or NotFound (also another provider's)."""
    notice = session.scalars(_visible(actor).where(ProviderNotice.id == notice_id)).unique().first()
    if notice is None:
        raise NotFound(f"notice {notice_id} not found")
    return notice
