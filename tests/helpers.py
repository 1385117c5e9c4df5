"""Test helpers: seed data and call the API as a given role."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from dispatch.reference import demo

_serials = itertools.count(1)


def future_window(days: int = 3, hours: int = 3) -> dict[str, str]:
    """An appointment window a few days ahead, in UTC."""
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=15, minute=0, second=0, microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


def sale_body(
    *,
    phone: str = "+1 217 555 0199",
    name: str = "Mary Smith",
    address: str = "12 Elm St",
    city: str = "Springfield",
    model: str = "EW-50",
    delivery: bool = True,
    installation: bool = True,
    appointment: dict | None = None,
    serial: str | None | bool = True,
    items: list[dict] | None = None,
) -> dict[str, Any]:
    """A valid sale report; override what a test is about."""
    item: dict[str, Any] = {"model": model, "delivery": delivery, "installation": installation}
    if serial is True:
        item["serial_number"] = f"SN-{next(_serials):06d}"
    elif serial:
        item["serial_number"] = serial
    body: dict[str, Any] = {
        "shop": "Main St Appliances",
        "salesperson": "Jo Counter",
        "sold_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "customer": {"name": name, "phone": phone, "address": address, "city": city},
        "items": items or [item],
    }
    if appointment is not None:
        body["appointment"] = appointment
    return body


class Api:
    """A Flask test client with one token per demo user."""

    def __init__(self, client, tokens: dict[str, str]):
        self.client = client
        self.tokens = tokens

    @classmethod
    def seeded(cls, client, session_factory) -> Api:
        with session_factory() as session:
            tokens = demo.seed(session)
            session.commit()
        return cls(client, tokens)

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if who is not None:
            headers["Authorization"] = "Bearer " + self.tokens[self.user(who)]
        return headers

    @staticmethod
    def user(who: str) -> str:
        """'agent' -> 'demo-agent'; 'provider:SPR-HEAT' -> 'demo-provider-SPR-HEAT'."""
        return "demo-" + who.replace(":", "-")

    def get(self, path: str, who: str | None, **kw):
        return self.client.get(path, headers=self.headers(who), **kw)

    def post(self, path: str, who: str | None, json: Any = None, key: str | None = None, **kw):
        extra = {"Idempotency-Key": key} if key else {}
        return self.client.post(path, json=json, headers=self.headers(who, **extra), **kw)

    def put(self, path: str, who: str | None, json: Any = None, **kw):
        return self.client.put(path, json=json, headers=self.headers(who), **kw)

    def delete(self, path: str, who: str | None, **kw):
        return self.client.delete(path, headers=self.headers(who), **kw)

    # --- the flow --------------------------------------------------------------------------

    def sale(self, who: str = "sales", **kw) -> dict:
        response = self.post("/api/v1/sales", who, sale_body(**kw))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def close(
        self,
        order_id: int,
        provider: str,
        installer_id: int,
        *,
        outcome: str = "completed",
        reason: str | None = None,
        note: str | None = None,
    ):
        body: dict[str, Any] = {
            "outcome": outcome,
            "installer_id": installer_id,
            "visited_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        }
        if reason:
            body["reason"] = reason
        if note:
            body["note"] = note
        return self.post(f"/api/v1/work-orders/{order_id}/close", f"provider:{provider}", body)
