"""The decisions behind the schedule and the sensor, as pure functions (tested without Dagster).

- After the deadline: the quarterly schedule ticks daily and asks for the previous quarter once its
  submission deadline (the rules file's calendar, Asia/Shanghai) has passed.
- New files: the sensor fingerprints each quarter's landing folder (relative path, size and mtime of
  every file) and asks for a re-run when the fingerprint changed and the folder has been quiet for a
  while, so a unit copying twenty files triggers one run, not twenty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipelines.domain.quarters import Quarter, parse_quarter
from pipelines.domain.rules import load_rules

QUIET_SECONDS = 120


def quarter_due(now: datetime, partition_keys: list[str]) -> Quarter | None:
    """The quarter the schedule should run at `now`: the previous quarter once its deadline has passed."""
    current = Quarter(now.year, (now.month - 1) // 3 + 1)
    previous = current.previous()
    if previous.key not in partition_keys:
        return None
    deadline = load_rules(previous.year).calendar.deadline(previous)
    return previous if now >= deadline else None


@dataclass(frozen=True)
class LandingState:
    quarter: str
    fingerprint: str
    newest_mtime: float
    n_files: int


def landing_state(folder: Path) -> LandingState:
    """Fingerprint of everything in a quarter's landing folder (names, sizes, modification times)."""
    digest = hashlib.sha256()
    newest = 0.0
    n = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        newest = max(newest, stat.st_mtime)
        n += 1
    return LandingState(folder.name, digest.hexdigest()[:16], newest, n)


def landing_states(landing: Path, partition_keys: list[str]) -> list[LandingState]:
    if not landing.exists():
        return []
    states = []
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        try:
            key = parse_quarter(folder.name).key
        except ValueError:
            continue
        if key in partition_keys and folder.name == key:  # ingestion reads landing/<key>/ only
            states.append(landing_state(folder))
    return states


@dataclass(frozen=True)
class SensorDecision:
    run: list[LandingState]  # quarters to request a run for
    waiting: list[str]  # changed, but still being written or a run of that quarter is active
    cursor: dict[str, str]  # quarter → fingerprint already handled


def decide(
    states: list[LandingState],
    cursor: dict[str, str] | None,
    now: float,
    busy_quarters: set[str],
    quiet_seconds: int = QUIET_SECONDS,
) -> SensorDecision:
    """Which quarters to re-run. The first evaluation (no cursor) only records what is there: turning
    the sensor on must not re-run every past quarter."""
    if cursor is None:
        return SensorDecision([], [], {s.quarter: s.fingerprint for s in states})
    handled = dict(cursor)
    run, waiting = [], []
    for state in states:
        if handled.get(state.quarter) == state.fingerprint:
            continue
        # Modification times are the sender's: one dated in the future says nothing about copying still
        # going on, and must not hold a quarter back for ever.
        still_writing = 0 <= now - state.newest_mtime < quiet_seconds
        if state.quarter in busy_quarters or still_writing:
            waiting.append(state.quarter)
            continue
        run.append(state)
        handled[state.quarter] = state.fingerprint
    return SensorDecision(run, waiting, handled)
