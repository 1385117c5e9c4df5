"""scripts/run as a newcomer uses it: start, copy a printed token, report a sale, Ctrl-C.

The script runs for real (private Redis, migrations, demo seed, gunicorn, rq worker, rq cron) on
the embedded defaults, in a temporary var directory and with the test run's virtualenv.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.helpers import sale_body
from tests.procs import Proc, free_port, start, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "run"
# "  demo-sales   dsp_...   <password for the pages>"
TOKEN_LINE = re.compile(r"^\s+(demo-[\w-]+)\s+(dsp_\S+)\s+\S+$", re.M)


def _env(tmp_path: Path, config: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_") and k != "PORT"}
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    env.update(
        DISPATCH_CONFIG=str(config_file),  # never a developer's config.toml in the repository
        DISPATCH_VENV=sys.prefix,  # the test run's virtualenv: no install
        DISPATCH_VAR_DIR=str(tmp_path / "var"),
    )
    return env


def _children(pid: int) -> dict[int, str]:
    """Every process descended from pid, with its command line."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent_of[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current and child not in found:
                try:
                    found[child] = (Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")).decode()
                except OSError:
                    found[child] = "?"
                frontier.append(child)
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"  # exited, waiting for a parent that is about to reap it


def _start(env: dict[str, str], port: int) -> Proc:
    proc = start("scripts-run", [str(SCRIPT), "--no-install", "--port", str(port)], env)
    wait_until(
        lambda: "Stop with Ctrl-C." in proc.output() or not proc.alive(),
        timeout=120,
        what="scripts/run to start",
    )
    assert proc.alive(), proc.output()
    return proc


def _stop(proc: Proc, sig: int, *, group: bool) -> dict[int, str]:
    """Send sig (to the script's process group, as a terminal's Ctrl-C does, or to the script)."""
    children = _children(proc.pid)
    if group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    # scripts/run gives each of its four children up to 15 s to finish its work before it kills
    # it (end_group): 60 s at worst, and then some.
    try:
        proc.popen.wait(90)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"scripts/run did not stop within 90 s:\n{proc.output()[-4000:]}") from None
    return children


def test_run_serves_the_api_worker_and_cron_and_ctrl_c_stops_everything(tmp_path: Path):
    env = _env(tmp_path, config='PROVIDER_QUIET_HOURS = ""\n')  # the provider's text, at any hour
    port = free_port()
    var = tmp_path / "var"
    proc = _start(env, port)
    try:
        out = proc.output()
        base = f"http://127.0.0.1:{port}"
        for url in (f"{base}/api/v1", f"{base}/docs", f"{base}/openapi.json"):
            assert url in out
        tokens = dict(TOKEN_LINE.findall(out))
        roles = {"demo-sales", "demo-agent", "demo-callback", "demo-supervisor", "demo-admin"}
        assert roles <= set(tokens) and "demo-provider-SPR-HEAT" in tokens

        saved = (var / "demo-tokens.txt").read_text()
        assert dict(re.findall(r"^(demo-[\w-]+)\t(\S+)\t\S+$", saved, re.M)) == tokens
        assert stat.S_IMODE((var / "demo-tokens.txt").stat().st_mode) == 0o600
        # The installation's own webhook signing secret, generated on this first start.
        secret = (var / "simulator-signing-secret").read_text().strip()
        assert len(secret) >= 32 and stat.S_IMODE((var / "simulator-signing-secret").stat().st_mode) == 0o600

        # The pages: the session key generated once (private), and a printed password signs in.
        key = (var / "secret-key").read_text().strip()
        assert len(key) >= 32 and stat.S_IMODE((var / "secret-key").stat().st_mode) == 0o600
        passwords = dict(re.findall(r"^(demo-[\w-]+)\t\S+\t(\S+)$", saved, re.M))
        assert f"{base}/" in out and passwords["demo-callback"] in out
        browser = requests.Session()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', browser.get(f"{base}/", timeout=10).text)
        assert csrf, "no CSRF token on the login page"
        signed_in = browser.post(
            f"{base}/login",
            data={
                "name": "demo-callback",
                "password": passwords["demo-callback"],
                "csrf_token": csrf.group(1),
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/callbacks")
        assert browser.get(f"{base}/callbacks", timeout=10).status_code == 200

        spec = requests.get(f"{base}/openapi.json", timeout=10).json()
        assert "/api/v1/sales" in spec["paths"]
        assert requests.get(f"{base}/docs", timeout=10).status_code == 200

        # A sale booked two hours ahead: its provider reminder is due at once, so the reminder
        # showing up proves the relay (rq cron) and the worker run on the private Redis.
        start_at = datetime.now(UTC) + timedelta(hours=2)
        window = {"start": start_at.isoformat(), "end": (start_at + timedelta(hours=2)).isoformat()}
        r = requests.post(
            f"{base}/api/v1/sales",
            json=sale_body(appointment=window),
            headers={"Authorization": f"Bearer {tokens['demo-sales']}", "Idempotency-Key": "run-1"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        order_id = r.json()["work_orders"][0]["id"]
        provider = {"Authorization": f"Bearer {tokens['demo-provider-SPR-HEAT']}"}

        def told() -> bool:
            detail = requests.get(f"{base}/api/v1/work-orders/{order_id}", headers=provider, timeout=10)
            return "provider_notified" in [e["action"] for e in detail.json()["history"]]

        wait_until(told, timeout=60, what="the worker to tell the provider")

        children = _stop(proc, signal.SIGINT, group=True)
        kinds = " ".join(children.values())
        for name in ("redis-server", "gunicorn", "rq worker", "rq cron"):
            assert name in kinds, f"{name} was not running: {children}"
        assert proc.popen.returncode == 0, proc.output()
        assert "stopped." in proc.output()
        wait_until(lambda: all(_gone(pid) for pid in children), timeout=10, what="every child to exit")
        assert not (var / "redis.sock").exists() and not (var / "run.pid").exists()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/api/v1/health", timeout=2)

        # A later start prints the same tokens from var/demo-tokens.txt, keeps the data and the
        # signing secret.
        proc = _start(env, port)
        again = dict(TOKEN_LINE.findall(proc.output()))
        assert again == tokens
        assert (var / "simulator-signing-secret").read_text().strip() == secret
        # The same session key: the page session survives the restart.
        assert (var / "secret-key").read_text().strip() == key
        page = browser.get(f"{base}/callbacks", allow_redirects=False, timeout=10)
        assert page.status_code == 200 and "Callback console" in page.text
        listed = requests.get(
            f"{base}/api/v1/work-orders",
            headers={"Authorization": f"Bearer {again['demo-supervisor']}"},
            timeout=10,
        ).json()
        assert [o["id"] for o in listed["items"]] == [order_id]

        children = _stop(proc, signal.SIGTERM, group=False)  # `kill <pid>` of the script alone
        assert proc.popen.returncode == 0, proc.output()
        wait_until(lambda: all(_gone(pid) for pid in children), timeout=10, what="every child to exit")
    finally:
        proc.stop()


def _kill_leftovers(processes: dict[int, str]) -> None:
    """SIGKILL, by pid, each of these processes still running the same command (whatever failed)."""
    for pid, cmdline in processes.items():
        try:
            same = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() == cmdline
        except OSError:
            continue
        if same and not _gone(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _rq_workers(var: Path) -> list:
    """The RQ workers registered in scripts/run's private Redis (each with its own pid)."""
    import redis
    from rq import Worker

    return Worker.all(connection=redis.Redis(unix_socket_path=str(var / "redis.sock"), socket_timeout=5))


def test_a_killed_worker_is_started_again_while_the_api_keeps_taking_sales(tmp_path: Path):
    env = _env(tmp_path)
    port = free_port()
    var = tmp_path / "var"
    proc = _start(env, port)
    started: dict[int, str] = {}
    try:
        started.update(_children(proc.pid))
        base = f"http://127.0.0.1:{port}"
        tokens = dict(TOKEN_LINE.findall(proc.output()))
        # The worker's own pid, as it registered itself with RQ; its scheduler is a child it forks.
        wait_until(lambda: len(_rq_workers(var)) == 1, timeout=30, what="the worker to register")
        old = _rq_workers(var)[0].pid
        assert old in _children(proc.pid)
        wait_until(lambda: _children(old), timeout=30, what="the worker's scheduler process")
        old_group = {old: started[old], **_children(old)}
        started.update(old_group)

        os.kill(old, signal.SIGKILL)

        # While the worker is dead and being started again, the API takes every sale: half of them
        # on the fast path (kept as receipts for the worker to register), half synchronously.
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {tokens['demo-sales']}"
        statuses = []
        for i in range(50):
            headers = {"Idempotency-Key": f"while-restarting-{i}"}
            if i % 2:
                headers["Prefer"] = "respond-async"
            r = http.post(f"{base}/api/v1/sales", json=sale_body(), headers=headers, timeout=30)
            statuses.append(r.status_code)
        assert statuses == [202 if i % 2 else 201 for i in range(50)]

        wait_until(lambda: "worker started again" in proc.output(), timeout=30, what="the restart")
        out = proc.output()
        assert f"worker (pid {old}) stopped unexpectedly" in out and "killed by SIGKILL" in out, out

        def registered() -> bool:
            listed = http.get(f"{base}/api/v1/sale-receipts", params={"status": "registered"}, timeout=10)
            return listed.json()["total"] == 25

        wait_until(registered, timeout=60, what="the restarted worker to register the receipts")
        supervisor = {"Authorization": f"Bearer {tokens['demo-supervisor']}"}
        orders = requests.get(f"{base}/api/v1/work-orders", headers=supervisor, timeout=10).json()
        assert orders["total"] == 50

        # Nothing of the killed worker is left (its scheduler was stopped before the restart),
        # and its successor is scripts/run's own child.
        assert all(_gone(pid) for pid in old_group), {p: c for p, c in old_group.items() if not _gone(p)}
        new = [w.pid for w in _rq_workers(var) if w.pid != old]
        assert len(new) == 1 and new[0] in _children(proc.pid)
        started.update(_children(proc.pid))

        children = _stop(proc, signal.SIGINT, group=True)
        assert proc.popen.returncode == 0, proc.output()
        wait_until(lambda: all(_gone(pid) for pid in children), timeout=10, what="every child to exit")
    finally:
        started.update(_children(proc.pid))
        proc.stop()
        _kill_leftovers(started)


def test_a_worker_that_cannot_start_stops_scripts_run_after_a_few_tries(tmp_path: Path):
    # A virtualenv whose rq fails at once as a worker (the API and cron start as usual).
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    real = Path(sys.prefix) / "bin"
    for name in ("python", "gunicorn", "rq"):
        wrapper = venv / "bin" / name
        refuse = 'if [ "$1" = worker ]; then echo "rq worker: cannot start (test)" >&2; exit 3; fi\n'
        wrapper.write_text(f'#!/bin/sh\n{refuse if name == "rq" else ""}exec {real / name} "$@"\n')
        wrapper.chmod(0o755)
    env = _env(tmp_path)
    env["DISPATCH_VENV"] = str(venv)
    port = free_port()
    proc = start("scripts-run", [str(SCRIPT), "--no-install", "--port", str(port)], env)
    started: dict[int, str] = {}

    def record() -> bool:
        started.update(_children(proc.pid))
        return not proc.alive()

    try:
        wait_until(record, timeout=90, interval=0.5, what="scripts/run to give up")
        out = proc.output()
        assert proc.popen.returncode == 1, out
        for delay in (1, 2, 4, 8):  # it tried again, waiting longer each time
            assert f"starting it again in {delay} s" in out, out
        assert "worker died within 10 s of starting 5 times in a row (last: exit status 3)" in out, out
        assert "rq worker: cannot start (test)" in out  # the end of its log, shown
        assert "stopped." in out
        assert all(_gone(pid) for pid in started), started
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    finally:
        proc.stop()
        _kill_leftovers(started)


def test_a_bad_configuration_is_named_and_starts_nothing(tmp_path: Path):
    env = _env(tmp_path, config='TELEPHONY_BACKEND = "carrier-pigeon"\n')
    proc = start("scripts-run", [str(SCRIPT), "--no-install", "--port", str(free_port())], env)
    try:
        assert proc.popen.wait(60) == 1
        assert "TELEPHONY_BACKEND must be 'simulator' or 'twilio'" in proc.output()
        assert not (tmp_path / "var" / "run.pid").exists()
    finally:
        proc.stop()


def test_help_explains_the_options():
    import subprocess

    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for option in ("--port", "--no-demo-data", "--demo", "DISPATCH_CONFIG", "DISPATCH_VAR_DIR"):
        assert option in result.stdout
    wrong = subprocess.run([str(SCRIPT), "--frobnicate"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode != 0 and "unknown option: --frobnicate" in wrong.stderr


def test_demo_tokens_are_kept_in_a_private_file_and_reissued_when_it_is_lost(tmp_path: Path):
    from dispatch import auth
    from dispatch.audit.trail import make_session_factory
    from dispatch.localrun import demo_tokens
    from dispatch.platform import migrate
    from dispatch.platform.db import make_engine

    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    migrate.upgrade(url)
    tokens_file = tmp_path / "demo-tokens.txt"

    first = demo_tokens(url, tokens_file)
    assert {"demo-sales", "demo-agent", "demo-callback", "demo-supervisor", "demo-admin"} <= set(first)
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    assert demo_tokens(url, tokens_file) == first  # a later start reads the file

    tokens_file.unlink()
    again = demo_tokens(url, tokens_file)
    assert set(again) == set(first) and not set(again.values()) & set(first.values())
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for name, token in again.items():
            actor = auth.authenticate(session, token)
            assert actor is not None and actor.name == name
    engine.dispose()

    # A file written for another database is not trusted: its tokens would not work here.
    tokens_file.write_text(tokens_file.read_text().replace(url, "sqlite:////elsewhere.sqlite3"))
    assert set(demo_tokens(url, tokens_file).values()).isdisjoint(again.values())
