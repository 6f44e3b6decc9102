"""Quarter keys (`2026Q3`), their spellings, and the submission deadline calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_DEADLINE_DAYS = 15

_SPELLINGS = (
    re.compile(r"^(\d{4})\s*Q([1-4])$", re.IGNORECASE),
    re.compile(r"^(\d{4})\s*-\s*Q([1-4])$", re.IGNORECASE),
    re.compile(r"^(\d{4})\s*年\s*第\s*([1-4一二三四])\s*季度$"),
)
_CN_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4"}


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise ValueError(f"quarter number must be 1-4, got {self.q}")

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.q}"

    def __str__(self) -> str:
        return self.key

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def last_day(self) -> date:
        nxt = self.next()
        return nxt.first_day - timedelta(days=1)

    def deadline(self, days_after_end: int = DEFAULT_DEADLINE_DAYS) -> datetime:
        """The last instant a submission counts as on time (end of day, Asia/Shanghai)."""
        day = self.last_day + timedelta(days=days_after_end)
        return datetime.combine(day, time(23, 59, 59), tzinfo=TZ)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.q == 4 else Quarter(self.year, self.q + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)


def parse_quarter(text: str) -> Quarter:
    """Accept `2026Q3`, `2026-Q3` and `2026年第3季度` (the spellings the template allows)."""
    s = text.strip()
    for pattern in _SPELLINGS:
        m = pattern.match(s)
        if m:
            return Quarter(int(m.group(1)), int(_CN_DIGITS.get(m.group(2), m.group(2))))
    raise ValueError(f"not a quarter: {text!r} (expected e.g. 2026Q3, 2026-Q3 or 2026年第3季度)")


def quarter_range(spec: str) -> list[Quarter]:
    """`2025Q1..2026Q4` (inclusive), a comma list, or a single key."""
    if ".." in spec:
        lo_text, hi_text = spec.split("..", 1)
        lo, hi = parse_quarter(lo_text), parse_quarter(hi_text)
        if hi < lo:
            raise ValueError(f"empty quarter range {spec!r}")
        out = [lo]
        while out[-1] < hi:
            out.append(out[-1].next())
        return out
    return sorted({parse_quarter(part) for part in spec.split(",") if part.strip()})
