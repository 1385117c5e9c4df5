"""Redis settings for the rq command line: `rq worker -c dispatch.jobs.rqconfig ...`, `rq cron -c
dispatch.jobs.rqconfig dispatch.jobs.cron_config`, `rq info -c dispatch.jobs.rqconfig`.

RQ 2.12's CLI has no Sentinel option: it takes `--url`, or a settings module (`-c`) whose
REDIS_URL or SENTINEL it turns into a connection (rq/cli/helpers.py, get_redis_from_config).
This module fills those from Dispatch's own settings, with the same values
dispatch.platform.redis_client.make_redis uses, so the worker and cron find the master the Sentinels name
(and follow a failover) exactly like the API and the jobs do. Without Sentinels it is REDIS_URL,
the same as `--url $REDIS_URL`.
"""

from __future__ import annotations

from typing import Any

from dispatch.jobs import runtime
from dispatch.platform import redis_client
from dispatch.platform.config import ConfigError


def rq_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """RQ's REDIS_URL, or its SENTINEL dictionary when REDIS_SENTINELS is set."""
    sentinels = redis_client.sentinel_addresses(settings)
    if not sentinels:
        if not settings.get("REDIS_URL"):
            raise ConfigError("neither REDIS_URL nor REDIS_SENTINELS is set")
        # With timeouts: `rq cron` waited for ever on a Redis host that vanished without a reset.
        return {"REDIS_URL": redis_client.url_with_timeouts(settings["REDIS_URL"]), "SENTINEL": None}
    auth = redis_client.master_auth(settings)
    sentinel = {
        "INSTANCES": sentinels,
        "MASTER_NAME": redis_client.master_name(settings),
        "DB": auth.get("db", 0),
        "USERNAME": auth.get("username"),
        "PASSWORD": auth.get("password"),
        "SOCKET_TIMEOUT": redis_client.MASTER_SOCKET_TIMEOUT_SECONDS,
        # The connection class make_redis uses (RQ hands these to Sentinel(...)); see its docstring.
        "CONNECTION_KWARGS": {
            "connection_class": redis_client.SentinelConnection,
            "socket_connect_timeout": redis_client.MASTER_CONNECT_TIMEOUT_SECONDS,
        },
        # Without these RQ asks the Sentinels with no timeout, so one dead Sentinel host would hang
        # the worker's or cron's start (and every reconnection) however many others answer.
        "SENTINEL_KWARGS": redis_client.sentinel_options(),
    }
    return {"REDIS_URL": None, "SENTINEL": sentinel}


# RQ reads the UPPERCASE names of this module; REDIS_URL wins when it is not None.
_chosen = rq_settings(runtime.settings())
REDIS_URL: str | None = _chosen["REDIS_URL"]
SENTINEL: dict[str, Any] | None = _chosen["SENTINEL"]
