"""Work queued on a session and written just before its outermost commit, in the same transaction.

The audit trail (its events) and the scorecards (their counters) both queue what a change implies
and write it at commit: the rows they lock are then held for the commit only, in one order for
every writer. Both need the same bookkeeping around savepoints, kept here once:

- SQLAlchemy fires `before_commit` for a savepoint's release too; only the outermost commit writes
  (writing at a release would take the locks mid-transaction and hold them to the end).
- A rollback drops what was queued in what was rolled back: a savepoint's rollback only what was
  queued inside it (dropping everything lost the events of the sales registered before it in the
  same batch), a full rollback everything. A savepoint that began before the queue was hooked on
  the session has no mark: everything queued was queued inside it.
- When the outermost transaction ends, whatever is left (closed without commit or rollback) goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.event import listen
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

T = TypeVar("T")


class AtCommit(Generic[T]):
    """A queue named `name` on each session; `write(session, items)` runs at the outermost commit."""

    def __init__(self, name: str, write: Callable[[Session, list[T]], None]) -> None:
        self.name = name
        self._write = write
        self._pending = f"{name}_pending"
        self._marks = f"{name}_savepoint_marks"  # savepoint -> how many were queued when it began
        self._hooked = f"{name}_hooked"

    def install(self, target: sessionmaker[Session] | Session) -> None:
        """Hook the queue on a session factory (every session it makes) or on one session. Hooks
        run in the order they were installed: a session's own come after its factory's."""
        listen(target, "before_commit", self.write_pending)
        listen(target, "after_transaction_create", self._mark_savepoint)
        listen(target, "after_soft_rollback", self._discard_pending)
        listen(target, "after_transaction_end", self._forget)

    def put(self, session: Session, item: T, *, hook: bool = False) -> None:
        """Queue one item. `hook=True`: install the queue on this session the first time (for a
        queue whose writes must follow the factory's own, e.g. after the audit trail's lock)."""
        if hook and not session.info.get(self._hooked):
            self.install(session)
            session.info[self._hooked] = True
        session.info.setdefault(self._pending, []).append(item)

    def pending(self, session: Session) -> list[T]:
        """What is queued on the session now (a copy)."""
        return list(session.info.get(self._pending, ()))

    def write_pending(self, session: Session) -> None:
        """Write and forget the queued items (before_commit); nothing at a savepoint's release."""
        if session.in_nested_transaction():
            return
        items: list[T] = session.info.pop(self._pending, [])
        if items:
            self._write(session, items)

    def _mark_savepoint(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            session.info.setdefault(self._marks, {})[transaction] = len(session.info.get(self._pending, ()))

    def _discard_pending(self, session: Session, transaction: SessionTransaction) -> None:
        # A rollback of an inner (flush) transaction rolls back up to the first savepoint or the
        # root; only what was queued since that point goes.
        boundary: SessionTransaction | None = transaction
        while boundary is not None and not boundary.nested and boundary.parent is not None:
            boundary = boundary.parent
        marks: dict[Any, int] = session.info.get(self._marks, {})
        mark = marks.get(boundary) if boundary is not None and boundary.nested else None
        if mark is None:
            session.info.pop(self._pending, None)
        else:
            del session.info.get(self._pending, [])[mark:]

    def _forget(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(self._marks, None)
            session.info.pop(self._pending, None)
