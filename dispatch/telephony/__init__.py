"""Telephony: outbound calls and texts through a Gateway, chosen by the TELEPHONY_BACKEND setting.

`twilio` talks to Twilio's REST API with the official SDK; `simulator` (the embedded default) is a
built-in phone network whose simulated customers answer by driving the same signed webhooks Twilio
would. Either way the customer's answers come back through dispatch/api/webhooks.py.
"""

from __future__ import annotations

from typing import Any

from dispatch.telephony.gateway import (
    WEBHOOK_PREFIX,
    Gateway,
    GatewayError,
    RejectedError,
    Schedule,
    TransientError,
    UncertainError,
    caller_number,
    rate_limit_key,
    signing_token,
    webhook_url,
)

__all__ = [
    "WEBHOOK_PREFIX",
    "Gateway",
    "GatewayError",
    "RejectedError",
    "Schedule",
    "TransientError",
    "UncertainError",
    "caller_number",
    "make_gateway",
    "rate_limit_key",
    "signing_token",
    "webhook_url",
]


def make_gateway(settings: dict[str, Any], schedule: Schedule | None = None) -> Gateway:
    """The gateway named by TELEPHONY_BACKEND."""
    backend = settings["TELEPHONY_BACKEND"]
    if backend == "twilio":
        from dispatch.telephony.twilio_gateway import TwilioGateway

        return TwilioGateway(settings)
    if backend == "simulator":
        from dispatch.telephony.simulator import SimulatorGateway

        if schedule is None:
            raise ValueError("the simulator needs a schedule function to play its customers")
        return SimulatorGateway(settings, schedule)
    raise ValueError(f"unknown TELEPHONY_BACKEND {backend!r}")
