"""Audits of what a quarter's ingestion wrote: the facts behind the Dagster asset checks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipelines.ingest.load import persons_path, raw_path
from pipelines.ingest.schema import RAW_TABLES

# An 18-character ID standing alone. Word boundaries keep the check from firing inside the hex
# person keys, which contain long digit runs by chance.
_ID_SHAPE = r"\b\d{17}[\dXx]\b"


def read_quarter(raw_root: Path, quarter: str) -> dict[str, pl.DataFrame]:
    """The analytical raw tables of one quarter, as dbt will read them."""
    return {t: pl.read_parquet(raw_path(raw_root, t, quarter)) for t in RAW_TABLES}


def restricted_ids(restricted_root: Path, quarter: str) -> list[str]:
    path = persons_path(restricted_root, quarter)
    if not path.exists():
        return []
    return (
        pl.read_parquet(path, columns=["national_id"])
        .get_column("national_id")
        .drop_nulls()
        .unique()
        .to_list()
    )


def clear_national_ids(tables: dict[str, pl.DataFrame], known_ids: Iterable[str]) -> dict[str, int]:
    """Cells holding a national ID in clear, per table.column: known IDs anywhere in a text, or any
    standalone 18-character ID shape. Empty means the analytical tables are clean."""
    known = sorted(set(known_ids))
    hits: dict[str, int] = {}
    for table, frame in tables.items():
        for column, dtype in frame.schema.items():
            if dtype != pl.Utf8 or frame.height == 0:
                continue
            col = pl.col(column)
            # Every clear ID has 17 digits in a row: a cheap filter before the precise tests.
            candidates = frame.select(col).filter(col.str.contains(r"\d{17}"))
            if candidates.is_empty():
                continue
            found = col.str.contains(_ID_SHAPE)
            if known:
                found = found | col.str.contains_any(known)
            n = candidates.select(found.fill_null(False).sum()).item()
            if n:
                hits[f"{table}.{column}"] = int(n)
    return hits
