"""The role x endpoint matrix: every route under /api/v1, called as nobody, with a bad and a
revoked token, as every role, and as another provider.

PERMISSIONS below is the contract, written out so that a change of who may do what is a visible
diff; the test fails for a route that has no entry (a new endpoint must be classified) and for
an entry whose route is gone. docs/SECURITY.md's role table is checked against it.

For each route: 401 without a token or with a bad or revoked one; 403 for a role not listed;
never 401/403 for a listed role; a refused call changes nothing (every table's content is
hashed before and after, the audit trail included); a provider gets 404 for another provider's
orders and complaints and never finds another provider's data in any answer.
Twilio webhooks are public but signed: unsigned calls are 403 whatever token comes with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from dispatch import auth, outreach
from dispatch.audit import callbacks, ledger
from dispatch.care import campaigns
from dispatch.models import Callback, Complaint, Coverage, Fine, LedgerEntry, Provider, ProviderNotice, User
from dispatch.platform.actors import Actor
from dispatch.telephony import make_gateway
from tests.helpers import Api, future_window, sale_body
from tests.notices_support import awake, run_due

ROLES = ("sales", "agent", "provider", "callback", "supervisor", "admin")
EVERYONE = frozenset(ROLES)
HQ = frozenset({"agent", "callback", "supervisor", "admin"})
# Scorecards, rankings and the ledger: headquarters' supervisors see all, a provider its own.
CHECKERS = frozenset({"supervisor", "provider"})
SUPERVISOR = frozenset({"supervisor"})
PUBLIC = "public"  # no token needed
SIGNED = "twilio-signed"  # no token; a valid X-Twilio-Signature instead

# (method, Flask rule) -> roles allowed. Keep it sorted by path; every route must be here.
PERMISSIONS: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/api/v1/callbacks"): frozenset({"callback", "supervisor"}),
    ("GET", "/api/v1/callbacks/<int:callback_id>"): frozenset({"callback", "supervisor"}),
    ("POST", "/api/v1/callbacks/<int:callback_id>/answer"): frozenset({"callback"}),
    ("POST", "/api/v1/callbacks/<int:callback_id>/claim"): frozenset({"callback"}),
    ("POST", "/api/v1/callbacks/<int:callback_id>/release"): frozenset({"callback"}),
    ("GET", "/api/v1/campaigns"): SUPERVISOR,
    ("POST", "/api/v1/campaigns"): SUPERVISOR,
    ("GET", "/api/v1/campaigns/<int:campaign_id>"): SUPERVISOR,
    ("POST", "/api/v1/campaigns/<int:campaign_id>/pause"): SUPERVISOR,
    ("GET", "/api/v1/campaigns/<int:campaign_id>/preview"): SUPERVISOR,
    ("POST", "/api/v1/campaigns/<int:campaign_id>/resume"): SUPERVISOR,
    ("POST", "/api/v1/campaigns/<int:campaign_id>/run"): SUPERVISOR,
    ("GET", "/api/v1/cities"): EVERYONE,
    ("POST", "/api/v1/cities"): frozenset({"admin"}),
    ("GET", "/api/v1/complaints"): frozenset({"supervisor", "provider"}),
    ("GET", "/api/v1/complaints/<int:complaint_id>"): frozenset({"supervisor", "provider"}),
    ("POST", "/api/v1/complaints/<int:complaint_id>/status"): frozenset({"supervisor"}),
    ("GET", "/api/v1/coverage"): HQ,
    ("POST", "/api/v1/coverage"): frozenset({"admin"}),
    ("DELETE", "/api/v1/coverage/<int:coverage_id>"): frozenset({"admin"}),
    ("GET", "/api/v1/customers"): HQ,
    ("GET", "/api/v1/customers/<int:customer_id>"): HQ,
    ("GET", "/api/v1/customers/<int:customer_id>/contacts"): frozenset({"agent", "callback", "supervisor"}),
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/hotline/requests"): frozenset({"agent", "supervisor"}),
    ("POST", "/api/v1/hotline/requests/<int:request_id>/done"): frozenset({"agent", "supervisor"}),
    ("GET", "/api/v1/installers"): HQ | {"provider"},
    ("POST", "/api/v1/installers"): frozenset({"admin"}),
    ("GET", "/api/v1/ledger/appeals"): CHECKERS,
    ("GET", "/api/v1/ledger/appeals/<int:appeal_id>"): CHECKERS,
    ("POST", "/api/v1/ledger/appeals/<int:appeal_id>/decision"): SUPERVISOR,
    ("GET", "/api/v1/ledger/entries"): CHECKERS,
    ("GET", "/api/v1/ledger/entries/<int:entry_id>"): CHECKERS,
    ("POST", "/api/v1/ledger/entries/<int:entry_id>/reversal"): SUPERVISOR,
    ("GET", "/api/v1/ledger/fines"): CHECKERS,
    ("GET", "/api/v1/ledger/fines/<int:fine_id>"): CHECKERS,
    ("POST", "/api/v1/ledger/fines/<int:fine_id>/appeal"): frozenset({"provider"}),
    ("POST", "/api/v1/ledger/fines/<int:fine_id>/decision"): SUPERVISOR,
    ("GET", "/api/v1/ledger/months"): SUPERVISOR,
    ("POST", "/api/v1/ledger/months/<string:month>/close"): SUPERVISOR,
    ("GET", "/api/v1/ledger/statements/installers/<string:installer_code>/<string:month>"): CHECKERS,
    ("GET", "/api/v1/ledger/statements/installers/<string:installer_code>/<string:month>.csv"): CHECKERS,
    ("GET", "/api/v1/ledger/statements/providers/<string:provider_code>/<string:month>"): CHECKERS,
    ("GET", "/api/v1/ledger/statements/providers/<string:provider_code>/<string:month>.csv"): CHECKERS,
    ("GET", "/api/v1/notices"): frozenset({"supervisor", "admin", "provider"}),
    ("GET", "/api/v1/notices/<int:notice_id>"): frozenset({"supervisor", "admin", "provider"}),
    ("GET", "/api/v1/maintenance-plans"): frozenset({"agent", "callback", "supervisor"}),
    ("POST", "/api/v1/maintenance-plans"): SUPERVISOR,
    ("GET", "/api/v1/maintenance/past-due"): frozenset({"agent", "supervisor"}),
    ("GET", "/api/v1/product-lines"): EVERYONE,
    ("POST", "/api/v1/product-lines"): frozenset({"admin"}),
    ("GET", "/api/v1/product-models"): EVERYONE,
    ("POST", "/api/v1/product-models"): frozenset({"admin"}),
    ("GET", "/api/v1/providers"): HQ,
    ("POST", "/api/v1/providers"): frozenset({"admin"}),
    ("GET", "/api/v1/providers/<provider_code>/endpoint"): frozenset({"admin", "supervisor"}),
    ("PUT", "/api/v1/providers/<provider_code>/endpoint"): frozenset({"admin"}),
    ("DELETE", "/api/v1/providers/<provider_code>/endpoint"): frozenset({"admin"}),
    ("GET", "/api/v1/rankings/installers"): CHECKERS,
    ("GET", "/api/v1/rankings/installers.csv"): CHECKERS,
    ("GET", "/api/v1/rankings/providers"): CHECKERS,
    ("GET", "/api/v1/rankings/providers.csv"): CHECKERS,
    ("GET", "/api/v1/rankings/teams"): CHECKERS,
    ("GET", "/api/v1/rankings/teams.csv"): CHECKERS,
    ("GET", "/api/v1/rankings/watch-list"): SUPERVISOR,
    ("POST", "/api/v1/repairs"): frozenset({"agent"}),
    ("POST", "/api/v1/sales"): frozenset({"sales", "agent"}),
    ("GET", "/api/v1/sale-receipts"): frozenset({"sales", "agent", "supervisor", "admin"}),
    ("GET", "/api/v1/sale-receipts/<int:receipt_id>"): frozenset({"sales", "agent", "supervisor", "admin"}),
    ("GET", "/api/v1/scorecards"): CHECKERS,
    ("GET", "/api/v1/scorecards/providers/<string:provider_code>"): CHECKERS,
    ("GET", "/api/v1/scorecards/providers/<string:provider_code>/orders"): CHECKERS,
    ("POST", "/api/v1/twilio/gather"): SIGNED,
    ("POST", "/api/v1/twilio/sms"): SIGNED,
    ("POST", "/api/v1/twilio/sms-status"): SIGNED,
    ("POST", "/api/v1/twilio/status"): SIGNED,
    ("POST", "/api/v1/twilio/voice"): SIGNED,
    ("GET", "/api/v1/units"): HQ,
    ("GET", "/api/v1/users"): frozenset({"admin"}),
    ("POST", "/api/v1/users/<int:user_id>/active"): frozenset({"admin"}),
    ("GET", "/api/v1/work-orders"): HQ | {"provider"},
    ("GET", "/api/v1/work-orders/<int:order_id>"): HQ | {"provider"},
    # Sales: only orders of its own sales, within SALES_APPOINTMENT_HOURS (404 otherwise; tests/test_booking.py).
    ("PUT", "/api/v1/work-orders/<int:order_id>/appointment"): frozenset({"agent", "sales", "supervisor"}),
    ("POST", "/api/v1/work-orders/<int:order_id>/assign"): frozenset({"supervisor"}),
    ("POST", "/api/v1/work-orders/<int:order_id>/cancel"): frozenset({"agent", "supervisor"}),
    ("POST", "/api/v1/work-orders/<int:order_id>/close"): frozenset({"provider"}),
}

# Path parameters whose resource belongs to one provider: another provider gets 404 on them.
PROVIDER_OWNED = {
    "order_id",
    "complaint_id",
    "fine_id",
    "appeal_id",
    "entry_id",
    "provider_code",
    "installer_code",
    "notice_id",
}

# The provider acting as "own", and the one that must never see its data.
OWN, OTHER = "SPR-HEAT", "RIV-PRO"
# Strings that identify OWN's customer: no answer to OTHER may contain any of them.
CANARY_NAME, CANARY_PHONE, CANARY_ADDRESS = "Quincy Canaryfield", "+12175550142", "42 Canary Row"


@dataclass
class World:
    api: Api
    ids: dict[str, int | str]  # path parameter -> id (or code) of OWN's resource (or any, for non-owned ones)
    serial: str
    revoked_token: str
    other_customer_name: str


def _iso(minutes_ago: int = 30) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


# Valid request bodies: if a role check were missing, a refused call would make a change.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/callbacks/<int:callback_id>/answer"): lambda w: {
        "reached": True,
        "happened": "nobody_came",
    },
    ("POST", "/api/v1/callbacks/<int:callback_id>/claim"): lambda w: None,
    ("POST", "/api/v1/callbacks/<int:callback_id>/release"): lambda w: None,
    ("POST", "/api/v1/campaigns"): lambda w: {
        "code": "thaw",
        "name": "Spring thaw",
        "product_lines": ["gas_wh"],
        "texts": {"en": "Spring is here.", "zh-CN": "春天来了。"},
    },
    ("POST", "/api/v1/campaigns/<int:campaign_id>/pause"): lambda w: None,
    ("POST", "/api/v1/campaigns/<int:campaign_id>/resume"): lambda w: None,
    ("POST", "/api/v1/campaigns/<int:campaign_id>/run"): lambda w: None,
    ("POST", "/api/v1/cities"): lambda w: {"name": "Newtown", "timezone": "America/Chicago"},
    ("POST", "/api/v1/complaints/<int:complaint_id>/status"): lambda w: {"status": "closed", "note": "done"},
    ("POST", "/api/v1/coverage"): lambda w: {
        "provider": "LAKE-SVC",
        "city": "Bayview",
        "product_line": "gas_wh",
    },
    ("DELETE", "/api/v1/coverage/<int:coverage_id>"): lambda w: None,
    ("POST", "/api/v1/hotline/requests/<int:request_id>/done"): lambda w: {"note": "called back"},
    ("POST", "/api/v1/installers"): lambda w: {"code": "NP-01", "name": "New Fitter", "provider": OWN},
    ("POST", "/api/v1/ledger/appeals/<int:appeal_id>/decision"): lambda w: {
        "decision": "uphold",
        "reason": "the visit log shows no visit",
    },
    ("POST", "/api/v1/ledger/entries/<int:entry_id>/reversal"): lambda w: {"reference": "TICKET-7"},
    ("POST", "/api/v1/ledger/fines/<int:fine_id>/appeal"): lambda w: {"statement": "our installer was there"},
    ("POST", "/api/v1/ledger/fines/<int:fine_id>/decision"): lambda w: {"decision": "void", "reason": "no"},
    ("POST", "/api/v1/ledger/months/<string:month>/close"): lambda w: {"note": "payroll run"},
    ("POST", "/api/v1/maintenance-plans"): lambda w: {
        "code": "gas-clean",
        "name": "tank cleaning",
        "product_line": "gas_wh",
        "interval_months": 12,
    },
    ("POST", "/api/v1/product-lines"): lambda w: {"code": "heat_pump", "name": "Heat pumps"},
    ("POST", "/api/v1/product-models"): lambda w: {
        "code": "HP-1",
        "name": "Pump",
        "product_line": "electric_wh",
    },
    ("POST", "/api/v1/providers"): lambda w: {"code": "NEW-P", "name": "New Provider"},
    ("PUT", "/api/v1/providers/<provider_code>/endpoint"): lambda w: {
        "url": "https://heat.example.com/hooks"
    },
    ("DELETE", "/api/v1/providers/<provider_code>/endpoint"): lambda w: None,
    ("POST", "/api/v1/repairs"): lambda w: {
        "serial_number": w.serial,
        "fault_category": "leak",
        "fault_description": "drips",
    },
    ("POST", "/api/v1/sales"): lambda w: sale_body(phone="+1 217 555 0111", name="New Buyer"),
    ("POST", "/api/v1/users/<int:user_id>/active"): lambda w: {"active": False},
    ("PUT", "/api/v1/work-orders/<int:order_id>/appointment"): lambda w: {"window": future_window(days=6)},
    ("POST", "/api/v1/work-orders/<int:order_id>/assign"): lambda w: {"provider": "SPR-QUICK"},
    ("POST", "/api/v1/work-orders/<int:order_id>/cancel"): lambda w: {"reason": "customer withdrew"},
    ("POST", "/api/v1/work-orders/<int:order_id>/close"): lambda w: {
        "outcome": "completed",
        "installer_id": 1,
        "visited_at": _iso(),
    },
}


# Queries for reads that need one to find anything.
def _days(_w: World) -> str:
    """Yesterday to tomorrow (UTC dates): the world's local day, wherever its cities are."""
    today = datetime.now(UTC).date()
    return f"?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"


QUERIES: dict[tuple[str, str], Any] = {
    ("GET", "/api/v1/customers"): lambda w: "?name=Canaryfield",
    ("GET", "/api/v1/units"): lambda w: f"?serial_number={w.serial}",
    **{
        ("GET", f"/api/v1/{path}"): _days
        for path in (
            "rankings/installers",
            "rankings/installers.csv",
            "rankings/providers",
            "rankings/providers.csv",
            "rankings/teams",
            "rankings/teams.csv",
            "rankings/watch-list",
            "scorecards",
            "scorecards/providers/<string:provider_code>",
        )
    },
    ("GET", "/api/v1/scorecards/providers/<string:provider_code>/orders"): lambda w: (
        _days(w) + "&figure=closed"
    ),
}

# Routes that act on a resource in another state than the fixture's default one of that kind.
RESOURCE_FOR: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/v1/work-orders/<int:order_id>/assign"): {"order_id": "unassigned_order_id"},
}

TWILIO_FORM = {"CallSid": "CA" + "0" * 32, "From": "+12175550142", "To": "+12175550100", "Digits": "2"}


def api_routes(app) -> list[tuple[str, str]]:
    """Every (method, rule) the app serves under /api/v1."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def _close_not_home(api: Api, session_factory, order_id: int, provider: str, installer: int) -> None:
    """Close as 'customer not home', then the customer says nobody came: a complaint."""
    closed = api.close(order_id, provider, installer, outcome="not_completed", reason="customer_not_home")
    assert closed.status_code == 200, closed.get_json()
    with session_factory() as session:
        callback = session.scalars(select(Callback).where(Callback.work_order_id == order_id)).one()
        callbacks.record_answer(
            session,
            callback.id,
            callbacks.CustomerAnswer(happened="nobody_came"),
            channel="voice",
            actor=Actor.system("test"),
        )
        session.commit()


@pytest.fixture
def world(api, session_factory) -> World:
    """OWN and OTHER each with open orders, a callback and a complaint; a revoked token."""
    own = api.sale(name=CANARY_NAME, phone=CANARY_PHONE, address=CANARY_ADDRESS, appointment=future_window())
    own_order = own["work_orders"][0]
    assert own_order["provider"]["code"] == OWN
    own_done = api.sale(name=CANARY_NAME, phone=CANARY_PHONE, address=CANARY_ADDRESS)["work_orders"][0]
    _close_not_home(api, session_factory, own_done["id"], OWN, 1)

    other = api.sale(name="Olga Elsewhere", phone="+1 303 555 0177", address="9 Far Rd", city="Riverton")
    other_order = other["work_orders"][0]
    assert other_order["provider"]["code"] == OTHER
    other_done = api.sale(name="Olga Elsewhere", phone="+1 303 555 0177", city="Riverton")["work_orders"][0]
    _close_not_home(api, session_factory, other_done["id"], OTHER, 4)

    unassigned = api.sale(city="Bayview", model="GW-40")["work_orders"][0]
    assert unassigned["state"] == "unassigned"
    # An order closed as completed: its verification callback is still open (claimable).
    to_verify = api.sale(name=CANARY_NAME, phone=CANARY_PHONE, address=CANARY_ADDRESS)["work_orders"][0]
    assert api.close(to_verify["id"], OWN, 1).status_code == 200

    # A sale accepted asynchronously (a receipt, by demo-sales) for the receipt routes.
    accepted = api.client.post(
        "/api/v1/sales", json=sale_body(), headers=api.headers("sales", Prefer="respond-async")
    )
    assert accepted.status_code == 202, accepted.get_json()

    with session_factory() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.work_order_id == own_done["id"])).one()
        callback = session.scalars(select(Callback).where(Callback.work_order_id == to_verify["id"])).one()
        assert callback.state == "scheduled", callback.state
        coverage = session.scalars(select(Coverage).order_by(Coverage.id)).first()
        sales_user = session.scalars(select(User).where(User.name == "demo-sales")).one()
        revoked = auth.issue_token(session, Actor.system("test"), sales_user, label="to revoke")
        auth.revoke_token(session, Actor.system("test"), revoked[:12])
        # A user of its own for the users routes: deactivating a demo user would lock its role out.
        spare = auth.create_user(session, Actor.system("test"), name="matrix-spare", role="callback")
        # OWN's contradicted claim proposed a fine: a supervisor posted it, OWN appealed.
        fine = session.scalars(select(Fine).where(Fine.work_order_id == own_done["id"])).one()
        supervisor = session.scalars(select(User).where(User.name == "demo-supervisor")).one()
        own_user = session.scalars(select(User).where(User.name == f"demo-provider-{OWN}")).one()
        cfg = api.client.application.config
        ledger.decide_fine(session, _actor(supervisor), fine.id, "post", "proved", settings=cfg)
        appeal = ledger.file_appeal(session, _actor(own_user), fine.id, "we were there", settings=cfg)
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.fine_id == fine.id)).one()
        frost = campaigns.save_campaign(
            session,
            _actor(supervisor),
            code="frost",
            name="Frost",
            product_lines=["gas_wh"],
            cities=[],
            texts={"en": "Frost.", "zh-CN": "霜冻。"},
        )
        # The customer asked for another time (a reply word): a request in the hotline's queue.
        request = outreach.requests.add(
            session, customer_id=own["customer_id"], kind="reschedule", work_order_id=own_order["id"]
        )
        session.commit()
    # Each provider told of its orders: OWN's first notice for the notice routes.
    run_due(session_factory, awake(cfg), lambda: make_gateway(dict(cfg), lambda *_: None))
    with session_factory() as session:
        notice = session.scalars(
            select(ProviderNotice).join(Provider).where(Provider.code == OWN).order_by(ProviderNotice.id)
        ).first()
        ids = {
            "order_id": own_order["id"],
            "customer_id": own["customer_id"],
            "complaint_id": complaint.id,
            "callback_id": callback.id,
            "coverage_id": coverage.id,
            "unassigned_order_id": unassigned["id"],
            "receipt_id": accepted.get_json()["id"],
            "user_id": spare.id,
            "fine_id": fine.id,
            "appeal_id": appeal.id,
            "entry_id": entry.id,
            "request_id": request.id,
            "month": "2020-01",  # long over: a supervisor may close it
            "provider_code": OWN,
            "installer_code": "SH-01",
            "notice_id": notice.id,
            "campaign_id": frost.id,
        }
    return World(api, ids, own["units"][0]["serial_number"], revoked, "Olga Elsewhere")


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)


def _snapshot(engine) -> dict[str, str]:
    """A hash of every table's whole content: any insert, update or delete changes it."""
    with engine.connect() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        ).all()
        return {
            t: conn.scalar(
                text(f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")
            )
            for t in tables
        }


def _path(rule: str, ids: dict[str, int | str], method: str = "GET") -> str:
    override = RESOURCE_FOR.get((method, rule), {})

    def fill(match: re.Match[str]) -> str:
        name = override.get(match.group(1), match.group(1))
        assert name in ids, f"{rule}: the matrix has no resource for <{name}>; add one to the world fixture"
        return str(ids[name])

    return re.sub(r"<(?:\w+:)?(\w+)>", fill, rule)


def _call(world: World, method: str, rule: str, who: str | None, token: str | None = None):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    elif who is not None:
        headers = world.api.headers(who)
    path = _path(rule, world.ids, method) + QUERIES.get((method, rule), lambda w: "")(world)
    if rule.startswith("/api/v1/twilio/"):
        return world.api.client.open(path, method=method, data=TWILIO_FORM, headers=headers)
    body = BODIES.get((method, rule), lambda w: None)(world)
    return world.api.client.open(path, method=method, json=body, headers=headers)


def _who(role: str) -> str:
    return f"provider:{OWN}" if role == "provider" else role


def test_every_route_has_an_entry_and_every_entry_a_route(app):
    served = set(api_routes(app))
    missing = sorted(served - set(PERMISSIONS))
    gone = sorted(set(PERMISSIONS) - served)
    assert not missing, f"routes without an entry in PERMISSIONS (say who may call them): {missing}"
    assert not gone, f"entries in PERMISSIONS for routes that no longer exist: {gone}"
    for key, allowed in PERMISSIONS.items():
        if key[0] in ("POST", "PUT", "DELETE") and allowed not in (PUBLIC, SIGNED):
            assert key in BODIES, f"{key}: add a valid body to BODIES"


def test_refused_calls_are_401_or_403_and_change_nothing(app, world, engine):
    failures: list[str] = []
    for method, rule in api_routes(app):
        allowed = PERMISSIONS[(method, rule)]
        if allowed == PUBLIC:
            continue
        before = _snapshot(engine)
        if allowed == SIGNED:
            attempts = [(None, None, 403), ("admin", None, 403), (None, "dsp_bad", 403)]
        else:
            attempts = [(None, None, 401), (None, "dsp_not-a-token", 401), (None, "garbage", 401)]
            attempts.append((None, world.revoked_token, 401))
            attempts += [(_who(r), None, 403) for r in ROLES if r not in allowed]
            if "provider" not in allowed:
                attempts.append((f"provider:{OTHER}", None, 403))
        for who, token, expected in attempts:
            response = _call(world, method, rule, who, token)
            label = who or ("bad token" if token else "no token")
            if response.status_code != expected:
                failures.append(f"{method} {rule} as {label}: {response.status_code}, expected {expected}")
            elif not response.is_json or "message" not in response.get_json():
                failures.append(f"{method} {rule} as {label}: refusal is not a JSON error")
        after = _snapshot(engine)
        changed = sorted(t for t in before if before[t] != after[t])
        if changed:
            failures.append(f"{method} {rule}: refused calls changed {changed}")
    assert not failures, "\n".join(failures)


def test_another_provider_gets_404_and_changes_nothing(app, world, engine):
    failures: list[str] = []
    for method, rule in api_routes(app):
        allowed = PERMISSIONS[(method, rule)]
        owned = set(re.findall(r"<(?:\w+:)?(\w+)>", rule)) & PROVIDER_OWNED
        if allowed in (PUBLIC, SIGNED) or "provider" not in allowed or not owned:
            continue
        before = _snapshot(engine)
        response = _call(world, method, rule, f"provider:{OTHER}")
        if response.status_code != 404:
            failures.append(f"{method} {rule}: another provider got {response.status_code}, expected 404")
        if before != _snapshot(engine):
            failures.append(f"{method} {rule}: another provider's call changed data")
        body = response.get_data(as_text=True)
        if CANARY_NAME in body or CANARY_PHONE in body:
            failures.append(f"{method} {rule}: another provider's answer shows the customer")
    assert not failures, "\n".join(failures)


def test_a_provider_never_finds_another_providers_data(app, world):
    """Every GET a provider may call, with and without filters, as OTHER: none of OWN's data."""
    reads = [(m, r) for m, r in api_routes(app) if m == "GET" and PERMISSIONS[(m, r)] not in (PUBLIC, SIGNED)]
    checked = 0
    for method, rule in reads:
        if "provider" not in PERMISSIONS[(method, rule)]:
            continue
        path = _path(rule, world.ids)
        needed = QUERIES.get((method, rule), lambda w: "")(world)
        queries = ["", "?per_page=200", "?provider_id=1", "?state=booked"]
        if needed:  # the range a scorecard or a ranking needs, so that its rows are read too
            queries += [needed, needed + "&per_page=200", needed + "&provider_id=1"]
        for query in queries:
            response = world.api.get(path + query, f"provider:{OTHER}")
            body = response.get_data(as_text=True)
            assert response.status_code in (200, 404, 422), (rule, query, response.status_code)
            for canary in (CANARY_NAME, CANARY_PHONE, CANARY_ADDRESS, "Ana Ortiz", "Ben Carter"):
                assert canary not in body, f"{rule}{query} shows {OWN}'s {canary!r} to {OTHER}"
            checked += 1
    # ... while each sees its own: the lists are filtered, not empty.
    own_orders = world.api.get("/api/v1/work-orders?per_page=200", f"provider:{OWN}").get_json()
    assert own_orders["total"] == 3 and CANARY_NAME in str(own_orders)
    other_orders = world.api.get("/api/v1/work-orders?per_page=200", f"provider:{OTHER}").get_json()
    assert other_orders["total"] == 2 and world.other_customer_name in str(other_orders)
    for who in (OWN, OTHER):
        complaints = world.api.get("/api/v1/complaints", f"provider:{who}").get_json()
        assert len(complaints["items"]) == 1, complaints
    assert checked >= 4 * 4


def test_allowed_roles_are_let_through(app, world):
    """Every listed role passes the checks (the call may still be a 404/409/422 on its merits)."""
    failures: list[str] = []
    for method, rule in api_routes(app):
        allowed = PERMISSIONS[(method, rule)]
        if allowed == SIGNED:
            continue
        roles = [None] if allowed == PUBLIC else sorted(allowed)
        for role in roles:
            response = _call(world, method, rule, _who(role) if role else None)
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(f"{method} {rule} as {role}: {response.status_code} {response.get_json()}")
    assert not failures, "\n".join(failures)


def test_security_doc_lists_the_same_permissions():
    """docs/SECURITY.md's table is generated from PERMISSIONS; regenerate it when this fails."""
    doc = (Path(__file__).parents[1] / "docs" / "SECURITY.md").read_text()
    assert permissions_table() in doc, "docs/SECURITY.md is out of date: paste permissions_table() into it"


def permissions_table() -> str:
    """The Markdown table of PERMISSIONS, as docs/SECURITY.md shows it."""
    lines = ["| Method | Path | " + " | ".join(ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    for (method, rule), allowed in sorted(PERMISSIONS.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
        if allowed == PUBLIC:
            cells = ["public"] * len(ROLES)
        elif allowed == SIGNED:
            cells = ["signed"] * len(ROLES)
        else:
            cells = ["yes" if r in allowed else "-" for r in ROLES]
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- limits -----------------------------------------------------------------------------------


def test_too_large_body_is_a_json_413_naming_the_limit(api):
    limit = api.client.application.config["MAX_CONTENT_LENGTH"]
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "text/plain"}):
        response = api.client.post(
            "/api/v1/sales", data="x" * (limit + 1), headers=api.headers("sales", **headers)
        )
        assert response.status_code == 413
        assert response.is_json
        assert str(limit) in response.get_json()["message"]
    assert api.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


@pytest.fixture
def limited_app(settings, redis_conn):
    """The app with small per-caller limits and its own key prefix."""
    from dispatch.app import create_app

    app = create_app(
        {
            **settings,
            "RATE_LIMIT_SALES": "3/minute",
            "RATE_LIMIT_CLOSE": "2/minute",
            "RATE_LIMIT_APPOINTMENTS": "2/minute",
        }
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["dispatch.engine"].dispose()


def test_sales_and_closings_are_rate_limited_per_caller(limited_app, session_factory):
    api = Api.seeded(limited_app.test_client(), session_factory)
    statuses = [api.post("/api/v1/sales", "sales", sale_body()).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    refused = api.post("/api/v1/sales", "sales", sale_body())
    assert refused.is_json and "3 per 1 minute" in refused.get_json()["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Another caller has a count of its own; the refused calls made nothing.
    assert api.post("/api/v1/sales", "agent", sale_body()).status_code == 201
    listed = api.get("/api/v1/work-orders?per_page=200", "supervisor").get_json()
    assert listed["total"] == 4
    ids = [o["id"] for o in listed["items"]]
    closes = [api.close(i, OWN, 1).status_code for i in ids[:3]]
    assert closes == [200, 200, 429]


def test_appointment_moves_are_rate_limited_per_caller_so_ids_cannot_be_walked(limited_app, session_factory):
    api = Api.seeded(limited_app.test_client(), session_factory)
    own = api.sale()["work_orders"][0]
    with session_factory() as session:
        user = auth.create_user(session, Actor.system("test"), name="demo-sales-east", role="sales")
        api.tokens[user.name] = auth.issue_token(session, Actor.system("test"), user)
        session.commit()
    walk = [
        api.put(f"/api/v1/work-orders/{order_id}/appointment", "sales-east", {"window": future_window()})
        for order_id in (own["id"], own["id"] + 1, own["id"] + 2)
    ]
    assert [r.status_code for r in walk] == [404, 404, 429]
    assert "2 per 1 minute" in walk[-1].get_json()["message"] and int(walk[-1].headers["Retry-After"]) >= 1
    # Another caller has a count of its own: the order's shop moves it, twice, then it is limited too.
    moves = [
        api.put(f"/api/v1/work-orders/{own['id']}/appointment", "sales", {"window": future_window(days=d)})
        for d in (2, 3, 4)
    ]
    assert [r.status_code for r in moves] == [200, 200, 429]
    history = api.get(f"/api/v1/work-orders/{own['id']}", "supervisor").get_json()["history"]
    assert [e["action"] for e in history] == ["create", "book", "reschedule"]


def test_rate_limiter_lets_calls_through_when_redis_is_down(settings, session_factory):
    """A sale must not be lost because the limiter's store is unreachable."""
    from dispatch.app import create_app

    app = create_app({**settings, "REDIS_URL": "redis://127.0.0.1:1/0", "RATE_LIMIT_SALES": "1/minute"})
    try:
        api = Api.seeded(app.test_client(), session_factory)
        assert [api.post("/api/v1/sales", "sales", sale_body()).status_code for _ in range(2)] == [201, 201]
    finally:
        app.extensions["dispatch.engine"].dispose()


def test_rate_limits_are_on_by_default():
    from dispatch.platform.config import DEFAULTS

    assert DEFAULTS["RATE_LIMIT_SALES"] and DEFAULTS["RATE_LIMIT_CLOSE"]
