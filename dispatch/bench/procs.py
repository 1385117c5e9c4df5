"""The processes a bench run starts: gunicorn with Dispatch's settings, `rq worker`s and `rq cron`,
each in its own session so that stopping one ends its whole group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.bench.rows import Bench


BIN = Path(sys.executable).parent


POST_JSON = {"Content-Type": "application/json"}


WORKER_CLASS = os.environ.get("DISPATCH_BENCH_WORKER_CLASS", "dispatch.jobs.worker.DispatchWorker")


@dataclass
class Server:
    """A process in its own session; `stop()` ends its whole group."""

    name: str
    popen: subprocess.Popen
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.popen.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait(5)


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: str) -> Server:
    """Start a process logging to a temporary file."""
    log = Path(tempfile.mkstemp(prefix=f"dispatch-bench-{name}-", suffix=".log")[1])
    with log.open("wb") as fh:
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, popen, log)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, server: Server, timeout: float = 60) -> None:
    """Wait until GET url answers 200, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not come up:\n{server.log.read_text(errors='replace')[-3000:]}")


def gunicorn(name: str, app: str, env: dict[str, str], cwd: str, health: str, port: int = 0) -> Server:
    """Serve `app` with Dispatch's gunicorn settings (dispatch/platform/gunicorn_conf.py) on a free port."""
    port = port or free_port()
    env = {**env, "DISPATCH_BIND": f"127.0.0.1:{port}"}
    server = spawn(
        name, [str(BIN / "gunicorn"), "-c", "python:dispatch.platform.gunicorn_conf", app], env, cwd
    )
    server.url = f"http://127.0.0.1:{port}"
    wait_http(server.url + health, server)
    return server


def start_worker(bench: Bench, env: dict[str, str], workers: int = 1) -> list[Server]:
    """`rq cron` and `workers` `rq worker`s (with their schedulers) on the default queue: [cron, *workers]."""
    from dispatch.jobs.runtime import queue_name

    cron = spawn(
        "rq-cron",
        [str(BIN / "rq"), "cron", "--url", bench.args.redis, "dispatch.jobs.cron_config"],
        env,
        bench.cwd,
    )
    argv = [
        str(BIN / "rq"),
        "worker",
        "-w",
        WORKER_CLASS,
        "--with-scheduler",
        "--url",
        bench.args.redis,
        queue_name("default"),
    ]
    started = [spawn("rq-worker", argv, env, bench.cwd) for _ in range(workers)]
    bench.servers += [cron, *started]
    bench.mem.track("job worker (rq worker)", started[0].pid)
    return [cron, *started]


def stop(bench: Bench, *procs: Server) -> None:
    """Stop processes the bench started and forget them."""
    for proc in procs:
        proc.stop()
        bench.servers.remove(proc)


def worker_settings(bench: Bench) -> dict[str, str]:
    return {
        "DISPATCH_DATABASE_URL": os.environ["DISPATCH_DATABASE_URL"],
        "DISPATCH_REDIS_URL": bench.args.redis,
        "DISPATCH_QUEUE_PREFIX": os.environ["DISPATCH_QUEUE_PREFIX"],
        "DISPATCH_TELEPHONY_BACKEND": "simulator",
        "DISPATCH_SIMULATOR_SIGNING_SECRET": os.environ["DISPATCH_SIMULATOR_SIGNING_SECRET"],
        "DISPATCH_SECRET_KEY": os.environ["DISPATCH_SECRET_KEY"],
        # One bench client stands for many shops and providers: lift the per-caller limits so
        # they do not answer 429, while their check (a Redis round trip) stays in the path.
        "DISPATCH_RATE_LIMIT_SALES": "100000000/minute",
        "DISPATCH_RATE_LIMIT_CLOSE": "100000000/minute",
    }


def wait_listening(worker: Server, timeout: float = 30) -> None:
    """Wait until an `rq worker` has started and listens on its queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.popen.poll() is None:
        if "Listening on" in worker.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"rq worker did not start:\n{worker.log.read_text(errors='replace')[-3000:]}")
