"""Which provider serves a city and product line."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import Coverage, Provider


def find_provider(session: Session, city_id: int, product_line_id: int) -> Provider | None:
    """The active provider with the best (lowest) priority covering this pair, if any."""
    return session.scalars(
        select(Provider)
        .join(Coverage, Coverage.provider_id == Provider.id)
        .where(
            Coverage.city_id == city_id,
            Coverage.product_line_id == product_line_id,
            Provider.active.is_(True),
        )
        .order_by(Coverage.priority, Provider.id)
        .limit(1)
    ).first()
