"""Peak resident memory of process trees, sampled from /proc while load runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def process_tree(pid: int, children_only: bool) -> list[int]:
    """`pid` and every process below it (or only those below it)."""
    out = [] if children_only else [pid]
    todo = _children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakRss:
    """Per role, the largest RSS any one process of the tracked trees reached (KiB)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.roots: dict[str, tuple[int, bool]] = {}
        self.peak: dict[str, int] = {}
        self._lock = threading.Lock()

    def track(self, role: str, pid: int, *, children_only: bool = False) -> None:
        """Watch the processes under `pid` (gunicorn workers: the master's children only)."""
        # The sampling thread may be iterating over the roots right now.
        with self._lock:
            self.roots[role] = (pid, children_only)

    def sample(self) -> None:
        with self._lock:
            for role, (root, children_only) in self.roots.items():
                for pid in process_tree(root, children_only):
                    # VmHWM is the kernel's own high-water mark, so short peaks between samples count.
                    kb = max(_kb(pid, "VmHWM"), _kb(pid, "VmRSS"))
                    if kb > self.peak.get(role, 0):
                        self.peak[role] = kb

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Sample in the background while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.sample()
                time.sleep(self.interval)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.sample()

    def peaks(self) -> dict[str, int]:
        return dict(self.peak)
