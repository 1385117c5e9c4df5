"""Personal data kept out of the append-only audit trail: keyed digests stand in for it.

The audit trail can never be changed, so nothing in it may identify a customer: it records ids,
and where it must show *which* number or text an event was about, an HMAC-SHA256 of that value
under the installation's PII_HASH_SECRET. Given the value and the secret, anyone can check that
an event was about it (a phone number that opted out, the note a row holds); without the secret,
a digest says nothing, and once the value is erased from the rows nothing links it back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from dispatch.platform.config import load_settings

ERASED = "(erased)"


def _key(settings: Mapping[str, Any] | None) -> bytes:
    # Views pass current_app.config and jobs runtime.settings(); anything else reads the
    # process's configuration, as the callbacks domain does.
    cfg = settings if settings is not None else load_settings()
    return str(cfg.get("PII_HASH_SECRET") or "").encode()


def digest(value: str, settings: Mapping[str, Any] | None = None) -> str:
    """The keyed digest (HMAC-SHA256, hex) of a personal value, for the audit trail."""
    return hmac.new(_key(settings), value.encode(), hashlib.sha256).hexdigest()


def text_digest(value: str | None, settings: Mapping[str, Any] | None = None) -> str | None:
    """The keyed digest of a free-text note, or None when there is no note."""
    return digest(value, settings) if value else None


def erased_phone(customer_id: int) -> str:
    """The placeholder for an erased customer's phone: unique (customers.phone is UNIQUE), never dialable."""
    return f"erased:{customer_id}"
