"""Rate limits kept in Redis, so that every worker and web process shares them.

Outbound calls: Twilio accepts about one new call per second per account by default, and a burst
above that is queued or refused by Twilio, so all workers reserve a slot in Redis before dialling.
Webhooks: a per-client cap (the `limits` package) that keeps a flood of requests from starving
the API.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from redis import Redis
from redis.exceptions import RedisError

from dispatch.platform.redis_client import make_redis, redis_configured

log = logging.getLogger(__name__)


def redis_storage(redis: Redis | None, **options: Any) -> Storage:
    """A `limits` storage on this Redis client's connection pool (in memory when None).

    Built on the client from dispatch.platform.redis_client.make_redis rather than on a URL, so that a
    limit behind Sentinel follows a failover like everything else.
    """
    if redis is None:
        return MemoryStorage()
    # The URI only names the backend here; the connections come from the pool.
    return RedisStorage("redis://", connection_pool=redis.connection_pool, **options)


# Reserve the next free slot, on the Redis server's clock (one clock for every worker, so no race
# between processes' clocks): slots are spaced 1/rate apart; the caller sleeps until its slot.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
if slot - now > max_wait then
  return {-1, now}
end
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', math.floor((slot + interval - now) / 1000) + 1000)
return {slot, now}
"""


class SharedRateLimit:
    """At most `per_second` new calls per second across all processes, evenly spaced.

    Twilio queues calls above the account's rate and spaces them 1/rate apart; doing the same on
    our side keeps a burst of due callbacks from piling up there. Each caller reserves the next
    slot atomically in Redis (a small Lua script on the server's clock) and sleeps until it.
    """

    def __init__(self, redis: Redis | str, key: str, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.key = key
        self.interval_us = int(1_000_000 / per_second)
        # A client from dispatch.platform.redis_client.make_redis; a URL is accepted for tools and tests.
        self.redis = Redis.from_url(redis) if isinstance(redis, str) else redis
        self.script = self.redis.register_script(_RESERVE)

    def acquire(self, timeout: float = 60.0) -> float | None:
        """Wait for a slot (at most `timeout` seconds); returns the slot's time, or None."""
        slot, now = self.script(keys=[self.key], args=[self.interval_us, int(timeout * 1_000_000)])
        if slot < 0:
            return None
        if slot > now:
            time.sleep((slot - now) / 1_000_000)
        return slot / 1_000_000


class RequestRateLimit:
    """A per-client cap on requests (e.g. "600/minute"); fails open if its storage is down."""

    def __init__(self, storage: Storage, spec: str, namespace: str) -> None:
        self.item = parse(spec)
        self.namespace = namespace
        self.limiter = FixedWindowRateLimiter(storage)

    def allow(self, client: str) -> bool:
        """Whether this client may make one more request now."""
        try:
            return self.limiter.hit(self.item, self.namespace, client)
        except Exception as exc:  # noqa: BLE001 - Redis down must not turn Twilio away
            log.warning("webhook rate limit unavailable, allowing: %s", type(exc).__name__)
            return True


class FailureThrottle:
    """Failures counted per key in a moving window (e.g. failed logins per account and per
    address); a key past its limit is refused until its oldest failure leaves the window.

    `limits` maps a kind of key ("account", "address") to a limit in the `limits` notation
    ("5/15 minutes"); an empty limit switches that kind off. Counts live in Redis, shared by
    every process. While Redis cannot be reached, each process counts in its own memory instead
    (a warning is logged): a throttle that let everything through would invite guessing.
    """

    def __init__(self, redis: Redis | None, limits: dict[str, str], prefix: str) -> None:
        self.items = {kind: parse(spec) for kind, spec in limits.items() if spec.strip()}
        self.namespace = prefix
        self.shared = MovingWindowRateLimiter(redis_storage(redis, key_prefix=prefix)) if redis else None
        self.local = MovingWindowRateLimiter(MemoryStorage())

    def _each(self, keys: dict[str, str], use: Any) -> Any:
        try:
            return use(self.shared or self.local)
        except Exception as exc:  # noqa: BLE001 - Redis away: count in this process
            log.warning("login throttle store unavailable, counting in memory: %s", type(exc).__name__)
            return use(self.local)

    def blocked(self, keys: dict[str, str]) -> float | None:
        """Seconds until these keys may try again, or None when none of them is over its limit."""

        def check(limiter: MovingWindowRateLimiter) -> float | None:
            wait = None
            for kind, item in self.items.items():
                if kind in keys and not limiter.test(item, self.namespace, kind, keys[kind]):
                    stats = limiter.get_window_stats(item, self.namespace, kind, keys[kind])
                    seconds = max(1.0, stats.reset_time - time.time())
                    wait = max(wait or 0.0, seconds)
            return wait

        return self._each(keys, check)

    def failed(self, keys: dict[str, str]) -> None:
        """Count one failure against each key."""

        def hit(limiter: MovingWindowRateLimiter) -> None:
            for kind, item in self.items.items():
                if kind in keys:
                    limiter.hit(item, self.namespace, kind, keys[kind])

        self._each(keys, hit)


@functools.lru_cache(maxsize=64)
def parse_limits(spec: str) -> tuple[RateLimitItem, ...]:
    """Limits in the `limits` notation, ";"-separated ("120/minute;3000/hour"); empty: none."""
    return tuple(parse_many(spec)) if spec.strip() else ()


class CallerLimits:
    """Per-caller limits on actions that end in calls or texts to customers (reporting a sale,
    closing an order), counted in Redis, so the API and the pages share one count per caller and
    action. Fails open (a warning logged) while Redis cannot be reached: a sale or a closing must
    never be lost because the limiter's store is down."""

    def __init__(self, redis: Redis | None, prefix: str) -> None:
        storage = redis_storage(redis, key_prefix=prefix, wrap_exceptions=False) if redis else None
        self.limiter = SlidingWindowCounterRateLimiter(storage) if storage else None

    def exceeded(self, spec: str, action: str, caller: str) -> tuple[RateLimitItem, int] | None:
        """Count one `action` by `caller`: the limit it went over and the seconds to wait, or None."""
        items = parse_limits(spec)
        if self.limiter is None or not items:
            return None
        try:
            for item in items:
                if not self.limiter.hit(item, action, caller):
                    reset_at = self.limiter.get_window_stats(item, action, caller).reset_time
                    return item, max(1, math.ceil(reset_at - time.time()))
        except RedisError as exc:
            log.warning("rate limiter unavailable, letting %s through: %s", action, exc)
        return None


def over_limit(
    extensions: dict[str, Any], settings: Mapping[str, Any], setting: str, caller: str
) -> tuple[RateLimitItem, int] | None:
    """Count one action limited by `setting` (e.g. RATE_LIMIT_CLOSE) for this caller, on the app's
    shared CallerLimits (kept in `extensions`): the API's count and the pages' count are one.
    Returns the limit exceeded and the seconds to wait, or None."""
    if "dispatch.ratelimiter" not in extensions:
        redis = (
            make_redis(settings, socket_connect_timeout=0.5, socket_timeout=0.5)
            if redis_configured(settings)
            else None
        )
        extensions["dispatch.ratelimiter"] = CallerLimits(redis, f"{settings['QUEUE_PREFIX']}-ratelimit")
    limits: CallerLimits = extensions["dispatch.ratelimiter"]
    return limits.exceeded(str(settings.get(setting) or ""), setting, caller)
