"""Redis behind Sentinel: every client from dispatch.platform.redis_client.make_redis follows a failover.

A private master, a replica and one Sentinel (redis-server --sentinel) on free ports, never the
machine's Redis. The master is killed and the Sentinel promotes the replica; the same client
object keeps writing, now to the promoted replica, a rate limit keeps counting there, and a real `rq worker -c
dispatch.jobs.rqconfig` (the command line scripts/run uses) finds the new master through the
Sentinel and runs a job enqueued through it. A Sentinel that never answers is skipped.
"""

from __future__ import annotations

import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from dispatch.app import create_app
from dispatch.platform.config import ConfigError
from dispatch.platform.ratelimit import RequestRateLimit, SharedRateLimit, redis_storage
from dispatch.platform.redis_client import make_redis, sentinel_addresses
from tests.conftest import SIGNING_SECRET
from tests.procs import PrivateRedis, PrivateSentinel, isolated_env, start_worker, wait_until

pytestmark = pytest.mark.slow


def _role(port: int) -> str:
    return Redis(port=port, socket_timeout=1).role()[0].decode()


@pytest.fixture
def sentinel_site(tmp_path: Path):
    """A master, its replica (in sync) and a Sentinel that knows both; yields them and the settings."""
    started: list = []
    try:
        # A full sync writes a snapshot on both sides, in --dir: never in the checkout.
        dirs = [tmp_path / "master", tmp_path / "replica"]
        for d in dirs:
            d.mkdir()
        master = PrivateRedis(args=["--dir", str(dirs[0])]).start()
        started.append(master)
        replica = PrivateRedis(
            args=["--replicaof", "127.0.0.1", str(master.port), "--dir", str(dirs[1])]
        ).start()
        started.append(replica)
        wait_until(
            lambda: Redis(port=replica.port).info("replication")["master_link_status"] == "up",
            timeout=10,
            what="replica in sync",
        )
        name = f"dispatch-{uuid.uuid4().hex[:8]}"
        sentinel = PrivateSentinel(master.port, tmp_path, name=name).start()
        started.append(sentinel)
        probe = Redis(port=sentinel.port, socket_timeout=1)
        wait_until(
            lambda: any(r["port"] == replica.port for r in probe.sentinel_slaves(name)),
            timeout=10,
            what="the Sentinel to see the replica",
        )
        settings = {
            "REDIS_URL": "",
            "REDIS_SENTINELS": sentinel.address,
            "REDIS_SENTINEL_MASTER": name,
        }
        yield master, replica, sentinel, settings
    finally:
        for proc in reversed(started):
            proc.stop()


def test_clients_from_the_factory_follow_a_sentinel_failover(sentinel_site, tmp_path: Path):
    master, replica, sentinel, settings = sentinel_site
    client = make_redis(settings, socket_timeout=2)
    client.set("before", "1")
    assert client.wait(1, 2000) == 1  # replicated before the master dies
    assert Redis(port=master.port).get("before") == b"1"  # the factory's client talks to the master
    assert client.connection_pool.get_master_address()[1] == master.port

    # A real `rq worker` whose connection comes from dispatch.jobs.rqconfig (REDIS_SENTINELS in its
    # environment, the command line scripts/run uses) runs a job enqueued through the factory.
    env = isolated_env(tmp_path, "sentinel", **settings)
    queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=client)
    worker = start_worker(env, scheduler=False)
    try:
        first = queue.enqueue("operator.add", 2, 3)
        wait_until(lambda: first.refresh() or first.get_status() == "finished", timeout=20, what="first job")
        assert first.return_value() == 5
        _fail_over_and_follow(master, replica, sentinel, settings, client)

        # The same worker process, its connection lost with the old master, finds the new one.
        second = queue.enqueue("operator.mul", 4, 5)
        try:
            wait_until(lambda: second.refresh() or second.get_status() == "finished", timeout=30)
        except AssertionError:
            raise AssertionError(
                f"the job after the failover did not run:\n{worker.output()[-3000:]}"
            ) from None
        assert second.return_value() == 20
        assert Redis(port=replica.port).exists(second.key)  # the job lives on the new master

        # SIGTERM (what systemd or scripts/run sends) ends it at once, as with a plain Redis.
        worker.kill(signal.SIGTERM)
        worker.popen.wait(5)
        assert "Traceback" not in worker.output(), worker.output()[-3000:]
    finally:
        worker.stop()


def _fail_over_and_follow(master, replica, sentinel, settings, client) -> None:
    # The master dies (by its own pid). The Sentinel marks it down after down-after-milliseconds
    # (1 s) and promotes the replica. (A `SENTINEL FAILOVER` works too, but the old master is then
    # demoted only at the Sentinel's next 10 s poll, and clients write to it until then.)
    master.proc.kill()
    probe = Redis(port=sentinel.port, socket_timeout=2)

    def failed_over() -> bool:
        state = probe.sentinel_master(settings["REDIS_SENTINEL_MASTER"])
        return state["port"] == replica.port and not (state["is_sdown"] or state["is_odown"])

    # Until the Sentinel has finished (about 2 s here), clients get errors: the callers' retries
    # (jobs, the relay's next pass) and the fail-open rate limits cover that window.
    wait_until(failed_over, timeout=15, what="the Sentinel to finish the failover")

    # The same client object: its connection to the dead master fails, is dropped, and the
    # retry connects where the Sentinel now points. Data written before the failover is there.
    client.set("after", "2")
    assert Redis(port=replica.port).get("after") == b"2"
    assert client.get("before") == b"1"
    assert client.connection_pool.get_master_address()[1] == replica.port

    # Rate limits made on the factory's client count on the new master: the third hit is refused
    # (the limiter fails open, so a refusal proves Redis was reached).
    limit = RequestRateLimit(redis_storage(client), "2/minute", f"sentinel-test-{uuid.uuid4().hex}")
    assert [limit.allow("caller") for _ in range(3)] == [True, True, False]
    assert SharedRateLimit(client, f"sentinel-test-{uuid.uuid4().hex}", 100).acquire(timeout=1) is not None


@contextmanager
def _dead_host() -> Iterator[str]:
    """An address that takes connections and never answers, like a Sentinel whose host hung or
    whose packets are dropped (the kernel completes the handshake; nothing ever replies)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_sentinel_that_never_answers_is_skipped_for_the_next(sentinel_site, tmp_path: Path):
    master, _replica, sentinel, settings = sentinel_site
    with _dead_host() as dead:
        # The dead Sentinel is asked first: clients must time out on it and ask the next one.
        settings = {**settings, "REDIS_SENTINELS": f"{dead},{sentinel.address}"}
        done: dict[str, object] = {}
        client = make_redis(settings)  # as jobs and the relay make theirs (no options)
        thread = threading.Thread(target=lambda: done.update(ok=client.set("k", "v")), daemon=True)
        thread.start()
        thread.join(15)
        assert done.get("ok") is True, "the client waited on the Sentinel that never answers"
        assert Redis(port=master.port).get("k") == b"v"

        # A real `rq worker -c dispatch.jobs.rqconfig` starts and runs a job all the same.
        env = isolated_env(tmp_path, "sentinel-dead", **settings)
        queue = Queue(f"{env['DISPATCH_QUEUE_PREFIX']}-default", connection=Redis(port=master.port))
        worker = start_worker(env, scheduler=False)
        try:
            job = queue.enqueue("operator.add", 2, 3)
            try:
                wait_until(lambda: job.refresh() or job.get_status() == "finished", timeout=30)
            except AssertionError:
                raise AssertionError(
                    f"the worker did not get past the dead Sentinel:\n{worker.output()[-3000:]}"
                ) from None
            assert job.return_value() == 5
        finally:
            worker.stop()


def test_redis_url_alone_is_used_as_before_and_bad_sentinel_lists_are_refused():
    client = make_redis({"REDIS_URL": "redis://127.0.0.1:1/3", "REDIS_SENTINELS": ""})
    assert client.connection_pool.connection_kwargs["port"] == 1
    assert client.connection_pool.connection_kwargs["db"] == 3
    # With Sentinels, REDIS_URL gives only what the master needs: password and database.
    client = make_redis(
        {
            "REDIS_URL": "redis://:s3cret@ignored:6379/2",
            "REDIS_SENTINELS": "a:26379, b:26380",
            "REDIS_SENTINEL_MASTER": "m",
        }
    )
    assert client.connection_pool.service_name == "m"
    assert client.connection_pool.connection_kwargs["password"] == "s3cret"
    assert client.connection_pool.connection_kwargs["db"] == 2
    assert sentinel_addresses({"REDIS_SENTINELS": "a:26379, b:26380"}) == [("a", 26379), ("b", 26380)]
    for bad in ("a", "a:port", ":26379", "a:70000"):
        with pytest.raises(ConfigError, match="REDIS_SENTINELS"):
            sentinel_addresses({"REDIS_SENTINELS": bad})
    with pytest.raises(ConfigError, match="REDIS_URL"):
        make_redis({"REDIS_URL": "", "REDIS_SENTINELS": ""})


def test_the_app_refuses_to_start_on_a_bad_sentinel_list(tmp_path: Path):
    with pytest.raises(ConfigError, match="REDIS_SENTINELS: 'redis-a' is not host:port"):
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                "REDIS_SENTINELS": "redis-a",
                "SIMULATOR_SIGNING_SECRET": SIGNING_SECRET,
            }
        )
