"""The decisions behind the schedule and the sensor, as pure functions (tested without Dagster).

- After the deadline: the quarterly schedule ticks daily and asks for the latest quarter whose submission
  deadline (the rules file's calendar, Asia/Shanghai) has passed; the schedule itself skips a quarter it
  already ran.
- New files: the sensor fingerprints each quarter's landing folder (relative path, size and mtime of
  every file) and asks for a re-run once a new fingerprint has stayed the same for a while, so a unit
  copying twenty files triggers one run, not twenty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pipelines.domain.quarters import TZ, Quarter, parse_quarter
from pipelines.domain.rules import load_rules
from pipelines.paths import rules_dir

QUIET_SECONDS = 120
# The rules loader allows a deadline up to this many days after the quarter's end.
MAX_DEADLINE_DAYS = 366
# Runs the sensor asks for one folder content, counting the first: a run refused by the run lock or
# broken by a passing fault is retried, a content that breaks every run is not retried for ever.
MAX_ATTEMPTS = 3


def _quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def _recent_quarters(today: date) -> Iterator[Quarter]:
    """The current quarter, then back to the first quarter that ended more than MAX_DEADLINE_DAYS ago
    (included: with the longest deadline it fell due only now). Earlier quarters were due long ago."""
    quarter = _quarter_of(today)
    while True:
        yield quarter
        if (today - quarter.last_day).days > MAX_DEADLINE_DAYS:
            return
        quarter = quarter.previous()


def _deadline(quarter: Quarter) -> datetime:
    return load_rules(quarter.year).calendar.deadline(quarter)


def quarter_due(now: datetime, partition_keys: list[str]) -> Quarter | None:
    """The quarter the schedule should run at `now`: of the quarters (partitions, so their years have a
    rules file) whose deadline, by their own year's rules, has passed, the one whose deadline passed
    last. Not simply the previous quarter: a deadline may fall up to MAX_DEADLINE_DAYS after the
    quarter's end, after later quarters have ended. By deadline, not by quarter: when a year's rules
    shorten the deadline, its first quarter may fall due before the last quarter of the year before."""
    passed = [
        (deadline, quarter)
        for quarter in _recent_quarters(now.astimezone(TZ).date())
        if quarter.key in partition_keys and now >= (deadline := _deadline(quarter))
    ]
    return max(passed)[1] if passed else None


def missing_rules(now: datetime, partition_keys: list[str]) -> str | None:
    """One line when the quarter before `now`'s is not scheduled because its year has no rules file."""
    previous = _quarter_of(now.astimezone(TZ).date()).previous()
    if previous.key in partition_keys:
        return None
    return (
        f"no rules file for {previous.year} ({rules_dir() / f'{previous.year}.toml'}), "
        f"so {previous.key} is not scheduled"
    )


def not_due_reason(now: datetime, partition_keys: list[str]) -> str:
    """Why quarter_due(now) is None, one line: a year without rules, or the next deadline to come."""
    missing = missing_rules(now, partition_keys)
    if missing is not None:
        return missing
    deadlines = [
        (_deadline(q), q.key) for q in _recent_quarters(now.astimezone(TZ).date()) if q.key in partition_keys
    ]
    pending = sorted((deadline, key) for deadline, key in deadlines if now < deadline)
    if not pending:
        return "no quarter's submission deadline has passed yet"
    deadline, key = pending[0]
    return f"{key}'s submission deadline ({deadline:%Y-%m-%d %H:%M %Z}) has not passed yet"


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
class SensorCursor:
    handled: dict[str, str] = field(default_factory=dict)  # quarter → fingerprint already requested
    # quarter → (fingerprint not handled yet, epoch when the sensor first saw it): the quiet period is
    # timed by the sensor's own clock, never by the senders' file times (future-dated, or kept by rsync).
    seen: dict[str, tuple[str, float]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"handled": self.handled, "seen": {q: list(v) for q, v in self.seen.items()}})


def _is_seen(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | float)
        and not isinstance(value[1], bool)
    )


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _cursor_from(body: object) -> SensorCursor | None:
    if not isinstance(body, dict):
        return None
    if body and set(body) <= {"handled", "seen"}:
        handled, seen = body.get("handled", {}), body.get("seen", {})
        if _str_map(handled) and isinstance(seen, dict) and all(_is_seen(v) for v in seen.values()):
            return SensorCursor(dict(handled), {q: (v[0], float(v[1])) for q, v in seen.items()})
        return None
    return SensorCursor(dict(body)) if _str_map(body) else None  # the first format, {quarter: fp}


def parse_cursor(text: str | None) -> tuple[SensorCursor | None, str | None]:
    """The sensor's cursor, and a warning when it is not one. None (no cursor) means "record only".

    Read: {"handled": {q: fp}, "seen": {q: [fp, first_seen_epoch]}}, and the first format {q: fp} that
    installed sensors hold. Anything else (damaged JSON, a list, null) is treated as no cursor, with a
    warning, so that one bad cursor does not fail every tick."""
    if not text:
        return None, None
    try:
        cursor = _cursor_from(json.loads(text))
    except ValueError:
        cursor = None
    if cursor is not None:
        return cursor, None
    shown = text if len(text) <= 80 else text[:77] + "..."
    return None, f"ignoring an unreadable sensor cursor {shown!r}: recording the landing folders afresh"


@dataclass(frozen=True)
class Request:
    state: LandingState
    attempt: int  # 1 for new content, 2.. for a retry after every earlier run of it failed

    @property
    def quarter(self) -> str:
        return self.state.quarter

    @property
    def run_key(self) -> str:
        base = f"{self.state.quarter}:{self.state.fingerprint}"  # attempt 1 keeps the first key format
        return base if self.attempt == 1 else f"{base}:{self.attempt}"


@dataclass(frozen=True)
class SensorDecision:
    run: list[Request]  # runs to request
    waiting: list[str]  # changed, but not quiet long enough yet or a run of that quarter is active
    cursor: SensorCursor


def decide(
    states: list[LandingState],
    cursor: SensorCursor | None,
    now: float,
    busy_quarters: set[str],
    failed_runs: Mapping[str, int] | None = None,
    quiet_seconds: int = QUIET_SECONDS,
) -> SensorDecision:
    """Which quarters to re-run. The first evaluation (no cursor) only records what is there: turning
    the sensor on must not re-run every past quarter. A folder with no files is no content: not a
    change, and not recorded as handled.

    `failed_runs`: for a quarter whose content is the handled one, how many runs of that content there
    are when every one of them failed (0 or absent when any succeeded, is active or was cancelled, or
    there is none); below MAX_ATTEMPTS the content is requested again."""
    present = [s for s in states if s.n_files > 0]
    if cursor is None:
        return SensorDecision([], [], SensorCursor({s.quarter: s.fingerprint for s in present}))
    failed = failed_runs or {}
    handled = dict(cursor.handled)
    seen: dict[str, tuple[str, float]] = {}
    run: list[Request] = []
    waiting: list[str] = []
    for state in present:
        if handled.get(state.quarter) == state.fingerprint:
            tries = failed.get(state.quarter, 0)
            if 0 < tries < MAX_ATTEMPTS and state.quarter not in busy_quarters:
                run.append(Request(state, tries + 1))
            continue
        fingerprint, first_seen = cursor.seen.get(state.quarter, ("", now))
        if fingerprint != state.fingerprint or first_seen > now:
            first_seen = now  # changed since the last tick (or the clock went back): start the wait again
        if now - first_seen < quiet_seconds or state.quarter in busy_quarters:
            seen[state.quarter] = (state.fingerprint, first_seen)
            waiting.append(state.quarter)
            continue
        run.append(Request(state, 1))
        handled[state.quarter] = state.fingerprint
    return SensorDecision(run, waiting, SensorCursor(handled, seen))
