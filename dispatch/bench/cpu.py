"""CPU time by role while load runs, from /proc: where an order's cost goes on the machine.

Roles are process trees the bench started (the API's gunicorn, job workers, `rq cron`) and
processes known by name (PostgreSQL's backends, Redis, wrk). Each process's user + system time is
counted from the moment it is first seen (or from its start, if it started after the measuring
began) to its last sample, so a phase's figure includes workers started and stopped within it.
The machine's busy and idle time come from /proc/stat over the same interval.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.bench.memory import process_tree

HZ = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(user + system ticks, start time in ticks since boot) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12]), int(fields[19])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _machine() -> tuple[int, int]:
    """(all ticks, idle + iowait ticks) of every CPU since boot."""
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values), values[3] + values[4]


def _uptime_ticks() -> int:
    return int(float(Path("/proc/uptime").read_text().split()[0]) * HZ)


@dataclass
class Phase:
    """CPU seconds by role over one phase, and the machine's over the same wall time."""

    label: str
    by_role: dict[str, float]
    machine: float  # CPU seconds the machine had (cores x wall)
    idle: float  # of which idle


@dataclass
class CpuUse:
    """Samples the tracked processes' CPU time: `start()`, then `phase(label)` at the end of each
    phase (the next starts at once), then `stop()`."""

    interval: float = 0.5
    roots: dict[int, tuple[str, bool]] = field(default_factory=dict)  # pid -> (role, children only)
    names: dict[str, str] = field(default_factory=dict)  # process name -> role
    phases: list[Phase] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def track(self, role: str, pid: int, *, children_only: bool = False) -> None:
        """Count the processes under `pid` (gunicorn workers: the master's children only) as `role`."""
        with self._lock:
            self.roots[pid] = (role, children_only)

    def track_named(self, role: str, *names: str) -> None:
        """Count every process called one of `names` (PostgreSQL's backends: "postgres") as `role`."""
        with self._lock:
            self.names.update(dict.fromkeys(names, role))

    def _totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, ticks in self._last.items():
            role = self._role[pid]
            totals[role] = totals.get(role, 0.0) + (ticks - self._base[pid]) / HZ
        return totals

    def sample(self) -> None:
        with self._lock:
            owned = {
                pid: role
                for root, (role, children_only) in self.roots.items()
                for pid in process_tree(root, children_only)
            }
            for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
                role = self._role.get(pid) or owned.get(pid) or self.names.get(_comm(pid))
                if not role:
                    continue
                stat = _stat(pid)
                if stat is None:
                    continue
                ticks, started = stat
                if pid not in self._role:
                    self._role[pid] = role
                    self._base[pid] = 0 if started >= self._since else ticks
                self._last[pid] = ticks

    def phase(self, label: str) -> Phase:
        """End the current phase (named `label`) at this moment; the next one starts now."""
        self.sample()
        machine = _machine()
        (all0, idle0), before = self._mark
        with self._lock:
            totals = self._totals()
        by_role = {role: cpu - before.get(role, 0.0) for role, cpu in totals.items()}
        phase = Phase(
            label,
            {role: cpu for role, cpu in by_role.items() if cpu > 0},
            (machine[0] - all0) / HZ,
            (machine[1] - idle0) / HZ,
        )
        self.phases.append(phase)
        self._mark: tuple[tuple[int, int], dict[str, float]] = (machine, totals)
        return phase

    def start(self) -> None:
        """Start sampling in the background; the first phase starts now."""
        self._since = _uptime_ticks()
        self._base: dict[int, int] = {}  # pid -> ticks when first seen (0 if it started since)
        self._last: dict[int, int] = {}
        self._role: dict[int, str] = {}
        self._mark = (_machine(), {})
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
