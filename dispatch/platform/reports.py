"""Where the reports read: a PostgreSQL streaming replica while it answers and keeps up, else the
primary.

Scorecards, rankings, the watch list and statements only read, and at a call centre's scale they
read a lot; a streaming replica (REPORTS_DATABASE_URL) takes that load off the primary. A report a
little behind is fine, one far behind is not: the replica is used while its replay lag is within
REPORTS_MAX_LAG_SECONDS, and the primary answers when the replica is down or lags more.

How the lag is measured, on the replica alone (one query, no connection to the primary needed):
- everything received from the primary is replayed (`pg_last_wal_receive_lsn() =
  pg_last_wal_replay_lsn()`): no lag, however long ago the last transaction was. The replay
  timestamp alone (`now() - pg_last_xact_replay_timestamp()`) would call an idle system's replica
  "hours behind" and send every report to the primary at night;
- WAL received but not yet replayed (replay slow or paused): the lag is the age of the last
  replayed transaction, `now() - pg_last_xact_replay_timestamp()`. That over-states the lag when
  the primary was idle before the unreplayed WAL came, which errs towards the primary: a report
  never silently reads data older than the bound.
- Comparing LSNs with the primary's `pg_current_wal_lsn()` gives bytes, not seconds, and needs a
  query on the primary per check; the setting is a time a supervisor understands.
A server that is not in recovery (a promoted replica, or the primary named twice) has no lag.

The check is cached for REPORTS_HEALTH_SECONDS per process, so a request pays for it at most once
in that time; the connection a report takes is still checked out (and pinged) at its start, so a
replica that stopped since the last check sends that report to the primary, not to an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.platform.db import make_engine

log = logging.getLogger(__name__)

PRIMARY = "primary"
REPLICA = "replica"

LAG_QUERY = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0.0
        WHEN pg_last_wal_receive_lsn() IS NOT NULL
             AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
        ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
    END
    """
)


@dataclass(frozen=True)
class Health:
    """What the last check of the replica found."""

    usable: bool
    lag_seconds: float | None  # None: down, or nothing replayed yet to date the lag by
    checked_at: float  # time.monotonic()
    reason: str = ""


class ReportsSource:
    """Hands each report a session: the replica's when it is healthy, else the primary's."""

    def __init__(
        self,
        primary: sessionmaker[Session],
        replica_url: str = "",
        *,
        max_lag_seconds: float = 30.0,
        health_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self.max_lag_seconds = float(max_lag_seconds)
        self.health_seconds = float(health_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._health: Health | None = None
        self._replica: sessionmaker[Session] | None = None
        if replica_url:
            # A replica that is gone must cost a report little: refuse fast rather than wait.
            engine = make_engine(replica_url, connect_args={"connect_timeout": 2})
            self._replica = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)

    @property
    def configured(self) -> bool:
        """Whether a replica is named at all."""
        return self._replica is not None

    def session(self) -> tuple[Session, str]:
        """A session for one report and where it reads (`replica` or `primary`)."""
        if self._replica is None or not self.health().usable:
            return self._primary(), PRIMARY
        session = self._replica()
        try:
            session.connection()  # checked out (and pinged) now, not halfway through the report
        except DBAPIError as exc:
            session.close()
            self._set(
                Health(False, None, self._clock(), f"connection failed: {type(exc.orig or exc).__name__}")
            )
            return self._primary(), PRIMARY
        return session, REPLICA

    def health(self) -> Health:
        """The replica's health, checked again when the last check is older than the cache time."""
        found = self._health
        if found is not None and self._clock() - found.checked_at < self.health_seconds:
            return found
        with self._lock:
            found = self._health
            if found is None or self._clock() - found.checked_at >= self.health_seconds:
                found = self.check()
                self._set(found)
            return found

    def check(self) -> Health:
        """Ask the replica how far behind it is (one query)."""
        assert self._replica is not None
        now = self._clock()
        try:
            with self._replica() as session:
                lag = session.scalar(LAG_QUERY)
        except DBAPIError as exc:
            return Health(False, None, now, f"down: {type(exc.orig or exc).__name__}")
        if lag is None:
            return Health(False, None, now, "replaying, with no transaction replayed yet to date the lag by")
        lag = max(0.0, float(lag))
        if lag > self.max_lag_seconds:
            return Health(False, lag, now, f"{lag:.1f}s behind (the bound is {self.max_lag_seconds:g}s)")
        return Health(True, lag, now)

    def _set(self, health: Health) -> None:
        before, self._health = self._health, health
        if before is None or before.usable != health.usable:
            if health.usable:
                log.info("reports read from the replica (%.1fs behind)", health.lag_seconds or 0.0)
            else:
                log.warning("reports read from the primary: the replica is %s", health.reason)

    def dispose(self) -> None:
        """Close the replica's connections."""
        if self._replica is not None:
            bind = self._replica.kw["bind"]
            bind.dispose()
