"""Webhook signatures need this installation's own secret: no key written in the source signs them.

With the simulated phone network the webhooks are signed with SIMULATOR_SIGNING_SECRET, which
scripts/run generates once per installation; without it (or with Twilio and no auth token) the
API and the workers refuse to start, naming the setting.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from dispatch.app import create_app
from dispatch.localrun import signing_secret
from dispatch.models import AuditEvent, OptOut
from dispatch.platform.config import ConfigError, load_settings
from tests.conftest import SIGNING_SECRET

# The key every default installation signed its webhooks with before each got its own.
OLD_SOURCE_KEY = "simulator-not-a-secret"
PHONE = "+12175550142"


def _stop(client, key: str):
    """An SMS `STOP` from PHONE, signed with `key` as Twilio (or the simulator) would sign it."""
    path = "/api/v1/twilio/sms"
    params = {"From": PHONE, "To": "+15005550006", "Body": "STOP", "MessageSid": "SM" + "c" * 32}
    signature = RequestValidator(key).compute_signature("http://127.0.0.1:8000" + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def _written(session_factory) -> tuple[int, int]:
    with session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(OptOut)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_a_reply_signed_with_the_old_source_key_is_refused_and_changes_nothing(client, session_factory):
    assert _written(session_factory) == (0, 0)
    forged = _stop(client, OLD_SOURCE_KEY)
    assert forged.status_code == 403
    assert _written(session_factory) == (0, 0)
    # The same text signed with this installation's secret is taken: the refusal was the key.
    assert _stop(client, SIGNING_SECRET).status_code == 200
    with session_factory() as s:
        assert s.scalars(select(OptOut.phone)).all() == [PHONE]


def test_the_simulator_without_a_signing_secret_refuses_to_start(settings):
    without = {**settings, "SIMULATOR_SIGNING_SECRET": ""}
    with pytest.raises(ConfigError, match="SIMULATOR_SIGNING_SECRET is not set"):
        create_app(without)
    with pytest.raises(ConfigError, match="SIMULATOR_SIGNING_SECRET is not set"):
        load_settings(without)  # what the workers and cron load
    with pytest.raises(ConfigError, match="SIMULATOR_SIGNING_SECRET is shorter than 32 characters"):
        create_app({**settings, "SIMULATOR_SIGNING_SECRET": "letmein"})
    # The operator command and migrations sign no webhook: they start without it.
    create_app(without, webhooks=False).extensions["dispatch.engine"].dispose()


def test_twilio_without_an_auth_token_refuses_to_start(settings):
    twilio = {
        **settings,
        "SIMULATOR_SIGNING_SECRET": "",
        "TELEPHONY_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_FROM_NUMBER": "+12175550100",
    }
    with pytest.raises(ConfigError, match="not set: TWILIO_AUTH_TOKEN"):
        create_app(twilio)
    create_app({**twilio, "TWILIO_AUTH_TOKEN": "t" * 32}).extensions["dispatch.engine"].dispose()


def test_scripts_run_generates_the_secret_once_keeps_it_private_and_reuses_it(tmp_path: Path):
    secret_file = tmp_path / "simulator-signing-secret"
    first = signing_secret(secret_file)
    assert len(first) >= 32 and first != OLD_SOURCE_KEY
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert signing_secret(secret_file) == first  # the next start
    # Another installation gets another secret.
    assert signing_secret(tmp_path / "elsewhere") != first
    # A file that lost its content is not trusted as a key: a new secret replaces it.
    secret_file.write_text("\n")
    renewed = signing_secret(secret_file)
    assert len(renewed) >= 32 and renewed != first
