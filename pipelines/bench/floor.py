"""The floor: the least work any pipeline on these files must do, timed on the same files.

1. Reading every cell of every delivered file with the fastest reader there is: calamine through
   fastexcel for workbooks (every sheet, to Arrow), polars for CSV (decoded as UTF-8 or GB18030). No
   validation, no typing, no output. It runs on as many processes as the machine has cores (the
   pipeline's ingestion has the same cores), so it is the wall time a perfect ingestion could reach.
2. The heaviest mart's SQL alone in DuckDB: the compiled SQL of the analyst-facing model (schema marts or
   quality, fct_/dim_) that took dbt longest in this very run (dbt's run_results.json) and holds rows,
   executed once as `create temp table … as <sql>` against the run's warehouse, whose upstream tables are
   already built. (On a few units every mart takes milliseconds and the slowest can be an empty one,
   e.g. the annual results of a year without a Q4: computing nothing is no floor.)
   Taking the mart dbt itself found heaviest, rather than a fixed one, keeps the floor honest when the
   models change; when no run_results are found, marts.fct_person_quarter is taken (the widest mart,
   joining every scoring step) from dbt_project/target/compiled.

floor = read seconds + mart SQL seconds; end-to-end / floor says how much the pipeline spends beyond
reading the files once and computing its largest table once (validation, receipts, tests, the other
models, orchestration, publishing).
"""

from __future__ import annotations

import codecs
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

FALLBACK_MART = "fct_person_quarter"
_CATALOG = re.compile(r'"([^"]+)"\."(?:staging|intermediate|marts|quality|raw|main)"\.')


@dataclass(frozen=True)
class ReadFigures:
    seconds: float
    files: int
    unreadable: int
    cells: int
    bytes: int
    workers: int


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030: the encodings units send."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_cells(path: Path) -> int:
    """Every cell of one file, read and materialised; returns the number of cells (−1: unreadable)."""
    try:
        if path.suffix.lower() == ".csv":
            import polars as pl

            frame = pl.read_csv(
                decode_csv(path.read_bytes()).encode("utf-8"), has_header=False, infer_schema=False
            )
            return frame.height * frame.width
        import fastexcel

        reader = fastexcel.read_excel(str(path))
        cells = 0
        for name in reader.sheet_names:
            table = reader.load_sheet(name, header_row=None).to_arrow()
            cells += table.num_rows * table.num_columns
        return cells
    except Exception:  # a broken delivery (truncated, not a workbook): the floor just skips it
        return -1


def _read_chunk(paths: list[str]) -> list[int]:
    return [read_cells(Path(p)) for p in paths]


def read_all(files: list[Path], workers: int | None = None) -> ReadFigures:
    """Read every cell of `files` on `workers` processes (default: one per core)."""
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    started = time.perf_counter()
    if workers == 1 or len(files) < 2 * workers:
        counts = _read_chunk([str(p) for p in files])
    else:
        chunk = max(1, len(files) // (workers * 8))
        chunks = [[str(p) for p in files[i : i + chunk]] for i in range(0, len(files), chunk)]
        # spawn, not fork: a forked child of a process whose polars thread pool holds a lock hangs forever
        # (seen on the 4-city floor run).
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            counts = [c for part in pool.map(_read_chunk, chunks) for c in part]
    seconds = time.perf_counter() - started
    return ReadFigures(
        seconds=round(seconds, 3),
        files=len(files),
        unreadable=sum(c < 0 for c in counts),
        cells=sum(c for c in counts if c > 0),
        bytes=sum(p.stat().st_size for p in files),
        workers=workers,
    )


@dataclass(frozen=True)
class SqlFigures:
    mart: str
    seconds: float
    rows: int
    dbt_seconds: float | None  # what the same model took inside dbt (run_results), for comparison
    chosen_by: str


# The key of the dbt figures (pipeline.dbt_results) listing a run's marts with their compiled SQL,
# slowest first.
MARTS_BY_TIME = "marts_by_time"


def catalog_of(sql: str) -> str | None:
    """The database name dbt wrote into fully qualified names ("build-<id>"), if any."""
    m = _CATALOG.search(sql)
    return m.group(1) if m else None


def fallback_mart_sql() -> str | None:
    from pipelines.defs.dbt.project import DBT_PROJECT_DIR

    hits = sorted((DBT_PROJECT_DIR / "target" / "compiled").glob(f"*/models/marts/**/{FALLBACK_MART}.sql"))
    return hits[0].read_text(encoding="utf-8") if hits else None


def time_mart_sql(database: Path, sql: str, data_dir: Path | None = None) -> tuple[float, int]:
    """Run `sql` once against `database` (attached read-only under the catalog name the SQL uses).

    The warehouse's views over the data folder (staging, the rules) hold paths relative to it, which
    DuckDB looks up in `file_search_path`, set here to `data_dir` as dbt sets it (dbt_project/profiles.yml).
    """
    catalog = catalog_of(sql) or database.stem
    con = duckdb.connect(config={"file_search_path": str(data_dir)} if data_dir else {})
    try:
        escaped = str(database).replace("'", "''")
        con.execute(f"attach '{escaped}' as \"{catalog}\" (read_only)")
        con.execute(f'use "{catalog}"')
        started = time.perf_counter()
        con.execute(f"create temp table bench_floor_mart as {sql}")
        seconds = time.perf_counter() - started
        row = con.execute("select count(*) from bench_floor_mart").fetchone()
        return round(seconds, 3), int(row[0]) if row else 0
    finally:
        con.close()


def heaviest_mart_sql(
    database: Path, dbt: dict[str, object], data_dir: Path | None = None
) -> SqlFigures | None:
    """Time the heaviest mart of this run's dbt results that holds rows (else the fallback mart)
    against `database` of the data folder `data_dir`. When every mart is empty, the slowest one's figures."""
    listed = dbt.get(MARTS_BY_TIME) if isinstance(dbt, dict) else None
    marts = [m for m in listed or [] if m.get("compiled_code")]
    first: SqlFigures | None = None
    for mart in marts:
        seconds, rows = time_mart_sql(database, str(mart["compiled_code"]).strip().rstrip(";"), data_dir)
        figures = SqlFigures(
            str(mart["relation"]).split(".", 1)[1].replace('"', ""),
            seconds,
            rows,
            float(mart["seconds"]),
            "longest execution_time among the marts with rows in this run's dbt run_results.json",
        )
        if rows > 0:
            return figures
        first = first or figures
    if first is not None:
        return first
    fallback = fallback_mart_sql()
    if fallback is None:
        return None
    seconds, rows = time_mart_sql(database, fallback.strip().rstrip(";"), data_dir)
    chosen_by = "fallback: no run_results for this run; the widest mart from dbt_project/target/compiled"
    return SqlFigures(f"marts.{FALLBACK_MART}", seconds, rows, None, chosen_by)
