"""No full phone number, bearer token or configured secret in any log line.

The redaction is installed by create_app and by the job runtime; it works on log records as they
are created, so it covers the app's own loggers, tracebacks, and gunicorn's access log.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests

from dispatch.platform import logs
from tests import procs
from tests.helpers import Api, sale_body

PHONE = "+12175550199"
PHONE_SHOWN = "+1********99"
# Any full run of 10+ digits of that number, in any format, must not appear.
FULL_NUMBER = re.compile(r"2\D{0,3}1\D{0,3}7\D{0,3}5\D{0,3}5\D{0,3}5\D{0,3}0\D{0,3}1\D{0,3}9\D{0,3}9")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (f"calling {PHONE} now", f"calling {PHONE_SHOWN} now"),
        ("calling +1 217 555 0199 now", f"calling {PHONE_SHOWN} now"),
        ("calling +1-217-555-0199.", f"calling {PHONE_SHOWN}."),
        ("GET /api/v1/customers?phone=%2B12175550199 HTTP/1.1", f"?phone={PHONE_SHOWN} HTTP/1.1"),
        ("GET /api/v1/customers?phone=(217)%20555-0199&x=1", "?phone=+2*******99&x=1"),
        ("To=%2B442071838750&From=%2B14155550100", "To=+4*********50&From=+1********00"),
        # Any parameter, whatever its name, and national formats in message text.
        ("GET /api/v1/customers?q=217-555-0199&page=2 HTTP/1.1", "?q=+2*******99&page=2 HTTP/1.1"),
        ("GET /x?search=%2B12175550199 HTTP/1.1", f"?search={PHONE_SHOWN} HTTP/1.1"),
        ("text from (217) 555-0199: yes", "text from +2*******99: yes"),
        ("reply from 2175550199", "reply from +2*******99"),
        ("sms 13812345678 STOP", "sms +1********78 STOP"),
        ("Authorization: Bearer dsp_abcdefgh12345678901234567890", "Authorization: Bearer [redacted]"),
        ("token dsp_abcdefgh1234567890abcdefghij issued", "token dsp_abcdefgh… issued"),
        ("Authorization: Basic QUMxMjM0NTY3ODk6c2VjcmV0", "Authorization: Basic [redacted]"),
        ("postgresql://dispatch:hunter22@db/dispatch", "postgresql://dispatch:***@db/dispatch"),
    ],
)
def test_redact_masks_numbers_and_credentials(raw, shown):
    assert shown in logs.redact(raw)


@pytest.mark.parametrize(
    "harmless",
    [
        "2026-05-01T15:00:00+00:00 order 12345 moved from=booked to=closed_completed",
        "seq 1234567 hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "GET /api/v1/work-orders?date_from=2026-05-01&page=2 HTTP/1.1 200",
        "job 550e8400-e29b-41d4-a716-446655440000 at 1764496000 took 0.123456789 s from 192.168.100.200",
    ],
)
def test_redact_leaves_times_ids_and_hashes_alone(harmless):
    assert logs.redact(harmless) == harmless


def test_configured_secrets_are_removed_from_any_message():
    logs.install({"TWILIO_AUTH_TOKEN": "f00dfeedcafe1234deadbeef00112233", "LOG_LEVEL": "INFO"})
    assert logs.redact("auth f00dfeedcafe1234deadbeef00112233 failed") == "auth [secret] failed"
    assert "INFO" in logs.redact("LOG_LEVEL INFO")  # only secret-named settings count


def test_app_logs_and_tracebacks_are_redacted(app, client, caplog):
    """A sale, then a request failing with the number and the token in its exception."""
    api = Api.seeded(client, app.extensions["dispatch.sessions"])
    token = api.tokens["demo-sales"]

    @app.route("/boom")
    def boom():
        logging.getLogger("dispatch.test").warning("looking up %s for Bearer %s", PHONE, token)
        raise RuntimeError(f"no customer {PHONE} (token {token})")

    caplog.set_level(logging.DEBUG)
    sale = api.post("/api/v1/sales", "sales", sale_body(phone="(217) 555-0199"))
    assert sale.status_code == 201
    assert api.get(f"/api/v1/customers?phone={PHONE}", "agent").status_code == 200
    response = client.get("/boom")
    assert response.status_code == 500
    assert PHONE not in response.get_data(as_text=True)  # no trace to the client either

    handler = caplog.handler
    formatted = "\n".join(handler.format(r) for r in caplog.records)
    assert f"RuntimeError: no customer {PHONE_SHOWN}" in formatted  # the traceback is kept, masked
    assert f"looking up {PHONE_SHOWN} for Bearer [redacted]" in formatted
    assert not FULL_NUMBER.search(formatted), formatted
    assert token not in formatted and token[12:] not in formatted


def test_gunicorn_access_and_error_logs_hold_no_number_or_token(worker_env, session_factory):
    """A real gunicorn logging every request with its query string and Authorization header."""
    with session_factory() as session:
        from dispatch.reference import demo

        tokens = demo.seed(session)
        session.commit()
    env = dict(worker_env)
    env["GUNICORN_CMD_ARGS"] = (
        "--access-logfile - --error-logfile - --log-level debug "
        "--access-logformat '%(h)s \"%(r)s\" %(s)s auth=%({authorization}i)s'"
    )
    server = procs.start_gunicorn(env, workers=1)
    try:
        url = server.extra["url"] + "/api/v1"
        sales = {"Authorization": "Bearer " + tokens["demo-sales"]}
        agent = {"Authorization": "Bearer " + tokens["demo-agent"]}
        created = requests.post(f"{url}/sales", json=sale_body(phone=PHONE), headers=sales, timeout=10)
        assert created.status_code == 201, created.text
        found = requests.get(
            f"{url}/customers", params={"phone": "+1 217 555 0199"}, headers=agent, timeout=10
        )
        assert [c["phone"] for c in found.json()] == [PHONE]
        refused = requests.get(
            f"{url}/customers?phone={PHONE}", headers={"Authorization": "Bearer dsp_x"}, timeout=10
        )
        assert refused.status_code == 401
        # A number in a parameter not named as a phone field is logged masked too (the 422 names it).
        unknown = requests.get(
            f"{url}/customers", params={"search": "217-555-0199"}, headers=agent, timeout=10
        )
        assert unknown.status_code == 422
        too_big = requests.post(f"{url}/sales", data="x" * 100_000, headers=sales, timeout=10)
        assert too_big.status_code == 413
        procs.wait_until(lambda: server.output().count('"POST /api/v1/sales') >= 2, what="access log")
    finally:
        server.stop()
    output = server.output()
    assert f'"GET /api/v1/customers?phone={PHONE_SHOWN}' in output  # logged, masked
    assert '"GET /api/v1/customers?search=+2*******99' in output
    assert "auth=Bearer [redacted]" in output
    assert not FULL_NUMBER.search(output), output
    for token in (tokens["demo-sales"], tokens["demo-agent"]):
        assert token[12:] not in output
