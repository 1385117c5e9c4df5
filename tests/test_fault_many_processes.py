"""Two API processes, three workers and two cron processes running together: every callback placed
exactly once. Dials are counted at the stand-in for Twilio's REST API, per attempt.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.models import Callback
from tests.procs import free_port, start_cron, start_gunicorn, wait_until
from tests.quiet import wait_until_quiet
from tests.test_callback_faults import System, dials_per_attempt
from tests.test_callbacks_e2e import e2e_env

pytestmark = pytest.mark.slow

ORDERS = 12


def test_two_apis_three_workers_two_crons_place_every_callback_once(
    worker_env, standin, session_factory, redis_conn
):
    port = free_port()
    env = e2e_env(worker_env, standin, port)
    system = System(env, port, session_factory).start(workers=3)
    try:
        second = start_gunicorn(env)  # a second API process (webhooks still go to PUBLIC_BASE_URL)
        system.procs += [second, start_cron(env)]
        bases = [system.base, second.extra["url"]]
        phones = [f"+121755502{i:02d}" for i in range(ORDERS)]

        for i, phone in enumerate(phones):
            system.base = bases[i % 2]  # alternate the API process taking the sale and the closing
            system.close_order(phone)
        system.base = bases[0]
        wait_until(lambda: len(standin.calls()) >= ORDERS, timeout=120, what="every callback dialled")
        wait_until_quiet(env)  # two crons and three workers: a duplicate would show up by now
        assert sorted(r.form["To"] for r in standin.calls()) == sorted(phones)
        assert set(dials_per_attempt(standin).values()) == {1}
        with session_factory() as s:
            assert s.scalar(select(func.count()).select_from(Callback)) == ORDERS
    finally:
        system.stop()
