"""The pages through Flask's test client: login and sessions, CSRF, throttling, security headers,
and the callback console's forms (field errors, double submits, a lost lease, not reached)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select, update

from dispatch import auth
from dispatch.app import create_app
from dispatch.audit import callbacks
from dispatch.cli import main
from dispatch.models import Callback, Complaint, ContactAttempt, Provider, User, utcnow
from dispatch.platform.actors import Actor
from dispatch.platform.config import ConfigError
from dispatch.web import security
from tests.callbacks_support import ALL_DAY, agent_actor, callback_of, close_with, exhaust_automated
from tests.web_support import PASSWORD, csrf_token, login, set_password

APP_SETTINGS = {
    **ALL_DAY,
    "LOGIN_FAILURES_PER_ACCOUNT": "5/15 minutes",
    "LOGIN_FAILURES_PER_ADDRESS": "8/15 minutes",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'"
)


@pytest.fixture(autouse=True)
def _fresh_login_counts(app, redis_conn):
    """Failed-login counts are per user name and address, which every test shares: start at zero."""
    yield
    for key in redis_conn.scan_iter(f"*{app.config['QUEUE_PREFIX']}-login*"):
        redis_conn.delete(key)


@pytest.fixture
def agent(api, session_factory):
    """The demo callback agent, with a password."""
    set_password(session_factory, "demo-callback")
    return "demo-callback"


def _due(api, session_factory, cfg, claim: str = "customer_not_home", **sale) -> int:
    """A callback waiting for the team: its automated attempts all went unanswered."""
    with session_factory() as session:
        order_id = close_with(api, claim, **sale)
        cb_id = callback_of(session, order_id).id
    exhaust_automated(session_factory, cb_id, cfg)
    return cb_id


def _held(session_factory, cb_id: int) -> tuple[str, int | None]:
    with session_factory() as session:
        cb = session.get(Callback, cb_id)
        return cb.state, cb.lease_holder_id


# --- login and sessions ----------------------------------------------------------------------------


def test_root_is_the_login_page_with_a_link_to_the_docs(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'action="/login"' in html and 'href="/docs"' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    assert '"includeIndicatorStyles": false' in html  # htmx adds no inline style


def test_login_sets_a_protected_session_cookie_and_opens_the_console(client, agent):
    response = login(client, agent)
    assert response.status_code == 303 and response.headers["Location"] == "/callbacks"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie  # a permanent session, refreshed on use, ending after inactivity
    page = client.get("/callbacks")
    assert page.status_code == 200 and "Ready for the next call" in page.get_data(as_text=True)
    assert client.get("/").headers["Location"] == "/callbacks"  # signed in: straight to the console


def test_secure_cookie_is_a_setting(settings, api, session_factory):
    set_password(session_factory, "demo-callback")
    app = create_app({**settings, "SESSION_COOKIE_SECURE": True})
    response = login(app.test_client(), "demo-callback")
    assert "Secure" in response.headers["Set-Cookie"]
    app.extensions["dispatch.engine"].dispose()


def test_wrong_password_keeps_the_name_and_says_so_beside_the_field(client, agent):
    response = login(client, agent, password="not the password")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert 'value="demo-callback"' in html and "Wrong user name or password" in html
    assert 'aria-describedby="password-error"' in html
    assert client.get("/callbacks").status_code == 302  # not signed in


def test_empty_fields_are_named_one_by_one(client, agent):
    response = login(client, "", password="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="name-error"' in html and 'id="password-error"' in html


def test_repeated_wrong_passwords_are_throttled_even_when_the_right_one_follows(client, agent):
    for _ in range(5):
        assert login(client, agent, password="guess").status_code == 401
    refused = login(client, agent)  # the right password, too late
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 60
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert client.get("/callbacks").status_code == 302  # still not signed in


def test_failures_are_also_counted_per_address(client, api, session_factory):
    set_password(session_factory, "demo-agent")
    for n in range(8):  # eight names from one address
        assert login(client, f"nobody-{n}", password="guess").status_code == 401
    refused = login(client, "demo-agent")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    other = client.application.test_client()
    signed_in = login(other, "demo-agent", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert signed_in.status_code == 303  # another address is not held back


def test_a_deactivated_user_is_signed_out_on_the_next_request(client, agent, session_factory):
    assert login(client, agent).status_code == 303
    assert client.get("/callbacks").status_code == 200
    with session_factory() as session:
        user = auth.find_user(session, agent)
        auth.set_user_active(session, Actor.system("test"), user_id=user.id, active=False)
        session.commit()
    page = client.get("/callbacks")
    assert page.status_code == 302 and page.headers["Location"] == "/"
    assert "deactivated" in client.get("/").get_data(as_text=True)
    # The live list (htmx) is told to load the login page instead.
    assert login(client, agent).status_code == 401  # and cannot sign in again
    live = client.get("/callbacks/live", headers={"HX-Request": "true"})
    assert live.status_code == 401 and live.headers["HX-Redirect"] == "/"


def test_users_of_a_deactivated_provider_are_signed_out(client, api, session_factory):
    set_password(session_factory, "demo-provider-SPR-HEAT")
    assert login(client, "demo-provider-SPR-HEAT").status_code == 303
    assert client.get("/home").status_code == 200
    with session_factory() as session:
        session.execute(update(Provider).where(Provider.code == "SPR-HEAT").values(active=False))
        session.commit()
    assert client.get("/home").status_code == 302


def test_a_new_password_ends_the_old_sessions(client, agent, session_factory):
    assert login(client, agent).status_code == 303
    set_password(session_factory, agent, "a brand new password")
    assert client.get("/callbacks").status_code == 302


def test_the_session_ends_after_inactivity_but_not_because_of_polling(client, agent, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(security, "now_seconds", lambda: clock[0])
    assert login(client, agent).status_code == 303
    clock[0] += 29 * 60
    assert client.get("/callbacks").status_code == 200  # activity: the idle time starts again
    for _ in range(3):  # the live list refreshing itself for 30 more minutes
        clock[0] += 10 * 60
        assert client.get("/callbacks/live", headers={"HX-Request": "true"}).status_code == 200
    clock[0] += 1
    assert client.get("/callbacks/live", headers={"HX-Request": "true"}).status_code == 401
    assert "30 minutes without activity" in client.get("/").get_data(as_text=True)


def test_logout_is_a_post_and_ends_the_session(client, agent):
    assert login(client, agent).status_code == 303
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/callbacks")}).status_code == 303
    assert client.get("/callbacks").status_code == 302


def test_other_roles_get_the_home_page_and_not_the_console(client, api, session_factory):
    set_password(session_factory, "demo-admin")  # headquarters IT: no console of its own yet
    response = login(client, "demo-admin")
    assert response.headers["Location"] == "/home"
    assert client.get("/callbacks").status_code == 403
    assert client.post("/callbacks/next", data={"csrf_token": csrf_token(client, "/home")}).status_code == 403


def test_next_is_only_a_local_path(client, agent):
    assert login(client, agent, next="https://evil.example/").headers["Location"] == "/callbacks"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/callbacks")})
    assert login(client, agent, next="//evil.example/x").headers["Location"] == "/callbacks"


# --- CSRF ----------------------------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client, agent, api, session_factory, cfg
):
    cb_id = _due(api, session_factory, cfg)
    assert login(client, agent).status_code == 303
    refused = client.post("/callbacks/next", data={})
    assert refused.status_code == 400 and "Nothing was saved" in refused.get_data(as_text=True)
    assert client.post("/callbacks/next", data={"csrf_token": "forged"}).status_code == 400
    assert _held(session_factory, cb_id) == ("human_queue", None)
    # The login form too: no token, no session.
    other = client.application.test_client()
    assert other.post("/login", data={"name": agent, "password": PASSWORD}).status_code == 400


def test_htmx_sends_the_token_as_a_header(client, agent, api, session_factory, cfg):
    cb_id = _due(api, session_factory, cfg)
    assert login(client, agent).status_code == 303
    token = csrf_token(client, "/callbacks")
    assert client.post("/callbacks/next", data={"csrf_token": token}).status_code == 303
    renewed = client.post(f"/callbacks/{cb_id}/renew", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert renewed.status_code == 200 and "You hold this callback until" in renewed.get_data(as_text=True)
    refused = client.post(f"/callbacks/{cb_id}/renew", headers={"HX-Request": "true"})
    assert refused.status_code == 400


def test_the_api_needs_no_csrf_token(api):
    # Bearer tokens, no cookies: a POST without any CSRF token goes through as before.
    assert api.post("/api/v1/sales", "sales", {"bad": "body"}).status_code == 422


# --- headers and static files ------------------------------------------------------------------------------


def test_every_page_and_file_sets_the_security_headers(client, agent, api, session_factory, cfg):
    _due(api, session_factory, cfg)
    paths = ["/", "/docs", "/openapi.json", "/static/web/dispatch.css", "/static/vendor/htmx.min.js", "/nope"]
    for path in paths:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"].startswith(CSP), path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
    assert login(client, agent).status_code == 303
    token = csrf_token(client, "/callbacks")
    client.post("/callbacks/next", data={"csrf_token": token})
    for path in ["/callbacks", "/callbacks/live", "/home"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"].startswith(CSP), path
        assert response.headers["Cache-Control"] == "no-store", path  # personal data


def test_no_page_has_an_inline_script_or_style(client, agent, api, session_factory, cfg):
    _due(api, session_factory, cfg)
    assert login(client, agent).status_code == 303
    client.post("/callbacks/next", data={"csrf_token": csrf_token(client, "/callbacks")})
    for path in ["/callbacks", "/callbacks/live", "/docs"]:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html, path


def test_only_the_allow_listed_libraries_are_served(client):
    assert client.get("/static/vendor/htmx.min.js").status_code == 200
    css = client.get("/static/vendor/swagger-ui/swagger-ui.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    for path in [
        "/static/vendor/htmx.org/package.json",
        "/static/vendor/../package.json",
        "/static/vendor/swagger-ui/index.html",
        "/static/vendor/swagger-ui/swagger-initializer.js",
    ]:
        assert client.get(path).status_code == 404, path


def test_docs_load_swagger_ui_from_this_app(client):
    html = client.get("/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/web/swagger-init.js" in html
    assert "https://" not in html and "cdn" not in html


# --- the console's forms -------------------------------------------------------------------------------------


def _signed_in_with_one(client, agent, api, session_factory, cfg, **kw) -> tuple[int, str]:
    cb_id = _due(api, session_factory, cfg, **kw)
    assert login(client, agent).status_code == 303
    token = csrf_token(client, "/callbacks")
    assert client.post("/callbacks/next", data={"csrf_token": token}).status_code == 303
    return cb_id, token


def test_answer_without_a_choice_names_the_field_and_keeps_the_note(client, agent, api, session_factory, cfg):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    response = client.post(
        f"/callbacks/{cb_id}/answer",
        data={
            "csrf_token": token,
            "happened": "",
            "rating": "satisfied",
            "note": "spoke to her son",
            "form_key": "k1",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="happened-error"' in html and "keys 1 to 3" in html
    assert 'value="spoke to her son"' in html
    assert re.search(r'value="satisfied"[^>]*checked', html)
    assert _held(session_factory, cb_id)[0] == "claimed"


def test_a_double_submitted_answer_is_saved_once(client, agent, api, session_factory, cfg):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    form = {
        "csrf_token": token,
        "happened": "nobody_came",
        "rating": "",
        "note": "",
        "form_key": "same",
        "then": "stay",
    }
    first = client.post(f"/callbacks/{cb_id}/answer", data=form)
    second = client.post(f"/callbacks/{cb_id}/answer", data=form)
    assert first.status_code == second.status_code == 303
    assert "Complaint #1 was opened" in client.get("/callbacks").get_data(as_text=True)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        assert session.scalar(select(func.count()).where(ContactAttempt.channel == "human")) == 1


def test_a_lease_lost_to_expiry_is_said_plainly_and_can_be_taken_back(
    client, agent, api, session_factory, cfg
):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    with session_factory() as session:
        session.execute(
            update(Callback).where(Callback.id == cb_id).values(lease_until=utcnow() - timedelta(minutes=1))
        )
        session.commit()
    form = {"csrf_token": token, "happened": "confirmed", "rating": "", "note": "home at 3", "form_key": "k2"}
    lost = client.post(f"/callbacks/{cb_id}/answer", data=form)
    html = lost.get_data(as_text=True)
    assert lost.status_code == 409
    assert "Your hold on this callback ran out" in html and "nothing was saved" in html
    assert 'value="home at 3"' in html and "Take it back and save" in html
    retaken = client.post(f"/callbacks/{cb_id}/answer", data={**form, "form_key": "k3", "retake": "1"})
    assert retaken.status_code == 303
    with session_factory() as session:
        assert session.get(Callback, cb_id).verdict == "confirmed"


def test_a_lease_taken_by_another_agent_names_them(client, agent, api, session_factory, cfg):
    from tests.callbacks_support import new_agent

    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    other, _token = new_agent(session_factory, "Bo Caller")
    with session_factory() as session:
        session.execute(
            update(Callback).where(Callback.id == cb_id).values(lease_until=utcnow() - timedelta(minutes=1))
        )
        session.commit()
        callbacks.claim(session, other, cb_id, cfg)
        session.commit()
    lost = client.post(
        f"/callbacks/{cb_id}/answer", data={"csrf_token": token, "happened": "confirmed", "form_key": "k4"}
    )
    assert lost.status_code == 409 and "Bo Caller has it now" in lost.get_data(as_text=True)
    assert _held(session_factory, cb_id)[1] == other.user_id


def test_not_reached_call_later_puts_it_back_at_the_customers_time(client, agent, api, session_factory, cfg):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    missing = client.post(
        f"/callbacks/{cb_id}/not-reached",
        data={
            "csrf_token": token,
            "reason": "call_later",
            "call_at": "",
            "missed_note": "after work",
            "form_key": "m1",
        },
    )
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and 'id="call-at-error"' in html and 'value="after work"' in html
    # Tomorrow at 15:00 on the customer's wall clock (Springfield: America/Chicago).
    from zoneinfo import ZoneInfo

    tomorrow = (utcnow().astimezone(ZoneInfo("America/Chicago")) + timedelta(days=1)).date()
    saved = client.post(
        f"/callbacks/{cb_id}/not-reached",
        data={"csrf_token": token, "reason": "call_later", "call_at": f"{tomorrow}T15:00", "form_key": "m2"},
    )
    assert saved.status_code == 303
    with session_factory() as session:
        cb = session.get(Callback, cb_id)
        assert (cb.state, cb.human_attempts) == ("human_queue", 0)  # reached, so not a failed try
        assert (
            cb.due_at.astimezone(ZoneInfo("America/Chicago")).strftime("%Y-%m-%d %H:%M")
            == f"{tomorrow} 15:00"
        )
    assert "back in the queue" in client.get("/callbacks").get_data(as_text=True)


def test_save_and_next_takes_the_next_callback(client, agent, api, session_factory, cfg):
    first, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    second = _due(api, session_factory, cfg, claim="completed", phone="+1 217 555 0142", name="Ada Lee")
    client.post(
        f"/callbacks/{first}/not-reached",
        data={"csrf_token": token, "reason": "no_answer", "form_key": "n1", "then": "next"},
    )
    assert _held(session_factory, second)[0] == "claimed"
    assert f"Callback #{second}" in client.get("/callbacks").get_data(as_text=True)


def test_the_card_shows_the_claim_the_customer_and_what_the_robot_heard(
    client, agent, api, session_factory, cfg
):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    with session_factory() as session:
        attempt = session.scalars(select(ContactAttempt).where(ContactAttempt.callback_id == cb_id)).first()
        attempt.heard = [
            {
                "question": "not_home",
                "input": "speech",
                "text": "um, maybe?",
                "confidence": 0.41,
                "reading": "unclear: hedge",
                "result": None,
                "language": "en",
            }
        ]
        session.commit()
    html = client.get("/callbacks").get_data(as_text=True)
    assert "says it could not do the job because the customer was not at home" in html
    assert 'href="tel:+12175550199"' in html and "America/Chicago" in html and "English" in html
    assert "“um, maybe?”" in html and "41% sure" in html and "unclear: hedge" in html
    assert "Order #" in html and "closed: not completed" in html


def test_the_live_list_shows_who_holds_which(client, agent, api, session_factory, cfg):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    waiting = _due(api, session_factory, cfg, claim="completed", phone="+1 217 555 0142", name="Ada Lee")
    html = client.get("/callbacks/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"#{cb_id}" in html and "you until" in html and f"#{waiting}" in html
    assert 'id="shift"' in html and 'hx-swap-oob="true"' in html


def test_the_days_count_is_the_agents_own(client, agent, api, session_factory, cfg):
    cb_id, token = _signed_in_with_one(client, agent, api, session_factory, cfg)
    client.post(
        f"/callbacks/{cb_id}/answer", data={"csrf_token": token, "happened": "confirmed", "form_key": "c1"}
    )
    html = client.get("/callbacks").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> answered", html)
    with session_factory() as session:
        me = agent_actor(session_factory)
        now = utcnow()
        assert callbacks.agent_calls(session, me, now - timedelta(hours=1), now + timedelta(hours=1)) == {
            "answered": 1,
            "not_reached": 0,
        }
        assert (
            callbacks.agent_calls(session, me, now + timedelta(hours=1), now + timedelta(hours=2))["answered"]
            == 0
        )


# --- operator and start-up ------------------------------------------------------------------------------------


def test_the_operator_sets_a_password(app, api, session_factory):
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: app)
    printed = runner.invoke(main, ["user", "password", "demo-agent"], obj=info)
    assert printed.exit_code == 0, printed.output
    generated = printed.output.strip()
    assert len(generated) >= 20
    client = app.test_client()
    assert login(client, "demo-agent", password=generated).status_code == 303
    given = runner.invoke(
        main, ["user", "password", "demo-agent", "--stdin"], obj=info, input="my own long password\n"
    )
    assert given.exit_code == 0 and "my own long password" not in given.output
    assert login(app.test_client(), "demo-agent", password="my own long password").status_code == 303
    short = runner.invoke(main, ["user", "password", "demo-agent", "--stdin"], obj=info, input="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    with session_factory() as session:
        stored = session.scalars(select(User.password_hash).where(User.name == "demo-agent")).one()
        assert stored.startswith("$argon2id$") and "my own long password" not in stored


def test_the_app_refuses_to_start_without_a_session_key(settings):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({**settings, "SECRET_KEY": ""})
    with pytest.raises(ConfigError, match="SECRET_KEY is shorter"):
        create_app({**settings, "SECRET_KEY": "letmein"})
    # The operator command serves no page: it starts with a key of its own.
    create_app({**settings, "SECRET_KEY": ""}, webhooks=False).extensions["dispatch.engine"].dispose()
