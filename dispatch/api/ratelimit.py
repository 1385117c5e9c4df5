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
from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify
from limits import RateLimitItem

from dispatch.platform.ratelimit import over_limit

RATE_LIMITED_RESPONSE = {
    "description": "Too many requests from this caller; retry after the Retry-After seconds",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _too_many(item: RateLimitItem, retry_after: int):
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
            over = over_limit(current_app.extensions, current_app.config, setting, str(g.actor.user_id))
            if over is not None:
                return _too_many(*over)
            return view(*args, **kwargs)

        return wrapper

    return decorator
