"""The supervisors' dashboard and the providers' ledger pages through Flask's test client, on the
mixed day of tests/scorecards_support.py (made through the API at a fixed instant): the figures a
supervisor reads (callbacks, contradictions, a city ranking with n and the Wilson interval, "not
ranked" below the minimum), the chart's points linking to their orders, a fine decided on its
page exactly once, an appeal's window, a provider that sees only its own, and the statement's CSV
being the API's file."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from dispatch.models import Fine, LedgerEntry
from tests.scorecards_support import NOON, SETTINGS, mixed_day
from tests.web_support import login, set_password

APP_SETTINGS = SETTINGS  # rankings from 2 ratings up

SUPERVISOR = "demo-supervisor"
SPR = "demo-provider-SPR-HEAT"
RIV = "demo-provider-RIV-PRO"


@pytest.fixture(autouse=True)
def _fresh_login_counts(app, redis_conn):
    yield
    for key in redis_conn.scan_iter(f"*{app.config['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


@pytest.fixture
def day(api, session_factory):
    with time_machine.travel(NOON, tick=True):
        return mixed_day(api, session_factory)


def _browser(app, session_factory, name: str, tz: str = "UTC"):
    """A fresh test client signed in as `name` (its own cookies), its browser's clock in `tz`."""
    client = app.test_client()
    set_password(session_factory, name)
    assert login(client, name, tz=tz).status_code == 303
    return client


def _text(response) -> str:
    """The page's words, tags removed and spaces folded (what a reader sees)."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def _form_key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _fine_id(session_factory, order_id: int) -> int:
    with session_factory() as s:
        return s.scalars(select(Fine.id).where(Fine.work_order_id == order_id)).one()


def test_the_dashboard_shows_the_day_its_rankings_and_charts_that_link_to_orders(app, day, session_factory):
    with time_machine.travel(NOON + timedelta(minutes=30), tick=False) as clock:
        sv = _browser(app, session_factory, SUPERVISOR, "Asia/Shanghai")  # a supervisor at headquarters
        page = sv.get("/supervise")
        assert page.status_code == 200
        words = _text(page)
        assert "Last updated 22:30:00 (your time, UTC+08:00)" in words
        # Five callbacks answered or ended today (o1-o4, r1); none open.
        assert "5 done today" in words and "0 due now" in words
        # Orders moved today, by their state now: o1 and o2 verified; o4 closed ("not home" confirmed);
        # o3 and r1 open again after the contradiction, o5 and the Bayview order pending.
        assert (
            "4 pending (no date yet) 0 booked 0 closed: completed 1 closed: not completed 2 verified" in words
        )
        # Two contradicted claims (o3 "not home", r1 "done") proposed two fines; no appeal yet.
        assert "2 fines proposed" in words and "0 appeals open" in words
        # Springfield: SPR-HEAT has 1 very satisfied of 2 rated: 50%, Wilson 95% 9.5%-90.5% (by hand:
        # (0.5 + 1.92/2 -+ 1.96*sqrt(0.125 + 0.24)) / (1 + 1.92) ); ranked 1 of 1 on its lower bound.
        assert "1 of 1 Springfield Heat & Water 9.5% 2 50.0%, 9.5%–90.5%" in words
        # Riverton: RIV-PRO has no rating: not ranked, no score (never 0%).
        assert "– Riverton Pro Installers not ranked 0 no ratings" in words
        # The chart's data: SPR-HEAT's point of the day links to the orders behind it.
        raw = page.get_data(as_text=True)
        charts = [json.loads(html.unescape(m)) for m in re.findall(r'data-chart="([^"]+)"', raw)]
        rate = next(c for c in charts if c["kind"] == "rate")
        spr = next(s for s in rate["series"] if s["code"] == "SPR-HEAT")
        point = spr["points"][rate["labels"].index("2031-03-14")]
        assert (point["k"], point["n"], round(point["lower"], 4), round(point["upper"], 4)) == (
            1,
            2,
            0.0945,
            0.9055,
        )
        not_home = next(c for c in charts if c["kind"] == "not_home")
        assert not_home["claims"] == [2] and not_home["contradicted"] == [1]

        drill = sv.get(point["href"])
        assert drill.status_code == 200
        found = _text(drill)
        assert f"Order #{day.o1} " in found and f"Order #{day.o2} " not in found  # o2 was only satisfied
        contradicted = _text(sv.get(not_home["contradicted_href"][0]))
        assert (
            f"Order #{day.o3} " in contradicted
            and "heard “No, I was home all day and nobody came.”" in contradicted
        )

        assert f'<a href="{html.escape(point["href"])}">1 of 2</a>' in raw  # the same link, in the table
        # The refresh fetches the figures alone (no page around them), still with "last updated".
        clock.shift(timedelta(minutes=1))
        board = sv.get("/supervise/board")
        assert board.status_code == 200 and "<html" not in board.get_data(as_text=True)
        assert "Last updated 22:31:00 (your time, UTC+08:00)" in _text(board)
        wall = sv.get("/supervise/wallboard")
        assert wall.status_code == 200 and 'class="wallboard"' in wall.get_data(as_text=True)
        assert 'aria-label="Headquarters"' not in wall.get_data(as_text=True)  # no navigation on the wall


def test_a_fine_is_posted_on_its_page_once_and_a_bad_form_keeps_what_was_typed(app, day, session_factory):
    clock = time_machine.travel(NOON + timedelta(hours=1), tick=True)
    clock.start()
    sv = _browser(app, session_factory, SUPERVISOR)
    fine_id = _fine_id(session_factory, day.o3)
    page = sv.get(f"/supervise/fines/{fine_id}").get_data(as_text=True)
    assert "CNY 2,000.00" in page
    key, token = _form_key(page), _csrf(page)
    url = f"/supervise/fines/{fine_id}/decision"

    missing = sv.post(url, data={"csrf_token": token, "form_key": key, "decision": "post", "reason": " "})
    assert missing.status_code == 422
    assert "Write the reason: the provider reads it." in _text(missing)
    assert re.search(r'value="post" checked', missing.get_data(as_text=True))  # the choice kept

    form = {"csrf_token": token, "form_key": key, "decision": "post", "reason": "She was home all day"}
    first = sv.post(url, data=form)
    again = sv.post(url, data=form)  # the same form sent twice (a double click, a retry)
    assert first.status_code == again.status_code == 303
    shown = _text(sv.get(first.headers["Location"]))
    assert f"Fine #{fine_id} posted: CNY 2,000.00 charged to Springfield Heat & Water." in shown
    # Another decision from an older copy of the page (a new key) changes nothing: 409, said.
    late = sv.post(url, data={**form, "form_key": "another-tab", "decision": "void"})
    assert late.status_code == 409 and "Nothing was saved: fine" in _text(late)
    with session_factory() as s:
        assert s.get(Fine, fine_id).status == "posted"
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.fine_id == fine_id)).all()
        assert [(e.kind, e.amount_minor) for e in entries] == [("fine", -200000)]
    clock.stop()


def test_a_provider_sees_only_its_own_money_and_appeals_within_the_window(app, api, day, session_factory):
    fine_id = _fine_id(session_factory, day.o3)
    riv_fine = _fine_id(session_factory, day.r1)
    clock = time_machine.travel(NOON + timedelta(hours=1), tick=True)
    clock.start()
    posted = api.post(
        f"/api/v1/ledger/fines/{fine_id}/decision", "supervisor", {"decision": "post", "reason": "x"}
    )
    assert posted.status_code == 200
    spr = _browser(app, session_factory, SPR)
    riv = _browser(app, session_factory, RIV)
    # Another provider's fine, by URL or by form, is 404 and shows nothing of it.
    for path in (f"/portal/fines/{fine_id}",):
        other = riv.get(path)
        assert other.status_code == 404 and "CNY 2,000.00" not in _text(other)
    token = _csrf(riv.get(f"/portal/fines/{riv_fine}").get_data(as_text=True))
    refused = riv.post(f"/portal/fines/{fine_id}/appeal", data={"csrf_token": token, "statement": "not ours"})
    assert refused.status_code == 404
    assert spr.get(f"/portal/fines/{riv_fine}").status_code == 404
    assert spr.get("/supervise").status_code == 403 and spr.get("/supervise/board").status_code == 403
    # Its scorecard and places are its own: nothing of another provider's.
    riv_card = _text(riv.get("/portal/scorecard"))
    assert "Your rank nationwide" in riv_card and "Springfield" not in riv_card
    ledger_page = _text(spr.get("/portal/ledger"))
    assert (
        f"Fine #{fine_id} · CNY 2,000.00 · posted" in ledger_page and f"Fine #{riv_fine} ·" not in ledger_page
    )

    # Past the 14 days the form is gone and the page says why; a stale form is refused, said.
    page = spr.get(f"/portal/fines/{fine_id}").get_data(as_text=True)
    assert "Appeal this fine" in page
    form = {"csrf_token": _csrf(page), "form_key": _form_key(page), "statement": "The customer was out."}
    # The statement's CSV is the API's file.
    page_csv = spr.get("/portal/statements/2031-03.csv")
    api_csv = api.get("/api/v1/ledger/statements/providers/SPR-HEAT/2031-03.csv", "provider:SPR-HEAT")
    assert page_csv.status_code == 200 and page_csv.mimetype == "text/csv"
    assert page_csv.get_data() == api_csv.get_data()
    assert "-2000.00" in page_csv.get_data(as_text=True)
    assert "Net (1 entry" in _text(spr.get("/portal/statements/2031-03"))
    clock.stop()
    with time_machine.travel(NOON + timedelta(days=15), tick=True):
        spr = _browser(app, session_factory, SPR)  # (signed out after the idle time, in 15 days)
        closed = spr.get(f"/portal/fines/{fine_id}")
        assert "Appeal this fine" not in _text(closed)
        assert "The time to appeal this fine ended" in _text(closed)
        late = spr.post(
            f"/portal/fines/{fine_id}/appeal",
            data={**form, "csrf_token": _csrf(closed.get_data(as_text=True))},
        )
    assert late.status_code == 409 and "The appeal was not filed" in _text(late)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Fine).where(Fine.id == fine_id)) == 1


SUPERVISOR_PAGES = [
    "/supervise",
    "/supervise/board",
    "/supervise/wallboard",
    "/supervise/wallboard/board",
    "/supervise/fines/1",
    "/supervise/appeals/1",
    "/supervise/providers/SPR-HEAT/orders?figure=contradicted&first=2031-03-14&last=2031-03-14",
]
PROVIDER_PAGES = [
    "/portal/scorecard",
    "/portal/ledger",
    "/portal/statements/2031-03",
    "/portal/statements/2031-03.csv",
    "/portal/fines/1",
]


def test_each_page_is_for_its_role_only(app, api, session_factory):
    nobody = app.test_client()
    sv = _browser(app, session_factory, SUPERVISOR)
    spr = _browser(app, session_factory, SPR)
    for path in SUPERVISOR_PAGES + PROVIDER_PAGES:
        assert nobody.get(path).status_code == 302, path  # to the login page
    for path in SUPERVISOR_PAGES:
        assert spr.get(path).status_code == 403, path
    for path in PROVIDER_PAGES:
        assert sv.get(path).status_code == 403, path
    assert spr.get("/portal/statements/2031-13").status_code == 404  # not a month
