"""The receiving log: arrival times written by the receiving side, for files that landed before
ingestion first saw them (back-filled data, the demo city).

A file's arrival is when the receiving side first saw it. Normally that is the moment ingestion first
archives it (first sight, recorded in the archive manifest with a sequence number). When files are put
into the landing area in bulk after the fact, the system that received them can say when each one came
in, in ``landing/<quarter>/_receiving_log.csv``:

    unit_code,path,sha256,received_at
    371602-X-017,平时考核.xlsx,<sha256 of the file's bytes>,2025-10-09T10:15:00+08:00

- The log sits at the quarter level, outside every unit folder: a unit writes only its own folder, so
  it cannot write or replace the log. A file named like the log inside a unit folder is just a file.
- An entry counts only for a file that is in the landing area at that path with exactly those bytes
  (the SHA-256): an entry for a file that is not there, or that has changed since, is ignored, so the
  log cannot lend an early time to other bytes.
- Lines that cannot be read (bad hash, bad time, a field too long for a CSV) are ignored with a note;
  a time without a zone is read as Beijing time, the zone deadlines are compared in. The log may be
  UTF-8 (with or without BOM) or GB18030/GBK; one in neither encoding is ignored whole, with a note.
- A time the receiving side cannot have recorded is ignored with a note: one before the quarter began,
  or one later than now (the log is read when ingestion first sees the file, so the file had arrived).
  An arrival is kept for good once a file is archived, so a typo here must not become one.
- An entry that matches no file in the landing area is listed in the notes too.
- The log is read only when a file is archived for the first time: after that the archive manifest
  holds the arrival, and nothing can move it.

File modification times are never used: they are set by the sender.
"""

from __future__ import annotations

import csv
import io
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.domain.quarters import TZ, parse_quarter

LOG_NAME = "_receiving_log.csv"
REVIEWS_DIR = "_reviews"  # the quarter's review register (not a unit folder, never a submission)
RESERVED_NAMES = frozenset({LOG_NAME, REVIEWS_DIR})
COLUMNS = ("unit_code", "path", "sha256", "received_at")
MAX_LOG_BYTES = 64 * 1024 * 1024  # a log this large is not a receiving log
CLOCK_SKEW = timedelta(minutes=10)  # the receiving system's clock may run a little ahead of ours
MAX_UNMATCHED_NOTES = 20
_SHA = re.compile(r"^[0-9a-f]{64}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    unit_code: str
    path: str  # relative to the unit folder, with "/" between folders
    sha256: str  # of the file's bytes
    received_at: datetime  # timezone-aware


@dataclass
class ReceivingLog:
    """(unit_code, path, sha256) -> (received at in ns since the epoch, line order)."""

    times: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    used: set[tuple[str, str, str]] = field(default_factory=set)

    def lookup(self, unit_code: str, path: str, sha256: str) -> tuple[int, int] | None:
        key = (unit_code, path, sha256)
        found = self.times.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def unmatched_notes(self, where: Path) -> list[str]:
        """A note for each entry no landed file matched (unit, path and bytes), after discovery."""
        left = sorted(set(self.times) - self.used)
        notes = [
            f"{where} {unit}/{path}: 接收登记的条目没有对应的文件（单位、路径或内容不符），已忽略 "
            "(no landed file matches this entry)"
            for unit, path, _ in left[:MAX_UNMATCHED_NOTES]
        ]
        if len(left) > MAX_UNMATCHED_NOTES:
            notes.append(f"{where}: 另有 {len(left) - MAX_UNMATCHED_NOTES} 个条目没有对应的文件")
        return notes


def epoch_ns(moment: datetime) -> int:
    """Exact nanoseconds since the epoch (float seconds would round the microseconds)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment


def read_log(landing_quarter: Path) -> ReceivingLog:
    """The quarter's receiving log; an absent log is empty, a damaged line is skipped with a note."""
    log = ReceivingLog()
    path = landing_quarter / LOG_NAME
    try:
        st = path.lstat()
    except FileNotFoundError:
        return log
    # Only a regular file: a symlink could point at something a unit controls.
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_LOG_BYTES:
        log.notes.append(f"{path}: 接收登记不是普通文件或过大，已忽略 (receiving log ignored)")
        return log
    text = _decoded(path.read_bytes())
    if text is None:
        log.notes.append(f"{path}: 接收登记既不是UTF-8也不是GB18030编码，已忽略 (log not decodable)")
        return log
    earliest, latest = _plausible_span(landing_quarter.name)
    reader = csv.DictReader(io.StringIO(text))
    order = 0
    while True:
        order += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field past the csv module's limit: this line only
            log.notes.append(_unreadable(path, reader.line_num, exc))
            continue
        try:
            unit, rel, sha = (row.get(c) or "" for c in COLUMNS[:3])
            sha = sha.strip().lower()
            if not unit.strip() or not rel.strip() or not _SHA.match(sha):
                raise ValueError("missing unit, path or hash")
            moment = _parse_time(row.get("received_at") or "")
            if not earliest <= moment <= latest:
                raise ValueError(f"{moment.isoformat()} is before the quarter or later than now")
            ns = epoch_ns(moment)
        except (ValueError, TypeError, OverflowError) as exc:
            log.notes.append(_unreadable(path, reader.line_num, exc))
            continue
        key = (unit.strip(), rel.strip(), sha)
        # The first record of a file is its arrival; a repeated line cannot move it later or earlier.
        log.times.setdefault(key, (ns, order))
    return log


def _unreadable(path: Path, line: int, exc: Exception) -> str:
    return f"{path} line {line}: 无法读取，已忽略 (unreadable line ignored: {str(exc)[:200]})"


def _decoded(data: bytes) -> str | None:
    """The log's text: UTF-8 (a BOM allowed), else GB18030 (which GBK is part of); None when neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _plausible_span(folder: str) -> tuple[datetime, datetime]:
    """When a file of this quarter folder can have been received: from the quarter's first day (Beijing)
    to now. A folder that is not a quarter key has no lower bound."""
    latest = datetime.now(UTC) + CLOCK_SKEW
    try:
        first_day = parse_quarter(folder).first_day
    except ValueError:
        return datetime.min.replace(tzinfo=UTC), latest
    return datetime(first_day.year, first_day.month, first_day.day, tzinfo=TZ), latest


def render(entries: list[Entry]) -> str:
    """The CSV text of a log, in arrival order (the order the receiving side saw the files)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in sorted(entries, key=lambda e: (e.received_at, e.unit_code, e.path)):
        writer.writerow([e.unit_code, e.path, e.sha256, e.received_at.isoformat()])
    return out.getvalue()


def write_log(landing_quarter: Path, entries: list[Entry]) -> Path:
    """Write (replace) the quarter's receiving log; used for back-filled and generated data."""
    path = landing_quarter / LOG_NAME
    tmp = path.with_name(f".{LOG_NAME}.partial")
    tmp.write_text(render(entries), encoding="utf-8")
    tmp.replace(path)
    return path


def append_log(landing_quarter: Path, entries: list[Entry]) -> Path:
    """Add entries to the quarter's log, as a receiving system records files one by one."""
    path = landing_quarter / LOG_NAME
    new = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if new:
            writer.writerow(COLUMNS)
        for e in entries:
            writer.writerow([e.unit_code, e.path, e.sha256, e.received_at.isoformat()])
    return path
