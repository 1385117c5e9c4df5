"""The pages in a real browser: Playwright for Python driving Debian's Chromium (headless, no
network beyond this app), by role and accessible name. Every page's screenshot is saved under
var/screenshots/ at desktop (1280x800) and phone (390x844) sizes, to be looked at."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from dispatch import auth
from dispatch.app import create_app
from dispatch.models import Complaint
from dispatch.platform.actors import Actor
from tests.callbacks_support import ALL_DAY, callback_of, close_with, exhaust_automated, new_agent
from tests.procs import free_port
from tests.web_support import PASSWORD, set_password

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.slow

# Calling hours all day: no test may depend on the time of day it runs at.
APP_SETTINGS = ALL_DAY

CHROMIUM = os.environ.get("DISPATCH_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# The machine has no network: without these Chromium floods refused connections to Google's
# services (updates, sync, safe browsing) in the background.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def _midday_zone() -> str:
    """A browser time zone where it is about noon now: the agent's "today" never turns over mid-test."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. 12
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@pytest.fixture(scope="module")
def server(settings) -> Iterator[str]:
    """The app on the test database, served by a real HTTP server on a free port."""
    app = create_app({**settings, **ALL_DAY, "WEB_LIVE_REFRESH_SECONDS": 1})
    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    thread.join(10)
    app.extensions["dispatch.engine"].dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM} (scripts/test installs Debian's chromium)"
        )
    # launch() starts Chromium on a fresh temporary profile (user-data dir) of its own, removed
    # when it closes.
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


class Watch:
    """What a test's pages did: requests that tried to leave the app, CSP refusals, pages' headers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.documents: list[tuple[str, str | None]] = []

    def check(self) -> None:
        assert self.outside == [], f"requests to other hosts: {self.outside}"
        refused = [m for m in self.console_errors if "Content Security Policy" in m or "Refused" in m]
        assert refused == [], refused
        for url, csp in self.documents:
            assert csp and csp.startswith(CSP), f"{url}: Content-Security-Policy {csp!r}"


@pytest.fixture
def open_page(browser, server) -> Iterator:
    """open_page() -> (page, watch): a fresh browser context (no cookies), offline but for the app."""
    contexts = []
    watches = []

    def opener(size: str = "desktop"):
        context = browser.new_context(viewport=SIZES[size], timezone_id=_midday_zone(), locale="en-US")
        watch = Watch(server)

        def route(r) -> None:
            if r.request.url.startswith(server):
                r.continue_()
            else:
                watch.outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
        page.on(
            "response",
            lambda r: (
                r.request.resource_type == "document"
                and watch.documents.append((r.url, r.headers.get("content-security-policy")))
            ),
        )
        page.set_default_timeout(10_000)
        contexts.append(context)
        watches.append(watch)
        return page, watch

    yield opener
    for context in contexts:
        context.close()
    for watch in watches:
        watch.check()


def shoot(page, name: str, *, full_page: bool = True) -> None:
    """Save the page at both sizes (whole page), then go back to the size it had."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=full_page)
    page.set_viewport_size(before)


def sign_in(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(base + "/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()


def loaded(page) -> None:
    """Wait until the page's scripts run (keyboard shortcuts listen from then on)."""
    page.wait_for_load_state("load")


def _due(api, session_factory, cfg, claim: str = "customer_not_home", **sale) -> int:
    order_id = close_with(api, claim, **sale)
    with session_factory() as session:
        cb_id = callback_of(session, order_id).id
    exhaust_automated(session_factory, cb_id, cfg)
    return cb_id


@pytest.fixture
def team(api, session_factory, server, redis_conn, settings):
    set_password(session_factory, "demo-callback")
    yield
    for key in redis_conn.scan_iter(f"*{settings['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


def test_an_agent_presses_next_and_records_nobody_came(server, open_page, team, api, session_factory, cfg):
    cb_id = _due(api, session_factory, cfg)
    page, _watch = open_page()
    page.goto(server + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()  # empty: each field says what is missing
    expect(page.get_by_text("Enter your user name.")).to_be_visible()
    shoot(page, "02-login-errors")

    sign_in(page, server, "demo-callback")
    expect(page.get_by_role("heading", name="Ready for the next call")).to_be_visible()
    expect(page.get_by_role("button", name="Next callback")).to_be_focused()
    expect(page.locator("#live")).to_contain_text(f"#{cb_id}")
    shoot(page, "03-console-idle")

    page.keyboard.press("n")  # Next
    card = page.get_by_role("heading", name=re.compile(rf"Callback #{cb_id}: Mary Smith"))
    expect(card).to_be_visible()
    loaded(page)
    expect(page.get_by_role("link", name="+12175550199")).to_have_attribute("href", "tel:+12175550199")
    expect(page.get_by_text("because the customer was not at home")).to_be_visible()
    expect(page.locator("#live")).to_contain_text("you until")
    shoot(page, "04-console-card")
    # "Hold it longer" is an htmx POST: it carries the CSRF token as a header (hx-headers).
    with page.expect_response(lambda r: r.url.endswith(f"/callbacks/{cb_id}/renew")) as renewed:
        page.get_by_role("button", name="Hold it longer").click()
    assert renewed.value.status == 200
    expect(page.locator("#lease")).to_contain_text("You hold this callback until")
    page.get_by_role("radio", name="Yes, I was not at home").focus()

    page.keyboard.press("Enter")  # nothing chosen yet: the field says so, nothing is saved
    expect(page.get_by_text("Choose what the customer said happened")).to_be_visible()
    loaded(page)
    shoot(page, "05-console-card-errors")

    page.get_by_role("radio", name="No: I was home and nobody came").focus()
    page.keyboard.press("1")
    expect(page.get_by_role("radio", name="Yes, I was not at home")).to_be_checked()
    page.keyboard.press("2")  # what the customer says: nobody came
    nobody_came = page.get_by_role("radio", name="No: I was home and nobody came")
    expect(nobody_came).to_be_checked()
    expect(nobody_came).to_be_focused()
    page.keyboard.press("Enter")  # save
    expect(page.get_by_text("Complaint #1 was opened against Springfield Heat & Water")).to_be_visible()
    expect(page.get_by_role("heading", name="Ready for the next call")).to_be_visible()
    expect(page.locator("#shift")).to_contain_text("1 answered")
    shoot(page, "06-console-saved")

    with session_factory() as session:
        complaint = session.scalars(select(Complaint)).one()
        assert complaint.callback_id == cb_id
    listed = api.get("/api/v1/complaints", "supervisor").get_json()
    assert [c["id"] for c in listed["items"]] == [complaint.id]


def test_two_agents_pressing_next_at_once_get_different_callbacks(
    server, open_page, team, api, session_factory, cfg
):
    ids = {
        _due(api, session_factory, cfg, phone="+1 217 555 0101", name="Ann One"),
        _due(api, session_factory, cfg, phone="+1 217 555 0102", name="Ben Two"),
    }
    _bo, _token = new_agent(session_factory, "Bo Caller")
    set_password(session_factory, "Bo Caller")
    first, _ = open_page()
    second, _ = open_page()
    for page, name in ((first, "demo-callback"), (second, "Bo Caller")):
        sign_in(page, server, name)
        expect(page.get_by_role("button", name="Next callback")).to_be_visible()
    first.keyboard.press("n")  # both requests in flight together
    second.keyboard.press("n")
    taken = set()
    for page in (first, second):
        heading = page.get_by_role("heading", name=re.compile(r"Callback #\d+"))
        expect(heading).to_be_visible()
        taken.add(int(re.search(r"#(\d+)", heading.inner_text()).group(1)))
    assert taken == ids
    expect(first.locator("#live")).to_contain_text("Bo Caller until")
    shoot(first, "07-console-live-two-agents")


def test_a_deactivated_agent_is_signed_out_at_once(server, open_page, team, api, session_factory):
    page, _ = open_page()
    sign_in(page, server, "demo-callback")
    expect(page.get_by_role("heading", name="Ready for the next call")).to_be_visible()
    with session_factory() as session:
        user = auth.find_user(session, "demo-callback")
        auth.set_user_active(session, Actor.system("test"), user_id=user.id, active=False)
        session.commit()
    # No click: the live list's next refresh (every second here) finds the session ended.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=8_000)
    expect(page.get_by_text("your account was deactivated")).to_be_visible()
    shoot(page, "08-signed-out")


def test_other_pages_look_right(server, open_page, team, api, session_factory, cfg):
    set_password(session_factory, "demo-admin")  # headquarters IT: no console of its own yet
    page, _ = open_page("phone")
    sign_in(page, server, "demo-admin")
    expect(page.get_by_role("heading", name="Signed in as demo-admin")).to_be_visible()
    shoot(page, "09-home-other-roles")
    page.goto(server + "/callbacks")
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    shoot(page, "10-not-for-your-role")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    # A not-reached form with a missing time, then the lease ran out: both said beside the form.
    _due(api, session_factory, cfg)
    sign_in(page, server, "demo-callback")
    expect(page.get_by_role("button", name="Next callback")).to_be_focused()
    page.keyboard.press("n")
    expect(page.get_by_role("heading", name=re.compile(r"Callback #\d+"))).to_be_visible()
    loaded(page)
    page.keyboard.press("l")  # "asked to be called later": the time field gets the focus
    expect(page.get_by_label(re.compile("Call again at"))).to_be_focused()
    page.get_by_role("button", name="Save: not reached").click()
    expect(page.get_by_text("When did the customer ask to be called?")).to_be_visible()
    expect(page.get_by_label(re.compile("Call again at"))).to_be_focused()  # the field to fix
    shoot(page, "11-not-reached-errors")


def test_docs_render_from_local_assets_with_no_network(server, open_page):
    page, watch = open_page()
    page.goto(server + "/docs")
    expect(page.get_by_text("/api/v1/sales").first).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()
    shoot(page, "12-docs", full_page=False)  # the whole document is 7,000 px long
    assert watch.outside == []


def test_a_page_posted_without_its_token_is_refused(server, open_page, team, api, session_factory, cfg):
    cb_id = _due(api, session_factory, cfg)
    page, _ = open_page()
    sign_in(page, server, "demo-callback")
    page.locator("form[action='/callbacks/next'] input[name='csrf_token']").evaluate("e => e.remove()")
    page.get_by_role("button", name="Next callback").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    shoot(page, "13-csrf-refused")
    with session_factory() as session:
        assert session.get(type(callback_of(session, 1)), cb_id).state == "human_queue"
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
