"""The incremental scenario: one unit's corrected resubmission into a quarter that is already built.

A unit sends a corrected workbook, as the generator's broken-then-corrected units do
(`…（修改版）.xlsx`, pipelines/synthetic/deliver.py): here a copy of the unit's current workbook with one
rating score changed (评议打分 · 成效, first data row, ±1 point, with openpyxl), arriving one hour after the
unit's newest delivery (its mtime), so ingestion takes it as the unit's new current submission. The
benchmark then times run_quarters([quarter]) to a published warehouse and checks that the published
warehouse changed: a new release, and different rows of marts.fct_person_quarter for the unit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

SCORE_HEADER = "成效"
ARRIVES_AFTER_NS = 3600 * 10**9


@dataclass(frozen=True)
class Resubmission:
    unit_code: str
    original: Path
    corrected: Path
    cell: str
    old_value: float
    new_value: float


def pick_unit(data: Path, quarter: str) -> tuple[str, Path]:
    """A unit whose current submission is a clean workbook (no errors, no warnings): its code and file."""
    ledger = pl.read_parquet(data / "raw" / "submissions" / f"{quarter}.parquet")
    current = ledger.filter(pl.col("is_current") & (pl.col("format") == "xlsx")).sort("unit_code")
    if current.is_empty():
        raise RuntimeError(f"{quarter}: no unit has a current workbook to resubmit")
    clean = current.filter((pl.col("n_errors") == 0) & (pl.col("n_warnings") == 0))
    row = (clean if clean.height else current).row(0, named=True)
    path = data / "landing" / quarter / row["unit_code"] / row["file_name"]
    if not path.exists():
        raise RuntimeError(f"{path}, current submission of {row['unit_code']}, is not in the landing area")
    return row["unit_code"], path


def corrected_name(folder: Path, original: Path) -> Path:
    stem = original.stem.replace("（修改版）", "")
    for n in range(1, 100):
        suffix = "（修改版）" if n == 1 else f"（修改版{n}）"
        target = folder / f"{stem}{suffix}{original.suffix}"
        if not target.exists():
            return target
    raise RuntimeError(f"too many corrected files in {folder}")


def resubmit(data: Path, quarter: str) -> Resubmission:
    import openpyxl

    from pipelines.domain.template import RATINGS

    unit, original = pick_unit(data, quarter)
    book = openpyxl.load_workbook(original)
    sheet = book[RATINGS.title]
    header_row, column = None, None
    for row in sheet.iter_rows(min_row=1, max_row=20):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.strip() == SCORE_HEADER:
                header_row, column = cell.row, cell.column
                break
        if column is not None:
            break
    if header_row is None or column is None:
        raise RuntimeError(f"{original}: no {SCORE_HEADER} column in sheet {RATINGS.title}")
    for r in range(header_row + 1, sheet.max_row + 1):
        cell = sheet.cell(row=r, column=column)
        try:
            old = float(str(cell.value).strip())
        except ValueError:
            continue
        new = old - 1 if old >= 1 else old + 1
        cell.value = int(new) if new == int(new) else new
        break
    else:
        raise RuntimeError(f"{original}: no numeric {SCORE_HEADER} score to correct")
    target = corrected_name(original.parent, original)
    book.save(target)
    newest = max(p.stat().st_mtime_ns for p in original.parent.iterdir() if p != target)
    arrival = newest + ARRIVES_AFTER_NS
    os.utime(target, ns=(arrival, arrival))
    return Resubmission(unit, original, target, cell.coordinate, old, new)


def unit_fingerprint(published: Path, unit_code: str, quarter: str) -> str | None:
    """A hash of the unit's rows in marts.fct_person_quarter of a published file (read-only)."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        row = con.execute(
            "select md5(string_agg(t::varchar, '|' order by t::varchar)) from marts.fct_person_quarter t "
            "where unit_code = ? and quarter = ?",
            [unit_code, quarter],
        ).fetchone()
        return None if row is None else row[0]
    finally:
        con.close()


def current_submission(data: Path, quarter: str, unit_code: str) -> str | None:
    ledger = pl.read_parquet(data / "raw" / "submissions" / f"{quarter}.parquet")
    hit = ledger.filter(pl.col("is_current") & (pl.col("unit_code") == unit_code))
    return hit.get_column("file_name")[0] if hit.height else None
