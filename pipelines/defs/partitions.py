"""The quarter partitions shared by ingestion and the warehouse: keys like `2025Q3`."""

from __future__ import annotations

import dagster as dg

from pipelines.domain.quarters import Quarter, parse_quarter, quarter_range

QUARTER_KEYS: list[str] = [q.key for q in quarter_range("2025Q1..2027Q4")]

quarter_partitions = dg.StaticPartitionsDefinition(QUARTER_KEYS)


def partition_quarter(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Quarter:
    """The quarter of a partitioned run (raises if the run is not partitioned by quarter)."""
    return parse_quarter(context.partition_key)
