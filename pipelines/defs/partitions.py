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

import dagster as dg

from pipelines.domain.quarters import Quarter, parse_quarter
from pipelines.paths import quarter_keys, rules_years

__all__ = ["QUARTER_KEYS", "partition_quarter", "quarter_keys", "quarter_partitions", "rules_years"]


QUARTER_KEYS: list[str] = quarter_keys()

quarter_partitions = dg.StaticPartitionsDefinition(QUARTER_KEYS)


def partition_quarter(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Quarter:
    """The quarter of a partitioned run (raises if the run is not partitioned by quarter)."""
    return parse_quarter(context.partition_key)
