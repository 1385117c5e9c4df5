"""Load generators: `wrk` (C, event loop; the default) and a small Python fallback.

Both replay a file of prepared requests, one per line: method, path, headers, body separated by
tabs (headers as `Name:value|Name:value`). Each request is sent once, so creating requests
(sales with their own phone numbers, closings of distinct orders) never collide; a thread that
runs out of requests stops.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local idx = 0
overflow = 0
strays = 0
statuses = {}
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

-- wrk's main thread sleeps for the whole -d even when every thread has stopped: leave a mark
-- so that the bench can end the run (SIGINT) and wrk reports the time actually taken.
local function finished()
  local f = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. tid, "w")
  if f then f:close() end
  wrk.thread:stop()
end
function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local f = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
  local i = 0
  for line in f:lines() do
    if i % nthreads == tid then
      local method, path, hdrs, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      for k, v in hdrs:gmatch("([^|:]+):([^|]*)") do headers[k] = v end
      if body == "" then body = nil end
      reqs[#reqs + 1] = wrk.format(method, path, headers, body)
    end
    i = i + 1
  end
  f:close()
end

local verified = false
function request()
  if tid == 0 and not verified then
    -- wrk calls thread 0's request() once before the run, only to count pipelined requests:
    -- answer without using one up (else that request is never sent).
    verified = true
    return reqs[1] or wrk.format("GET", "/__bench_overflow")
  end
  idx = idx + 1
  if idx > #reqs then
    -- Out of prepared requests: stop; a harmless GET covers the race with the stop.
    overflow = overflow + 1
    strays = strays + 1
    finished()
    return wrk.format("GET", "/__bench_overflow")
  end
  return reqs[idx]
end

if delay_ms > 0 then
  function delay() return delay_ms end
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if idx >= #reqs then
    -- All handed out: this thread is done (answers still in flight on its other connections
    -- are not counted, although the server handles them).
    overflow = overflow + 1
    finished()
  end
end

function done(summary, latency, requests)
  local st, ovf, stray = {}, 0, 0
  for _, t in ipairs(threads) do
    ovf = ovf + (t:get("overflow") or 0)
    stray = stray + (t:get("strays") or 0)
    for k, v in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(st) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,' ..
    '"err_timeout":%d,"overflow":%d,"strays":%d,"statuses":{%s}}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout, ovf, stray,
    table.concat(parts, ",")))
end
"""


@dataclass
class Result:
    """One load run: throughput, latency percentiles (ms) and errors."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    # wrk always runs for its full duration: a run that ran out of requests understates the rate.
    ran_out: bool = False
    p95_ms: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def write_requests(lines: list[tuple[str, str, dict[str, str], str]]) -> Path:
    """Write prepared requests to a file both generators read."""
    fd, name = tempfile.mkstemp(prefix="dispatch-bench-", suffix=".req")
    with os.fdopen(fd, "w") as fh:
        for method, path, headers, body in lines:
            hdrs = "|".join(f"{k}:{v}" for k, v in headers.items())
            assert "\t" not in body and "\n" not in body
            fh.write(f"{method}\t{path}\t{hdrs}\t{body}\n")
    return Path(name)


def have_wrk() -> bool:
    """Whether the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def run(
    client: str,
    base_url: str,
    requests_file: Path,
    connections: int,
    seconds: float,
    delay_ms: float = 0,
    until: Callable[[], bool] | None = None,
) -> Result:
    """Replay the requests with `connections` open connections for at most `seconds`.

    A wrk run also ends as soon as every thread has run out of requests, or once `until()` (polled)
    is true; its rate then counts the time actually taken, not `seconds`.
    """
    with requests_file.open() as fh:
        count = sum(1 for _ in fh)
    # An idle connection of a wrk thread would find nothing to send and stop its whole thread,
    # leaving the answers in flight on the thread's other connections uncounted.
    connections = max(1, min(connections, count))
    if client == "wrk":
        return _run_wrk(base_url, requests_file, connections, seconds, delay_ms, until)
    return _run_python(base_url, requests_file, connections, seconds, delay_ms)


def _run_wrk(
    base_url: str,
    requests_file: Path,
    connections: int,
    seconds: float,
    delay_ms: float,
    until: Callable[[], bool] | None,
) -> Result:
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT)
        script = fh.name
    done_dir = tempfile.mkdtemp(prefix="dispatch-bench-wrk-")
    env = dict(os.environ)
    env.update(
        BENCH_REQUESTS=str(requests_file),
        BENCH_THREADS=str(threads),
        BENCH_DELAY_MS=str(int(delay_ms)),
        BENCH_DONE_DIR=done_dir,
    )
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    argv += ["--timeout", "10s", "-s", script, base_url]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        polls = 0
        while proc.poll() is None:
            # Every thread ran out, or the caller's work is done: end the run now (wrk stops on
            # SIGINT and still reports; it ignores SIGINT while starting, hence again until it exits).
            if len(os.listdir(done_dir)) >= threads or (until is not None and polls % 5 == 0 and until()):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.2)
            else:
                time.sleep(0.05)
            polls += 1
        out, err = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        os.unlink(script)
        shutil.rmtree(done_dir, ignore_errors=True)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv, out, err)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_RESULT "))
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    statuses = {k: v for k, v in data["statuses"].items()}
    # The overflow GETs (at most one per thread, racing the stop) are not part of the workload;
    # any other 404 is.
    stray = min(statuses.get("404", 0), data["strays"])
    if stray:
        statuses["404"] -= stray
        if not statuses["404"]:
            del statuses["404"]
    requests = data["requests"] - stray
    bad = sum(v for k, v in statuses.items() if not k.startswith("2"))
    errors = bad + data["err_connect"] + data["err_read"] + data["err_write"] + data["err_timeout"]
    return Result(
        requests=requests,
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        statuses=statuses,
        ran_out=bool(data["overflow"]),
        p95_ms=data["p95_us"] / 1000,
    )


def _run_python(
    base_url: str, requests_file: Path, connections: int, seconds: float, delay_ms: float
) -> Result:
    """Threads with keep-alive connections; only for small runs (the GIL makes it the bottleneck)."""
    lines = requests_file.read_text().splitlines()
    parts = urlsplit(base_url)
    host = parts.hostname
    if host is None:
        raise ValueError(f"no host in {base_url}")
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(tid: int) -> None:
        conn = http.client.HTTPConnection(host, parts.port, timeout=10)
        for line in lines[tid::connections]:
            if time.monotonic() > deadline:
                break
            method, path, hdrs, body = line.split("\t", 3)
            headers = dict(h.split(":", 1) for h in hdrs.split("|") if h)
            if body:
                headers["Content-Type"] = headers.get("Content-Type", "application/json")
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body.encode() or None, headers=headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                with lock:
                    errors[0] += 1
                continue
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
            if delay_ms:
                time.sleep(delay_ms / 1000)
        conn.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    took = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    bad = sum(v for k, v in statuses.items() if not k.startswith("2"))
    # It stops when out of requests, so its rate is not understated; flag it like wrk's anyway.
    ran_out = len(latencies) + errors[0] >= len(lines)
    return Result(
        len(latencies), took, pct(0.50), pct(0.99), bad + errors[0], dict(statuses), ran_out, pct(0.95)
    )
