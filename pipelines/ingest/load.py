"""Write a quarter's raw tables as Parquet: raw/<table>/<quarter>.parquet and the restricted persons.

Each file is replaced atomically (written beside, then renamed), so dbt never reads half a table and
a re-run of a quarter replaces exactly that quarter's rows. Tables are conformed to the contract in
schema.py before writing; a missing column is a bug and stops the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pipelines.ingest.schema import RAW_TABLES, RESTRICTED_PERSONS, conform


def write_atomic(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    frame.write_parquet(tmp, statistics=True)
    tmp.replace(path)
    return path


def raw_path(raw_root: Path, table: str, quarter: str) -> Path:
    return raw_root / table / f"{quarter}.parquet"


def persons_path(restricted_root: Path, quarter: str) -> Path:
    return restricted_root / "persons" / f"{quarter}.parquet"


def conform_persons(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select([pl.col(c).cast(t) for c, t in RESTRICTED_PERSONS.items()])


def write_quarter(
    tables: dict[str, pl.DataFrame],
    persons: pl.DataFrame,
    quarter: str,
    raw_root: Path,
    restricted_root: Path,
) -> dict[str, Path]:
    """Every raw table of the contract for one quarter, plus the restricted persons table."""
    missing = sorted(set(RAW_TABLES) - set(tables))
    if missing:
        raise ValueError(f"raw tables not built for {quarter}: {missing}")
    written = {t: write_atomic(conform(t, tables[t]), raw_path(raw_root, t, quarter)) for t in RAW_TABLES}
    written["restricted.persons"] = write_atomic(
        conform_persons(persons), persons_path(restricted_root, quarter)
    )
    return written
