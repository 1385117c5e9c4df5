"""Outgoing webhooks signed as the Standard Webhooks scheme says (https://www.standardwebhooks.com).

Each delivery carries `webhook-id` (the message's id, the same on every retry), `webhook-timestamp`
(seconds since the epoch, of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
"{id}.{timestamp}.{body}" with the secret's bytes (the base64 after `whsec_`). A receiver checks
the signature, refuses a timestamp far from its clock and remembers ids it has seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import requests

SECRET_PREFIX = "whsec_"
# 32 random bytes: the scheme asks for 24 to 64.
SECRET_BYTES = 32
USER_AGENT = "Dispatch-Webhooks/1"


def new_secret() -> str:
    """A new signing secret for an endpoint: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A webhook message id, unique and the same for every retry of one message."""
    return "msg_" + secrets.token_urlsafe(18)


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value: `v1,` and base64 of HMAC-SHA256 over id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered: an HTTP status, or None and why nothing came back."""

    status: int | None
    error: str | None = None


_http = requests.Session()
# A provider's URL is reached directly: no proxy or .netrc from the worker's environment.
_http.trust_env = False


def post(url: str, secret: str, message_id: str, timestamp: int, body: str, timeout: float) -> Answer:
    """POST one signed delivery; never raises for what the network or the endpoint does."""
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    try:
        response = _http.post(
            url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        return Answer(None, f"no answer within {timeout:g} s")
    except requests.RequestException as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:300])
    response.close()
    return Answer(response.status_code)
