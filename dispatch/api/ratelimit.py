"""Per-caller rate limits for endpoints that end in phone calls or texts (each one costs money).

A view decorated with `@rate_limited("RATE_LIMIT_SALES")` (below `@requires`, above `@writes`)
counts each call against the caller's user id in Redis, so every API process shares one count.
The setting holds one or more limits in the `limits` package's notation ("120/minute;2000/hour");
an empty setting switches the limit off. Over the limit: 429 with Retry-After, nothing done.

If Redis cannot be reached the request is let through and a warning logged: a sale must never
be lost because the limiter's store is down (the outbox keeps working without Redis too).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify, request
from limits import RateLimitItem, parse_many
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from dispatch.platform.ratelimit import redis_storage
from dispatch.platform.redis_client import make_redis, redis_configured

log = logging.getLogger(__name__)

RATE_LIMITED_RESPONSE = {
    "description": "Too many requests from this caller; retry after the Retry-After seconds",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _limiter() -> SlidingWindowCounterRateLimiter | None:
    ext = current_app.extensions
    if "dispatch.ratelimiter" not in ext:
        limiter = None
        if redis_configured(current_app.config):
            redis = make_redis(current_app.config, socket_connect_timeout=0.5, socket_timeout=0.5)
            storage = redis_storage(
                redis, key_prefix=f"{current_app.config['QUEUE_PREFIX']}-ratelimit", wrap_exceptions=False
            )
            limiter = SlidingWindowCounterRateLimiter(storage)
        ext["dispatch.ratelimiter"] = limiter
    return ext["dispatch.ratelimiter"]


@functools.lru_cache(maxsize=64)
def _parse(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec)) if spec.strip() else ()


def _too_many(item: RateLimitItem, reset_at: float):
    retry_after = max(1, math.ceil(reset_at - time.time()))
    response = jsonify(
        code=429,
        status="Too Many Requests",
        message=f"rate limit of {item} per caller exceeded; retry in {retry_after} s",
        errors={},
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def rate_limited(setting: str) -> Callable:
    """Limit the view per authenticated caller by the limits named in `setting`."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            items = _parse(str(current_app.config.get(setting) or ""))
            limiter = _limiter() if items else None
            if limiter is not None:
                scope = request.endpoint or view.__name__
                caller = str(g.actor.user_id)
                try:
                    for item in items:
                        if not limiter.hit(item, scope, caller):
                            stats = limiter.get_window_stats(item, scope, caller)
                            return _too_many(item, stats.reset_time)
                except RedisError as exc:
                    log.warning("rate limiter unavailable, letting %s through: %s", scope, exc)
            return view(*args, **kwargs)

        return wrapper

    return decorator
