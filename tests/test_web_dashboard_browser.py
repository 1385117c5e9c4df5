# ruff: noqa: F811 - the browser fixtures are imported from test_web_browser and used as arguments
"""The supervisors' dashboard and the providers' ledger pages in a real browser (Chromium through
Playwright): a contradiction made through the API shows on the dashboard; the supervisor posts
the fine on its page; the provider, on a phone, sees it and appeals; the dashboard shows the appeal
by refreshing itself; the supervisor upholds it and the provider's statement nets to zero. The
charts' points and bars open their orders when clicked, and the wallboard draws its charts
without navigation. Screenshots of every new page (1366x900 and 390x844) go to var/screenshots/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from dispatch.app import create_app
from dispatch.audit import ledger
from dispatch.models import utcnow
from tests.callbacks_support import ALL_DAY
from tests.procs import free_port
from tests.scorecards_support import ANA, team_answer
from tests.test_web_browser import SCREENSHOTS, browser, open_page, sign_in  # noqa: F401 - fixtures
from tests.web_support import set_password

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.slow

APP_SETTINGS = ALL_DAY
REFRESH = 2  # seconds between the dashboard's refreshes, short enough to watch one happen
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server(settings) -> Iterator[str]:
    """The app on the test database, served on a free port, the dashboard refreshing every 2 s."""
    app = create_app({**settings, **ALL_DAY, "WEB_DASHBOARD_REFRESH_SECONDS": REFRESH})
    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    thread.join(10)
    app.extensions["dispatch.engine"].dispose()


@pytest.fixture
def people(api, session_factory, server, redis_conn, settings):
    for name in ("demo-provider-SPR-HEAT", "demo-supervisor"):
        set_password(session_factory, name)
    yield
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def shoot(page, name: str) -> None:
    """Save the whole page at the desktop and phone sizes (charts redrawn at each), then go back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(150)  # Chart.js redraws on its ResizeObserver
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(before)


def _contradicted_not_home(api, session_factory, cfg) -> int:
    """Through the API: a sale, closed "customer not home", and the customer saying nobody came."""
    order_id = api.sale(name="Nora Home", address="5 Oak Ave")["work_orders"][0]["id"]
    closed = api.close(order_id, "SPR-HEAT", ANA, outcome="not_completed", reason="customer_not_home")
    assert closed.status_code == 200, closed.get_json()
    team_answer(api, session_factory, order_id, happened="nobody_came", note="I was in all day")
    return order_id


def _very_satisfied(api, session_factory) -> int:
    order_id = api.sale(name="Vera Glad", address="8 Elm St", phone="+1 217 555 0140")["work_orders"][0]["id"]
    assert api.close(order_id, "SPR-HEAT", ANA).status_code == 200
    team_answer(api, session_factory, order_id, happened="done", rating="very_satisfied")
    return order_id


# Where a chart's element is on the page: the canvas's box plus the element's own position.
_POINT = """(canvas, [label, index]) => {
  const chart = Chart.getChart(canvas);
  const d = chart.data.datasets.findIndex((ds) => ds.label.includes(label));
  const data = chart.data.datasets[d].data;
  const i = index === null ? data.findIndex((v) => v !== null) : index;
  const el = chart.getDatasetMeta(d).data[i];
  const y = el.base === undefined ? el.y : (el.y + el.base) / 2;
  return {x: el.x, y: y};
}"""


def _click_chart(page, title_id: str, label: str, index: int | None = None) -> None:
    canvas = page.locator(f"canvas[aria-labelledby={title_id}]")
    box = canvas.bounding_box()
    spot = canvas.evaluate(_POINT, [label, index])
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])


def test_a_contradiction_to_a_fine_appealed_upheld_and_a_statement_at_zero(
    server, open_page, people, api, session_factory, cfg
):
    order_id = _contradicted_not_home(api, session_factory, cfg)
    glad = _very_satisfied(api, session_factory)

    sv, _ = open_page("desktop")
    sv.set_viewport_size(SIZES["desktop"])
    sign_in(sv, server, "demo-supervisor")
    sv.get_by_role("navigation", name="Headquarters").get_by_role("link", name="Dashboard").click()
    expect(sv.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(sv.locator(".tile").filter(has_text="fine proposed")).to_contain_text("1")
    expect(sv.get_by_role("region", name="Contradictions by provider")).to_contain_text(
        "Springfield Heat & Water"
    )
    expect(sv.get_by_text(re.compile(r"Last updated \d\d:\d\d:\d\d"))).to_be_visible()
    shoot(sv, "40-dashboard")

    # A bar of the "not home" chart and a point of the rate chart each open their orders.
    _click_chart(sv, "nothome-chart-title", "contradicted", 0)
    expect(sv.get_by_role("heading", name=re.compile("“Not home” claims contradicted"))).to_be_visible()
    expect(sv.get_by_text(f"Order #{order_id} ·")).to_be_visible()
    expect(sv.get_by_text("the customer said nobody came")).to_be_visible()
    shoot(sv, "41-dashboard-drill-down")
    sv.go_back()
    _click_chart(sv, "rate-chart-title", "(SPR-HEAT)")
    expect(
        sv.get_by_role("heading", name=re.compile("Springfield Heat & Water · Very satisfied"))
    ).to_be_visible()
    expect(sv.get_by_text(f"Order #{glad} ·")).to_be_visible()
    expect(sv.get_by_text(f"Order #{order_id} ·")).to_have_count(0)
    sv.go_back()

    # The supervisor posts the fine on its page (a missing reason is said beside the field).
    sv.get_by_role("link", name=re.compile(r"Fine #\d+")).click()
    expect(sv.get_by_role("heading", name=re.compile("waiting for a decision"))).to_be_visible()
    sv.get_by_role("radio", name=re.compile("Post the fine")).check()
    sv.get_by_role("button", name="Save decision").click()
    expect(sv.get_by_text("Write the reason: the provider reads it.")).to_be_visible()
    expect(sv.get_by_role("radio", name=re.compile("Post the fine"))).to_be_checked()
    expect(sv.get_by_label(re.compile("^Reason"))).to_be_focused()
    shoot(sv, "42-fine-errors")
    sv.get_by_label(re.compile("^Reason")).fill("The customer was home all day")
    sv.get_by_role("button", name="Save decision").click()
    expect(
        sv.get_by_text(re.compile(r"Fine #\d+ posted: CNY 2,000.00 charged to Springfield Heat & Water\."))
    ).to_be_visible()
    shoot(sv, "43-fine-posted")
    sv.get_by_role("link", name="← Dashboard").click()
    expect(sv.locator(".tile").filter(has_text="appeals open")).to_contain_text("0")

    # The provider, on a phone, sees the fine and appeals it.
    pv, _ = open_page("phone")
    sign_in(pv, server, "demo-provider-SPR-HEAT")
    pv.get_by_role("link", name="Fines & ledger").click()
    expect(pv.get_by_role("heading", name="Fines and ledger")).to_be_visible()
    expect(pv.get_by_text(re.compile(r"Fine #\d+ · CNY 2,000.00 · posted"))).to_be_visible()
    shoot(pv, "44-portal-ledger")
    pv.get_by_role("link", name=re.compile(r"Fine #\d+ · CNY 2,000.00")).click()
    pv.get_by_label(re.compile("Your statement")).fill("Our installer rang twice and left a card at 10:05.")
    shoot(pv, "45-portal-fine")
    pv.get_by_role("button", name="File appeal").click()
    expect(pv.get_by_text(re.compile(r"Appeal #\d+ filed against fine #\d+"))).to_be_visible()
    expect(pv.get_by_role("button", name="File appeal")).to_have_count(0)
    shoot(pv, "46-portal-appealed")

    # The supervisor's dashboard shows the appeal on its own (htmx refresh), then it is upheld.
    expect(sv.locator(".tile").filter(has_text="appeal open")).to_contain_text(
        "1", timeout=3 * REFRESH * 1000
    )
    sv.get_by_role("link", name=re.compile(r"Appeal #\d+")).click()
    expect(sv.get_by_text("“Our installer rang twice and left a card at 10:05.”")).to_be_visible()
    sv.get_by_role("radio", name=re.compile("Uphold")).check()
    sv.get_by_label(re.compile("^Reason")).fill("The card was found at the door")
    sv.get_by_role("button", name="Save decision").click()
    expect(sv.get_by_text(re.compile(r"Appeal #\d+ upheld: the fine is reversed\."))).to_be_visible()
    shoot(sv, "47-appeal-upheld")

    # The provider's statement of this month nets to zero: the fine and its reversal.
    month = ledger.month_of(ledger.ledger_day(utcnow(), cfg))
    pv.get_by_role("link", name="Fines & ledger").click()
    expect(pv.get_by_text("upheld: the fine is reversed").first).to_be_visible()
    pv.get_by_role("link", name=f"Statement {month}").click()
    total = pv.locator("tr.total")
    expect(total).to_contain_text("Net (2 entries")
    expect(total).to_contain_text("CNY 0.00")
    shoot(pv, "48-portal-statement")
    csv = pv.request.get(f"{server}/portal/statements/{month}.csv")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert re.search(r"provider,SPR-HEAT,\d{4}-\d\d,total,,net,0,0\.00,CNY", csv.text())
    pv.get_by_role("link", name="Scorecard").click()
    expect(pv.get_by_role("heading", name="Your scorecard")).to_be_visible()
    expect(pv.get_by_text("Not ranked").first).to_be_visible()  # 1 rating, 20 needed
    shoot(pv, "49-portal-scorecard")

    # The wallboard: no navigation, big figures, the charts drawn.
    sv.goto(server + "/supervise/wallboard")
    expect(sv.get_by_role("heading", name="Dispatch · service quality")).to_be_visible()
    expect(sv.get_by_role("navigation")).to_have_count(0)
    drawn = sv.locator("canvas[data-chart]").evaluate_all("(cs) => cs.map((c) => !!Chart.getChart(c))")
    assert drawn == [True, True]
    shoot(sv, "50-wallboard")
