"""Peak memory of a process tree: the pipeline process plus its workers (ingestion parses in worker
processes, dbt runs as a subprocess).

With psutil, a sampling thread sums the resident set size (RSS) of the process and all its descendants
every `interval` seconds and keeps the maximum: the memory the machine had to hold at once. Shared pages
(e.g. copy-on-write pages of forked workers) are counted once per process, so the figure errs high.
Without psutil it falls back to resource.getrusage: the largest single process's peak (ru_maxrss of this
process or of the largest waited-for child), a lower bound of the tree's peak.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from dataclasses import dataclass, field

try:  # psutil is a dependency of Dagster, so normally present
    import psutil
except ImportError:  # pragma: no cover - exercised only without psutil
    psutil = None  # type: ignore[assignment]


def _maxrss_bytes(who: int) -> int:
    value = resource.getrusage(who).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024  # Linux reports KiB, macOS bytes


def tree_rss(pid: int) -> int:
    """Current RSS (bytes) of process `pid` and all its descendants; 0 if it is gone."""
    if psutil is None:
        return 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


@dataclass
class PeakSampler:
    """Context manager sampling the RSS of the tree rooted at `pid` (default: this process)."""

    pid: int | None = None
    interval: float = 0.2
    peak_bytes: int = 0
    samples: int = 0
    method: str = field(default="psutil" if psutil is not None else "getrusage")
    # (wall-clock time, tree RSS) of every sample, so a peak can be attributed to a stage afterwards.
    timeline: list[tuple[float, int]] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> PeakSampler:
        import os

        if self.pid is None:
            self.pid = os.getpid()
        if psutil is not None:
            self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.pid is not None
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        assert self.pid is not None
        now = tree_rss(self.pid)
        self.timeline.append((time.time(), now))
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, now)
        return now

    def peak_between(self, start: float, end: float) -> int | None:
        """The largest sample taken between two wall-clock times. A stage shorter than the sampling
        interval (on a loaded machine the sampler thread may not run inside it at all) gets the sample
        nearest its window instead, if one lies within one interval of it; None when none does."""
        inside = [rss for t, rss in self.timeline if start <= t <= end]
        if inside:
            return max(inside)
        near = [(min(abs(t - start), abs(t - end)), rss) for t, rss in self.timeline]
        near = [(d, rss) for d, rss in near if d <= max(self.interval, 1.0)]
        return min(near)[1] if near else None

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if psutil is None:
            self.peak_bytes = max(
                _maxrss_bytes(resource.RUSAGE_SELF), _maxrss_bytes(resource.RUSAGE_CHILDREN)
            )
        return self.peak_bytes

    def __enter__(self) -> PeakSampler:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def mb(n_bytes: float) -> float:
    return round(n_bytes / 1024 / 1024, 1)
