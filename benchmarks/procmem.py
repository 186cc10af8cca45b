"""Peak memory (and CPU) of a process tree, without psutil: sample ``/proc`` in a background thread.

``ru_maxrss`` only knows the largest single process; what matters for ``collect`` is
the parent *plus* its worker processes at the same moment, so :class:`TreeRss` sums the
resident set of a process and all its descendants every few milliseconds and keeps the
peak.  A forked worker shares the pages it has not written with its parent (copy on write):
the sum of resident sets counts those twice, so the sampler also sums each process's
*proportional* set size (``Pss`` of ``/proc/PID/smaps_rollup``: a shared page counts one
n-th in each of its n processes), the memory the tree really holds.  Linux only (``/proc``);
elsewhere the peaks stay ``None``.
"""
from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ppid_map() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    out: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_bytes()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) > 1:
            out[int(d.name)] = int(rest[1])
    return out


def descendants(root: int) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _ppid_map().items():
        children.setdefault(ppid, []).append(pid)
    seen, todo = {root}, [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int | None:
    """Proportional set size of one process (0 when it is gone, None where the kernel does
    not say: no ``smaps_rollup``)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:  # the process is gone, or the kernel is older than 4.14
        return None if Path(f"/proc/{pid}").exists() else 0
    except (OSError, IndexError, ValueError):
        return 0
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds one process has used so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        fields = stat[stat.rfind(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_rss(root: int) -> int:
    return sum(rss_bytes(p) for p in descendants(root))


class TreeRss:
    """``with TreeRss(pid) as m: ...`` then ``m.peak`` (bytes, parent + descendants)."""

    def __init__(self, root: int | None = None, interval: float = 0.05, keep: bool = False):
        self.root = root if root is not None else os.getpid()
        self.interval = interval
        self.keep = keep
        self.timeline: list[tuple[float, int]] = []  # (seconds since start, bytes) when keep
        self.peak: int | None = None
        self.peak_pss: int | None = None  # the most the tree held, shared pages counted once
        self.peak_processes = 0
        self.samples = 0
        self._cpu: dict[int, float] = {}  # pid -> the most CPU seen for it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if not Path("/proc/self/statm").exists():
            return
        t0 = time.perf_counter()
        while True:
            pids = descendants(self.root)
            total = sum(rss_bytes(p) for p in pids)
            pss = [pss_bytes(p) for p in pids]
            if all(x is not None for x in pss):
                held = sum(x for x in pss if x is not None)
                self.peak_pss = held if self.peak_pss is None else max(self.peak_pss, held)
            for p in pids:
                self._cpu[p] = max(self._cpu.get(p, 0.0), cpu_seconds(p))
            self.samples += 1
            if self.keep:
                self.timeline.append((time.perf_counter() - t0, total))
            if self.peak is None or total > self.peak:
                self.peak, self.peak_processes = total, len(pids)
            if self._stop.wait(self.interval):
                return

    @property
    def cpu(self) -> float:
        """CPU seconds of every process seen in the tree (up to its last sample)."""
        return sum(self._cpu.values())

    def start(self, root: int | None = None) -> "TreeRss":
        if root is not None:
            self.root = root
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> "TreeRss":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def children_maxrss() -> int:
    """The largest resident set any waited-for child ever had (bytes)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
