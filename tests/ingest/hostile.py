"""Hostile submissions against a small clean quarter: build it once, mutate one workbook, ingest again.

The base is a generated clean quarter (6 units, 2025Q3) ingested once; every case copies that data
directory (archive, parse cache and all), drops one more file into one unit's landing folder (a
resubmission, written as a real .xlsx by openpyxl, or CSV files, or raw bytes) and runs the real
ingestion inline (workers=0: the same parse, validation and assembly code, in this process). Only
the new file is parsed, so a case costs about a second.
"""

from __future__ import annotations

import math
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from pipelines.domain.quarters import quarter_range
from pipelines.domain.template import SHEETS_BY_NAME, Kind
from pipelines.ingest.read import sheet_parts
from pipelines.ingest.run import IngestReport, IngestSettings, ingest_quarter
from tests.conftest import make_city

QUARTER = "2025Q3"
ANALYTIC_TABLES = (
    "unit_info",
    "roster",
    "sections",
    "tasks",
    "task_assignments",
    "ratings",
    "adjustments",
    "year_end",
)
# Tokens a Chinese receipt may legitimately spell in Latin letters (format and encoding names).
ALLOWED_LATIN = frozenset(
    {"Excel", "CSV", "csv", "UTF", "GB18030", "xlsx", "xls", "MB", "HTML", "PDF", "Word", "XML"}
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Base:
    root: Path
    units: tuple[str, ...]
    books: dict[str, Path]  # unit -> its clean workbook in landing
    tables: dict[str, pl.DataFrame]  # the analytic raw tables after the clean run


@contextmanager
def data_dir(root: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSESSMENT_DATA_DIR", str(root))
        mp.delenv("ASSESSMENT_REGISTRY_CSV", raising=False)
        yield


def ingest(root: Path, workers: int = 0) -> IngestReport:
    with data_dir(root):
        return ingest_quarter(QUARTER, IngestSettings(workers=workers))


def build_base(root: Path) -> Base:
    make_city(root, seed=3, units=6, clean=True, quarters=tuple(quarter_range(QUARTER)), workers=1)
    report = ingest(root)
    assert report.rejected == 0, report.error_kinds
    landing = root / "landing" / QUARTER
    units = tuple(sorted(p.name for p in landing.iterdir() if p.is_dir()))
    books = {u: next((landing / u).glob("*.xlsx")) for u in units}
    return Base(root, units, books, read_tables(root))


def read_tables(root: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(root / "raw" / t / f"{QUARTER}.parquet") for t in ANALYTIC_TABLES}


def copy_base(base: Base, target: Path) -> Path:
    shutil.copytree(base.root, target, symlinks=True)
    return target


def landing_folder(root: Path, unit: str) -> Path:
    return root / "landing" / QUARTER / unit


# -- writing hostile workbooks ----------------------------------------------------------------------


def excel_text(value: str) -> str:
    """Text as a cell stores it: characters XML 1.0 cannot carry become OOXML's _xHHHH_ escapes
    (what Excel writes, and what calamine reads back as the character)."""
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def set_cell(book: Path, target: Path, sheet: str, row: int, column: int | str, value: Any) -> Path:
    """Copy `book` to `target` with one cell set (column: 1-based index or a header of row 1).

    openpyxl's own conventions decide the cell type: a str starting with "=" becomes a formula saved
    without a result (as any program but Excel writes it), an Excel error string (#DIV/0!) an error
    cell, a date a date cell; `Text(...)` forces a plain text cell.
    """
    wb = openpyxl.load_workbook(book)
    ws = wb[sheet]
    col = column if isinstance(column, int) else [c.value for c in ws[1]].index(column) + 1
    cell = ws.cell(row=row, column=col)
    if isinstance(value, Text):
        cell.value = excel_text(value.text)
        cell.data_type = "s"
    elif isinstance(value, str):
        cell.value = excel_text(value)
    else:
        cell.value = value
    wb.save(target)
    return target


@dataclass(frozen=True)
class Text:
    """A value written as a text cell whatever it looks like (=HYPERLINK(...) typed as text)."""

    text: str


def cell_ref(book: Path, sheet: str, row: int, header: str) -> str:
    wb = openpyxl.load_workbook(book, read_only=True)
    headers = [c.value for c in next(wb[sheet].iter_rows(min_row=1, max_row=1))]
    wb.close()
    return openpyxl.utils.get_column_letter(headers.index(header) + 1) + str(row)


def set_cell_xml(book: Path, target: Path, sheet: str, ref: str, cell_xml: str) -> Path:
    """Copy `book` with the XML of one existing cell replaced verbatim (values no spreadsheet program
    writes, such as <v>NaN</v> in a number cell)."""
    with zipfile.ZipFile(book) as zf:
        part = sheet_parts(zf)[sheet]
        entries = {info: zf.read(info) for info in zf.infolist()}
    pattern = re.compile(rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)'.encode(), re.DOTALL)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in entries.items():
            if info.filename == part:
                data, n = pattern.subn(cell_xml.encode(), data, count=1)
                assert n == 1, f"cell {ref} not found in {part}"
            out.writestr(info.filename, data)
    return target


def replace_part(book: Path, target: Path, name: str, transform: Any) -> Path:
    """Copy `book` with one package part's bytes transformed."""
    with zipfile.ZipFile(book) as zf, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zf.infolist():
            data = zf.read(info)
            out.writestr(info.filename, transform(data) if info.filename == name else data)
    return target


def first_sheet_part(book: Path, sheet: str) -> str:
    with zipfile.ZipFile(book) as zf:
        return sheet_parts(zf)[sheet]


def write_csv_set(book: Path, folder: Path, change: dict[tuple[str, int, str], str] | None = None) -> None:
    """The workbook as one UTF-8 CSV per sheet, with cells changed by (sheet, Excel row, header)."""
    import csv

    wb = openpyxl.load_workbook(book)
    for ws in wb.worksheets:
        rows = [["" if v is None else _csv_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        headers = rows[0]
        for (sheet, row, header), value in (change or {}).items():
            if sheet == ws.title:
                rows[row - 1][headers.index(header)] = value
        with (folder / f"{ws.title}.csv").open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)


def _csv_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return str(value)


# -- what a run must show ----------------------------------------------------------------------------


def ledger(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "raw" / "submissions" / f"{QUARTER}.parquet")


def items(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "raw" / "receipt_items" / f"{QUARTER}.parquet")


def new_submission(base: Base, root: Path) -> dict[str, Any]:
    """The one ledger row the case added."""
    before = set(ledger(base.root).get_column("submission_id").to_list())
    rows = ledger(root).filter(~pl.col("submission_id").is_in(list(before))).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def errors_of(root: Path, submission_id: str) -> list[dict[str, Any]]:
    found = items(root).filter((pl.col("submission_id") == submission_id) & (pl.col("severity") == "error"))
    return found.to_dicts()


def every_file_has_a_receipt(root: Path, report: IngestReport) -> None:
    """Every landed delivery is in the ledger, and every ledger row's receipt is on disk."""
    assert report.unaccounted == 0
    assert report.submissions == ledger(root).height
    for path in ledger(root).get_column("receipt_path").to_list():
        assert (root / path).is_file(), path


def plain_chinese(item: dict[str, Any]) -> bool:
    """A receipt line in Chinese: with what the file itself supplied (the quoted value, the sheet and
    header names) taken out, some CJK text and no library's English words are left."""
    text = item["message"]
    for quoted in (item["value"], item["column_header"], item["sheet"]):
        if quoted:
            text = text.replace(f"“{quoted}”", "").replace(f"「{quoted}」", "")
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", text))
    return bool(re.search(r"[\u4e00-\u9fff]", text)) and words <= ALLOWED_LATIN


def others_unchanged(base: Base, root: Path, unit: str) -> None:
    """Every analytic raw row of every other unit is exactly what the clean run produced."""
    now = read_tables(root)
    for table in ANALYTIC_TABLES:
        before = base.tables[table].filter(pl.col("unit_code") != unit)
        after = now[table].filter(pl.col("unit_code") != unit)
        assert after.sort(after.columns).equals(before.sort(before.columns)), table


def unit_unchanged(base: Base, root: Path, unit: str) -> None:
    now = read_tables(root)
    for table in ANALYTIC_TABLES:
        before = base.tables[table].filter(pl.col("unit_code") == unit)
        after = now[table].filter(pl.col("unit_code") == unit)
        assert after.sort(after.columns).equals(before.sort(before.columns)), table


def accepted_rows_are_sane(root: Path, unit: str) -> None:
    """What an accepted file brings in is finite, in the template's range and free of control characters."""
    now = read_tables(root)
    for name, frame in now.items():
        sheet = SHEETS_BY_NAME.get(name)
        rows = frame.filter(pl.col("unit_code") == unit)
        for column in sheet.columns if sheet else ():
            if column.field not in rows.columns:
                continue
            values = [v for v in rows.get_column(column.field).to_list() if v is not None]
            if column.kind in (Kind.INT, Kind.NUMBER, Kind.SHARE):
                assert column.min_value is not None and column.max_value is not None
                assert all(math.isfinite(v) and column.min_value <= v <= column.max_value for v in values)
            elif column.kind == Kind.DATE:
                assert all(date(1950, 1, 1) <= v <= date(2099, 12, 31) for v in values)
            elif isinstance(values[:1] and values[0], str):
                assert not any(_CONTROL.search(v) for v in values), column.field
