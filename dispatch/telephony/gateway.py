"""What every gateway shares: the Gateway protocol and its errors, webhook URLs and their
signing, the caller's number and the outbound rate limit's key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

# Where the webhooks live, under PUBLIC_BASE_URL.
WEBHOOK_PREFIX = "/api/v1/twilio"


# How a gateway asks for later work (the simulated customer answering): (job path, delay s, kwargs).
Schedule = Callable[[str, float, dict[str, Any]], None]


class GatewayError(Exception):
    """The provider did not take the request."""


class TransientError(GatewayError):
    """Nothing was sent (connection refused, 429, 503): trying again later is safe."""


class RejectedError(GatewayError):
    """Refused for good (e.g. an invalid number): trying again would fail the same way."""


class UncertainError(GatewayError):
    """The request may have reached the provider (a timeout after sending): never retry it."""


class Gateway(Protocol):
    """Places one call or sends one text for one contact attempt; returns the provider's sid."""

    backend: str

    def place_call(self, to: str, attempt_id: int) -> str:
        """Dial `to`; Twilio then fetches the voice webhook and reports to the status webhook."""
        ...

    def send_sms(self, to: str, body: str, attempt_id: int) -> str:
        """Text `to`; delivery reports go to the SMS status webhook, replies to the SMS webhook."""
        ...

    def send_text(self, to: str, body: str, reference: str) -> str:
        """Text `to` outside any callback attempt (a reminder, a notice); `reference` is for the log."""
        ...


def webhook_url(settings: dict[str, Any], name: str, **query: Any) -> str:
    """The public URL of one webhook (what Twilio calls and what signatures are computed over)."""
    url = settings["PUBLIC_BASE_URL"].rstrip("/") + f"{WEBHOOK_PREFIX}/{name}"
    return url + ("?" + urlencode(query) if query else "")


def signing_token(settings: dict[str, Any]) -> str:
    """The key webhooks are signed with: Twilio's auth token, or this installation's simulator secret.

    Empty when neither is set; the webhooks then refuse every request (start-up refuses it first).
    """
    token = settings.get("TWILIO_AUTH_TOKEN") or ""
    if not token and settings["TELEPHONY_BACKEND"] == "simulator":
        return str(settings.get("SIMULATOR_SIGNING_SECRET") or "")
    return token


def caller_number(settings: dict[str, Any]) -> str:
    """The number calls and texts come from."""
    return settings.get("TWILIO_FROM_NUMBER") or "+15005550006"


def rate_limit_key(settings: dict[str, Any], channel: str) -> str:
    """One outbound limit per Twilio account (or simulator) and channel, shared by every worker."""
    account = settings.get("TWILIO_ACCOUNT_SID") or settings["TELEPHONY_BACKEND"]
    return f"dispatch-outbound:{channel}:{account}"
