"""How fast the machine is at the moment of a measurement: one fixed pure-Python workload, timed.

On the 2-core development machine the same code took 10-20 % longer from one hour to the next, and more
from one day to the next, with nothing else running (docs/benchmark.md, twelfth and thirteenth sessions);
the load average does not show it. So every benchmark times this workload just before and just after
its runs. Seconds from two benchmark runs compare only when their workload times agree; otherwise
compare the ratios within one run (the baseline and the floor are timed in the same run), or alternate
the two versions of the code.
"""

from __future__ import annotations

import time
from typing import Any

LOOP_ADDITIONS = 2_000_000  # ~0.15 s on the development machine
REPEATS = 5
AGREE_WITHIN = 0.05  # two runs' workload times this close: the machine ran at about the same speed


def python_loop_seconds(additions: int = LOOP_ADDITIONS, repeats: int = REPEATS) -> float:
    """The fastest of `repeats` timings of adding `additions` integers in a plain loop: one core, the
    interpreter alone (no I/O, no allocation to speak of). The fastest, not the mean: a timing can only
    be slowed down by whatever else ran, so the minimum is the machine's own speed."""
    best = float("inf")
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        total = 0
        for i in range(additions):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 4)


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
