"""What a run produced: rows per stage and the size of the warehouse, read from the run's data directory.

Rows per stage (what the stage wrote, or for the last stages what they carried):

    reference   units in the registry the run used
    ingest      rows of every raw/<table>/<quarter>.parquet (ratings dominate)
    findings    rows of every quality/<name>/<quarter>.parquet (reliability, leniency, fair scores)
    dbt         rows of every table in the pipeline's private warehouse (all layers; views not counted)
    publish     rows of every table in the published analyst file
    extracts    rows of every table in the county extracts (counties/*.duckdb)
    report      rows of the published analyst file the report reads
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq


def parquet_rows(files: list[Path]) -> int:
    total = 0
    for f in files:
        try:
            total += pq.read_metadata(f).num_rows
        except (OSError, ValueError):
            continue
    return total


def duckdb_rows(path: Path) -> int:
    """Rows of every base table of a DuckDB file, opened read-only (views are not counted)."""
    if not path.exists():
        return 0
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        total = 0
        for schema, table in tables:
            row = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            total += int(row[0]) if row else 0
        return total
    finally:
        con.close()


def warehouse_paths(data: Path) -> dict[str, Path]:
    """The pipeline's private warehouse, the published analyst file and the county extracts folder."""
    from pipelines.publish.warehouse import layout

    lay = layout(data / "warehouse")
    out = {"work": lay.work, "published": lay.published}
    counties = getattr(lay, "counties", None)
    if isinstance(counties, Path):
        out["counties"] = counties
    return out


def registry_rows(data: Path) -> int:
    from pipelines.paths import REFERENCE_DIR

    generated = data / "registry" / "units.csv"
    path = generated if generated.exists() else REFERENCE_DIR / "units.csv"
    with path.open(encoding="utf-8") as fh:
        return max(0, sum(1 for _ in fh) - 1)


def size_bytes(path: Path) -> int:
    path = path.resolve()
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def stage_rows(data: Path, quarter: str) -> dict[str, int]:
    paths = warehouse_paths(data)
    published = duckdb_rows(paths["published"])
    counties = paths.get("counties")
    extract_rows = (
        sum(duckdb_rows(p) for p in sorted(counties.resolve().glob("*.duckdb")))
        if counties is not None and counties.exists()
        else 0
    )
    return {
        "reference": registry_rows(data),
        "ingest": parquet_rows(sorted((data / "raw").glob(f"*/{quarter}.parquet"))),
        "findings": parquet_rows(sorted((data / "quality").glob(f"*/{quarter}.parquet"))),
        "dbt": duckdb_rows(paths["work"]),
        "publish": published,
        "extracts": extract_rows,
        "report": published,
    }


def warehouse_sizes(data: Path) -> dict[str, int]:
    paths = warehouse_paths(data)
    return {name: size_bytes(p) for name, p in paths.items()}
