"""How fast the machine is at the moment of a measurement: one fixed pure-Python workload, timed.

On the 2-core development machine the same code took 10-20 % longer from one hour to the next, and more
from one day to the next, with nothing else running (docs/benchmark.md, twelfth and thirteenth sessions);
the load average does not show it. So every benchmark times this workload just before and just after
its runs. Seconds from two benchmark runs compare only when their workload times agree; otherwise
compare the ratios within one run (the baseline and the floor are timed in the same run), or alternate
the two versions of the code.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

LOOP_ADDITIONS = 2_000_000  # 0.06-0.10 s on the development machine, depending on the moment
REPEATS = 5
AGREE_WITHIN = 0.05  # two runs' workload times this close: the machine ran at about the same speed
PROBE_ADDITIONS = 100_000  # one probe during a run: ~4 ms of one core
PROBE_EVERY_S = 1.0


def _cpu_seconds(additions: int) -> float:
    """The CPU time this thread spends adding `additions` integers in a plain loop. CPU time, not wall
    time: waiting for a core is the machine being busy, which the load average reports; what this
    measures is how fast the core runs the interpreter once it has it."""
    started = time.thread_time()
    total = 0
    for i in range(additions):
        total += i
    return time.thread_time() - started


def python_loop_seconds(additions: int = LOOP_ADDITIONS, repeats: int = REPEATS) -> float:
    """The fastest of `repeats` timings of the loop: one core, the interpreter alone (no I/O, no
    allocation to speak of). The fastest, not the mean: a timing can only be slowed down by whatever
    else shares the hardware, so the minimum is the machine's own speed at that moment."""
    return round(min(_cpu_seconds(additions) for _ in range(max(1, repeats))), 4)


class SpeedProbe:
    """The same loop, small, every PROBE_EVERY_S while a measured run goes on, in a thread of the
    benchmark's own process (which only waits for the pipeline's child process): ~0.4 % of one core.
    Before and after are one moment each; the machine's pace changed within seconds on the development
    machine (2,000,000 additions took 0.099 s and 0.060 s a second apart, the fastest of five each,
    nothing else running), so a run's seconds are read against the pace during it. The probe also feels
    the pipeline's own use of the cores (a sibling hardware thread, the caches): compare the figure
    between runs of the same pipeline, not with the quiet machine's."""

    def __init__(self, every: float = PROBE_EVERY_S, additions: int = PROBE_ADDITIONS) -> None:
        self.every = every
        self.additions = additions
        self.samples: list[float] = []  # seconds, scaled to LOOP_ADDITIONS
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="speed-probe", daemon=True)

    def start(self) -> SpeedProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.every):
            self.samples.append(_cpu_seconds(self.additions) * LOOP_ADDITIONS / self.additions)

    def summary(self) -> dict[str, float | int]:
        """Median, fastest and slowest of the probes (seconds per LOOP_ADDITIONS); empty without any."""
        if not self.samples:
            return {}
        ordered = sorted(self.samples)
        return {
            "median": round(statistics.median(ordered), 4),
            "fastest": round(ordered[0], 4),
            "slowest": round(ordered[-1], 4),
            "probes": len(ordered),
        }


def speed_note(result: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """One line on the machine's speed during `result`, and against `previous` when it recorded one."""
    machine = result.get("machine") or {}
    before, after = machine.get("speed_before"), machine.get("speed_after")
    if not before:
        return "machine speed: not measured"
    line = f"machine speed: {LOOP_ADDITIONS:,} additions in a Python loop took {before:.3f} s before the runs"
    if after:
        line += f" and {after:.3f} s after"
    earlier = ((previous or {}).get("machine") or {}).get("speed_before")
    if earlier:
        change = before / earlier - 1
        if abs(change) <= AGREE_WITHIN:
            line += f"; the previous run's {earlier:.3f} s agrees: its seconds compare with these"
        else:
            pace = "slower" if change > 0 else "faster"
            line += (
                f"; the previous run's took {earlier:.3f} s, so the machine is {abs(change):.0%} {pace} now:"
                " compare ratios, not seconds"
            )
    return line
