"""Complaints held at headquarters: supervisors see and move them; the provider concerned reads its
own and can change nothing; nobody can delete one through the API."""

from __future__ import annotations

from sqlalchemy import func, select

from dispatch.audit import callbacks, trail
from dispatch.audit.callbacks import CustomerAnswer
from dispatch.models import AuditEvent, Complaint
from dispatch.platform.actors import Actor
from tests.callbacks_support import ALL_DAY, callback_of, close_with

# Calling hours all day: these tests must not depend on the time of day they run at.
APP_SETTINGS = ALL_DAY


def _contradicted(api, session_factory, cfg, **kw) -> dict:
    """A false 'customer not home' claim, caught by the robot: returns the complaint (supervisor view)."""
    order_id = close_with(api, "customer_not_home", **kw)
    with session_factory() as session:
        cb = callback_of(session, order_id)
        verdict = callbacks.record_answer(
            session,
            cb.id,
            CustomerAnswer("nobody_came"),
            channel="voice",
            actor=Actor.system("twilio"),
            settings=cfg,
        )
        session.commit()
    assert verdict == "contradicted"
    items = api.get(f"/api/v1/complaints?work_order_id={order_id}", "supervisor").get_json()["items"]
    assert len(items) == 1
    return items[0]


def _snapshot(session_factory, complaint_id: int) -> tuple:
    with session_factory() as session:
        c = session.get(Complaint, complaint_id)
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        return (c.status, c.status_note, c.summary, c.closed_at, c.updated_at, events)


def test_provider_reads_its_own_complaint_but_cannot_change_or_delete_it(api, session_factory, app):
    mine = _contradicted(api, session_factory, app.config)
    theirs = _contradicted(
        api,
        session_factory,
        app.config,
        city="Riverton",
        provider="RIV-PRO",
        installer=4,
        phone="+1 303 555 0111",
    )
    before = _snapshot(session_factory, mine["id"])

    listed = api.get("/api/v1/complaints", "provider:SPR-HEAT").get_json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]] and listed["total"] == 1
    # Asking for another provider's complaints by filter changes nothing for a provider.
    assert (
        api.get(f"/api/v1/complaints?provider_id={theirs['provider']['id']}", "provider:SPR-HEAT").get_json()[
            "items"
        ]
        == []
    )
    own = api.get(f"/api/v1/complaints/{mine['id']}", "provider:SPR-HEAT")
    assert own.status_code == 200 and own.get_json()["status"] == "open"
    assert [e["action"] for e in own.get_json()["history"]] == ["opened"]
    assert api.get(f"/api/v1/complaints/{theirs['id']}", "provider:SPR-HEAT").status_code == 404

    close = {"status": "closed", "note": "customer was lying"}
    assert api.post(f"/api/v1/complaints/{mine['id']}/status", "provider:SPR-HEAT", close).status_code == 403
    assert (
        api.post(f"/api/v1/complaints/{theirs['id']}/status", "provider:SPR-HEAT", close).status_code == 403
    )
    for who in ("provider:SPR-HEAT", "supervisor", "admin", "callback"):
        assert api.delete(f"/api/v1/complaints/{mine['id']}", who).status_code == 405
        assert api.put(f"/api/v1/complaints/{mine['id']}", who, {"status": "closed"}).status_code == 405
        assert (
            api.client.patch(
                f"/api/v1/complaints/{mine['id']}", json={}, headers=api.headers(who)
            ).status_code
            == 405
        )
    assert api.post(f"/api/v1/complaints/{mine['id']}/status", "callback", close).status_code == 403
    assert api.get("/api/v1/complaints", "sales").status_code == 403
    assert api.get("/api/v1/complaints", None).status_code == 401
    assert _snapshot(session_factory, mine["id"]) == before


def test_supervisor_moves_a_complaint_to_closed_with_notes_and_history(api, session_factory, app):
    complaint = _contradicted(api, session_factory, app.config)
    assert complaint["deadline_at"] > complaint["created_at"]
    url = f"/api/v1/complaints/{complaint['id']}/status"
    r = api.post(url, "supervisor", {"status": "investigating", "note": "called the installer"})
    assert r.status_code == 200 and r.get_json()["status"] == "investigating"
    r = api.post(url, "supervisor", {"status": "closed", "note": "fine levied"})
    assert r.status_code == 200 and r.get_json()["closed_at"] is not None
    again = api.post(url, "supervisor", {"status": "investigating", "note": "reopen?"})
    assert again.status_code == 409  # a closed complaint stays closed
    bad = api.post(url, "supervisor", {"status": "open"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"status", "note"}
    detail = api.get(f"/api/v1/complaints/{complaint['id']}", "supervisor").get_json()
    assert [(e["action"], e["to_state"]) for e in detail["history"]] == [
        ("opened", "open"),
        ("status_changed", "investigating"),
        ("status_changed", "closed"),
    ]
    # The note is free text (it may quote the customer): on the complaint, only a digest in the trail.
    assert detail["status_note"] == "fine levied"
    assert "note" not in detail["history"][-1]["data"] and detail["history"][-1]["data"]["note_digest"]
    assert api.get("/api/v1/complaints?status=closed", "supervisor").get_json()["total"] == 1
    assert api.get("/api/v1/complaints?status=open", "supervisor").get_json()["total"] == 0
    # The provider sees the outcome, read-only.
    assert (
        api.get(f"/api/v1/complaints/{complaint['id']}", "provider:SPR-HEAT").get_json()["status"] == "closed"
    )
    with session_factory() as session:
        assert trail.verify_chain(session).ok


def test_supervisor_filters_by_provider(api, session_factory, app):
    a = _contradicted(api, session_factory, app.config)
    b = _contradicted(
        api,
        session_factory,
        app.config,
        city="Riverton",
        provider="RIV-PRO",
        installer=4,
        phone="+1 303 555 0112",
    )
    everything = api.get("/api/v1/complaints", "supervisor").get_json()
    assert {c["id"] for c in everything["items"]} == {a["id"], b["id"]}
    only_b = api.get(f"/api/v1/complaints?provider_id={b['provider']['id']}", "supervisor").get_json()
    assert [c["id"] for c in only_b["items"]] == [b["id"]]
    assert api.get("/api/v1/complaints?status=nonsense", "supervisor").status_code == 422
    assert api.get("/api/v1/complaints/999999", "supervisor").status_code == 404
