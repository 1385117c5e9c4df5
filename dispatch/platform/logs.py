"""Log redaction: no full phone number, bearer token or configured secret reaches a log line.

Phone numbers are found by their shape, not only by name: E.164 anywhere, a query or form
parameter of any name whose value looks like a number, and national formats in free text.

Redaction happens when a log record is created (a record factory), not in a handler, so it
covers every logger of the process - Flask's, gunicorn's error and access logs, RQ's, the
Twilio SDK's - whatever handlers they write to. Arguments are merged into the message first,
so `log.info("calling %s", phone)` is redacted as well as an f-string; a traceback is
formatted and redacted at the same moment.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from dispatch.platform.phones import masked

# E.164-looking numbers: a '+' (or its URL encoding) and 8 to 15 digits, single separators allowed
# ("+1 217 555 0199", "+1-217-555-0199", "%2B12175550199"). ISO time offsets ("+00:00") do not
# match: they have too few digits.
_E164 = re.compile(r"(?<![\d+])(?:\+|%2[bB])\d(?:[ ().-]?\d){7,14}(?!\d)")
# Phone-bearing query or form parameters in any format ("phone=(217)%20555-0199", "To=...").
_PHONE_PARAM = re.compile(r"(?i)(?<![\w])(phone|to|from|caller|called)=([^&\s\"']+)")
# Any other parameter ("q=217-555-0199", "search=%2B8613812345678"): masked when its value looks
# like a phone number (below), whatever the parameter is called.
_ANY_PARAM = re.compile(r"(?<![\w%])([\w.\[\]-]+)=([^&\s\"']+)")
_PHONE_SHAPED = re.compile(r"[+\d\s().-]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# National formats in free text, without a '+': grouped ("(217) 555-0199", "217.555.0199",
# "138 1234 5678", "020 7183 8750") or a bare run of 10 digits starting 2-9 (a North American
# number; Unix times now start with 1) or of 11 starting 1 (China's mobiles, or 1 + an area code).
_NATIONAL = re.compile(
    r"(?<![\w+.:/-])(?:\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]\d{4}|[2-9]\d{9}|1[2-9]\d{9})(?![\w.:/-]?\d)(?![\w])"
)
# Credentials in headers or text: "Bearer <token>", "Basic <base64>" (the Twilio SDK's auth).
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=_-]{8,}")
# Dispatch's own tokens wherever they appear; the 12-character prefix `token list` shows is kept.
_DISPATCH_TOKEN = re.compile(r"\b(dsp_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]{4,}")
# Passwords in connection URLs (postgresql://user:secret@host).
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):([^@/\s]+)@")

# Settings whose values are secrets, by name.
_SECRET_SETTING = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY)")

_secrets: set[str] = set()
_installed = False


def _mask_e164(match: re.Match[str]) -> str:
    text = match.group(0).replace("%2B", "+").replace("%2b", "+")
    digits = "+" + re.sub(r"\D", "", text)
    return masked(digits)


def _mask_param(match: re.Match[str]) -> str:
    value = unquote(match.group(2))  # "%20" is a space here, not digits of the number
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:  # "from=2024-01-01"-like values with few digits are not phone numbers
        return match.group(0)
    return f"{match.group(1)}=" + masked("+" + digits)


def _mask_any_param(match: re.Match[str]) -> str:
    value = unquote(match.group(2))
    digits = re.sub(r"\D", "", value)
    if not _PHONE_SHAPED.fullmatch(value) or not 7 <= len(digits) <= 15 or _ISO_DATE.fullmatch(value):
        return match.group(0)
    return f"{match.group(1)}=" + masked("+" + digits)


def _mask_national(match: re.Match[str]) -> str:
    return masked("+" + re.sub(r"\D", "", match.group(0)))


def redact(text: str) -> str:
    """The text with phone numbers masked and tokens and secrets removed."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[secret]")
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _DISPATCH_TOKEN.sub(r"\1…", text)
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _PHONE_PARAM.sub(_mask_param, text)
    text = _ANY_PARAM.sub(_mask_any_param, text)
    text = _E164.sub(_mask_e164, text)
    return _NATIONAL.sub(_mask_national, text)


def _redacting_factory(original: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's problem to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            # Formatters only format exc_info when exc_text is empty; keep the redacted text.
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    factory._dispatch_redacting = True  # type: ignore[attr-defined]
    return factory


def secret_values(settings: Mapping[str, Any]) -> Iterable[str]:
    """The values of settings that are secrets (tokens, passwords), long enough to match safely."""
    for key, value in settings.items():
        if isinstance(value, str) and len(value) >= 8 and _SECRET_SETTING.search(key):
            yield value


def install(settings: Mapping[str, Any] | None = None) -> None:
    """Redact every log record of this process from now on; safe to call more than once."""
    global _installed
    if settings:
        _secrets.update(secret_values(settings))
    if _installed:
        return
    current = logging.getLogRecordFactory()
    if not getattr(current, "_dispatch_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
    _installed = True
