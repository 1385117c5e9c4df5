"""The `twilio` backend: the official SDK, optionally pointed at another REST base URL."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dispatch.platform.phones import masked
from dispatch.telephony.gateway import (
    RejectedError,
    TransientError,
    UncertainError,
    caller_number,
    webhook_url,
)

log = logging.getLogger(__name__)

# Seconds the phone rings before Twilio gives up (no-answer).
RING_SECONDS = 25
# Seconds to wait for Twilio's REST API before giving up on one request.
HTTP_TIMEOUT = 15.0


class RebasedHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending every request to another base URL.

    For an egress proxy or a local stand-in for Twilio: the SDK builds the real request (path,
    form fields, basic auth) for https://api.twilio.com/..., and only scheme and host change.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def _not_sent(exc: requests.RequestException) -> bool:
    """Whether a connection error happened before the request could have reached Twilio."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        return any(s in text for s in ("NewConnectionError", "NameResolutionError", "Connection refused"))
    return False


class TwilioGateway:
    """Calls and texts through Twilio's REST API."""

    backend = "twilio"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        base = settings.get("TWILIO_API_BASE_URL") or ""
        http = (
            RebasedHttpClient(base, timeout=HTTP_TIMEOUT) if base else TwilioHttpClient(timeout=HTTP_TIMEOUT)
        )
        self.client = Client(settings["TWILIO_ACCOUNT_SID"], settings["TWILIO_AUTH_TOKEN"], http_client=http)
        self.from_ = caller_number(settings)

    def _create(self, what: str, to: str, create) -> str:
        try:
            return create().sid
        except TwilioRestException as exc:
            # 429 (too many requests) and 503 mean Twilio did not take the request.
            if exc.status in (429, 503):
                raise TransientError(f"twilio {exc.status} code {exc.code}") from exc
            if exc.status >= 500:
                raise UncertainError(f"twilio {exc.status} code {exc.code}") from exc
            log.warning("twilio refused a %s to %s: %s %s", what, masked(to), exc.status, exc.code)
            raise RejectedError(f"twilio {exc.status} code {exc.code}") from exc
        except requests.RequestException as exc:
            if _not_sent(exc):
                raise TransientError(f"twilio unreachable: {type(exc).__name__}") from exc
            raise UncertainError(f"twilio request outcome unknown: {type(exc).__name__}") from exc

    def place_call(self, to: str, attempt_id: int) -> str:
        """Dial with answering-machine detection; the menu is served by the voice webhook."""
        return self._create(
            "call",
            to,
            lambda: self.client.calls.create(
                to=to,
                from_=self.from_,
                url=webhook_url(self.settings, "voice", attempt=attempt_id),
                method="POST",
                status_callback=webhook_url(self.settings, "status", attempt=attempt_id),
                status_callback_method="POST",
                status_callback_event=["answered", "completed"],
                machine_detection="Enable",
                timeout=RING_SECONDS,
            ),
        )

    def send_sms(self, to: str, body: str, attempt_id: int) -> str:
        """Send one text; delivery reports go to the SMS status webhook."""
        return self._create(
            "text",
            to,
            lambda: self.client.messages.create(
                to=to,
                from_=self.from_,
                body=body,
                status_callback=webhook_url(self.settings, "sms-status", attempt=attempt_id),
            ),
        )

    def send_text(self, to: str, body: str, reference: str) -> str:
        """Send one text that belongs to no callback attempt (a reminder, a notice, an invitation).

        `reference` names what is sent (e.g. "message-42") in the log; delivery reports are not
        asked for. Raises TransientError (not sent: safe to retry), UncertainError (may have been
        sent: never retry blindly) or RejectedError (refused: the number is wrong).
        """
        log.info("texting %s (%s)", masked(to), reference)
        return self._create(
            "text", to, lambda: self.client.messages.create(to=to, from_=self.from_, body=body)
        )
