"""The supervisors' live figures of one day: orders by the state they are in now, and callbacks
done and still due. Read from the raw records through the models (counts, no rows), like the
rest of this package; the scorecards' aggregates cover the figures that are kept per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.models import Callback, CallbackState, OrderState, Role, WorkOrder
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Forbidden

OPEN_CALLBACKS = (
    CallbackState.SCHEDULED.value,
    CallbackState.IN_PROGRESS.value,
    CallbackState.HUMAN_QUEUE.value,
    CallbackState.CLAIMED.value,
)


@dataclass
class DayFigures:
    """One day's live figures (the day from `start` to `end`, on the reader's clock)."""

    start: datetime
    end: datetime
    orders_by_state: dict[str, int]  # orders created or moved in the day, by the state they are in now
    callbacks_done: int  # callbacks resolved in the day (a verdict, or unreachable)
    callbacks_due: int  # open callbacks due by now (the robot's next try, or the callback team)
    callbacks_later: int  # open callbacks due later


def day_figures(session: Session, actor: Actor, start: datetime, end: datetime, now: datetime) -> DayFigures:
    """Orders by state and callbacks done and due, for headquarters (every provider)."""
    if actor.role != Role.SUPERVISOR:
        raise Forbidden("only headquarters reads the whole day's figures")
    touched = or_(WorkOrder.created_at.between(start, end), WorkOrder.updated_at.between(start, end))
    rows = session.execute(
        select(WorkOrder.state, func.count()).where(touched).group_by(WorkOrder.state)
    ).all()
    counted = {state: int(n) for state, n in rows}
    orders = {state.value: int(counted.get(state.value, 0)) for state in OrderState}
    done = session.scalar(
        select(func.count()).where(
            Callback.state == CallbackState.RESOLVED.value,
            Callback.resolved_at >= start,
            Callback.resolved_at < end,
        )
    )
    due = session.scalar(
        select(func.count()).where(Callback.state.in_(OPEN_CALLBACKS), Callback.due_at <= now)
    )
    later = session.scalar(
        select(func.count()).where(Callback.state.in_(OPEN_CALLBACKS), Callback.due_at > now)
    )
    return DayFigures(start, end, orders, int(done or 0), int(due or 0), int(later or 0))
