"""The generator's canonical, clean picture of one unit's quarterly submission.

The model layer fills a `UnitWorkbook` with correctly typed values; the writer renders it into the
template (xlsx or CSV), where cosmetic noise and deliberate breakage are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.domain.quarters import Quarter

# Canonical cell values by Kind: TEXT/CODE/ENUM -> str, DATE -> datetime.date, INT -> int,
# NUMBER -> float or int, BOOL -> bool, QUARTER -> "2026Q3", SHARE -> float in [0, 1],
# CODE_LIST -> list[str]; a blank cell -> None.
Row = dict[str, Any]


@dataclass
class UnitWorkbook:
    unit_code: str
    unit_name: str
    quarter: Quarter
    sheets: dict[str, list[Row]] = field(default_factory=dict)  # keyed by Sheet.name


@dataclass(frozen=True)
class Delivery:
    """One file (or CSV folder) a unit drops into its landing folder."""

    file_name: str  # e.g. "2026Q3_平时考核.xlsx"; for CSV, the folder-relative stem is the sheet title
    arrival: datetime  # becomes the file's mtime
    fmt: str  # "xlsx" or "csv"
    encoding: str = "utf-8"  # CSV only: "utf-8", "utf-8-sig" or "gb18030"
    breakage: str | None = None  # a key of breakage.BREAKAGES, or None for a valid file
