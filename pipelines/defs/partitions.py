"""The quarter partitions shared by ingestion, findings, the warehouse and the report: keys like `2025Q3`.

They are computed, not listed: every quarter of every year that has a rules file (pipelines.paths
.rules_dir(), data/reference/rules/<year>.toml unless $ASSESSMENT_RULES_DIR points elsewhere). Adding
next year's rules file is how a new year is opened; its four quarters become partitions the next time the
definitions load, with no code change. A quarter of a year without rules has no deadline, weights or
grade quotas to be scored by, so it is not a partition at all (the CLI says so in one line).

The folder is read once, when this module is imported (by the definitions loader): a directory listing,
nothing written. A static definition, not a dynamic one, so a fresh Dagster instance (a test, a new
clone) knows every quarter without a sync step.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.domain.quarters import Quarter, parse_quarter
from pipelines.paths import rules_dir


def rules_years(folder: Path | None = None) -> list[int]:
    """Years with a rules file (`<four digits>.toml`), ascending."""
    root = folder if folder is not None else rules_dir()
    if not root.is_dir():
        return []
    return sorted(int(p.stem) for p in root.glob("*.toml") if len(p.stem) == 4 and p.stem.isdigit())


def quarter_keys(folder: Path | None = None) -> list[str]:
    """Every quarter of every rules year, in order: ['2025Q1', …, '2026Q4']."""
    return [Quarter(year, q).key for year in rules_years(folder) for q in (1, 2, 3, 4)]


QUARTER_KEYS: list[str] = quarter_keys()

quarter_partitions = dg.StaticPartitionsDefinition(QUARTER_KEYS)


def partition_quarter(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Quarter:
    """The quarter of a partitioned run (raises if the run is not partitioned by quarter)."""
    return parse_quarter(context.partition_key)
