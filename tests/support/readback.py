"""An independent reader for generated submissions: openpyxl and the csv module, plus a normaliser
written from submission-format.md (not from the generator's own code), so tests check the files
the way a unit's clerk or a different implementation would read them."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from pipelines.domain.template import SHEETS_BY_NAME, SHEETS_BY_TITLE, Column, Kind


def read_xlsx(
    path: Path, titles: Collection[str] | None = None, max_row: int | None = None
) -> dict[str, list[list[Any]]]:
    """Every sheet's rows, or only the sheets titled `titles` and their first `max_row` rows: in read-only
    mode openpyxl parses only the sheets it is asked for, and a test that needs the roster or the headers
    need not parse a unit's thousands of ratings."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            ws.title: [list(r) for r in ws.iter_rows(max_row=max_row, values_only=True)]
            for ws in book.worksheets
            if titles is None or ws.title in titles
        }
    finally:
        book.close()


def read_csv_folder(folder: Path, encoding: str) -> dict[str, list[list[str]]]:
    out = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding=encoding, newline="") as fh:
            out[path.stem] = list(csv.reader(fh))
    return out


FOLD = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
CJK = "\u3400-\u9fff"
_YES, _NO = {"是", "Y", "1", "√"}, {"否", "N", "0", "×"}
_DATE_FORMATS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
_QUARTERS = (
    re.compile(r"^(\d{4})Q([1-4])$"),
    re.compile(r"^(\d{4})-Q([1-4])$"),
    re.compile(r"^(\d{4})年第([1-4])季度$"),
)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def normalise(v: Any, column: Column) -> Any:
    """Spec rules: fold full-width, trim, text numbers, the listed date/bool/quarter/list spellings."""
    if _blank(v):
        return [] if column.kind == Kind.CODE_LIST else None
    if isinstance(v, str):
        v = v.translate(FOLD)
    kind = column.kind
    if kind == Kind.CODE:
        return re.sub(r"\s+", "", v)
    if kind in (Kind.TEXT, Kind.ENUM):
        return re.sub(rf"(?<=[{CJK}])\s+(?=[{CJK}])", "", v.strip())
    if kind in (Kind.INT, Kind.NUMBER):
        return v if isinstance(v, int | float) else float(v.strip())
    if kind == Kind.SHARE:
        if isinstance(v, str):
            s = v.strip()
            return float(s[:-1]) / 100 if s.endswith("%") else float(s)
        return v
    if kind == Kind.DATE:
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, int | float) or v.strip().isdigit():
            return date(1899, 12, 30) + timedelta(days=int(float(v)))
        for pattern in _DATE_FORMATS:
            m = pattern.match(v.strip())
            if m:
                return date(*map(int, m.groups()))
        raise AssertionError(f"not a date: {v!r}")
    if kind == Kind.BOOL:
        s = v.strip()
        assert s in _YES | _NO, s
        return s in _YES
    if kind == Kind.QUARTER:
        for pattern in _QUARTERS:
            m = pattern.match(v.strip())
            if m:
                return f"{m.group(1)}Q{m.group(2)}"
        raise AssertionError(f"not a quarter: {v!r}")
    if kind == Kind.CODE_LIST:
        return [c for c in re.split(r"[、，,;\s]+", v.strip()) if c]
    raise AssertionError(kind)


def canonical(v: Any, column: Column) -> Any:
    if column.kind == Kind.CODE_LIST:
        return list(v or [])
    return v


def same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def table_records(rows: list[list[Any]], sheet_name: str) -> list[dict[str, Any]]:
    """Map a sheet's rows to fields by header, ignoring unknown columns and trailing blank rows."""
    sheet = SHEETS_BY_NAME[sheet_name]
    by_header = {c.header: c for c in sheet.columns}
    header, *data = rows
    while data and all(_blank(v) for v in data[-1]):
        data.pop()
    return [
        {by_header[h].field: v for h, v in zip(header, row, strict=False) if h in by_header} for row in data
    ]


ENCODINGS = ("utf-8-sig", "gb18030")  # utf-8-sig also reads plain UTF-8


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes strictly, else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        data.decode("gb18030")
        return "gb18030"


def read_submission(
    unit_dir: Path, file_name: str | None = None, sheets: Collection[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Normalised records per sheet (by English sheet name) of one delivery in a unit folder.

    `file_name` picks an xlsx file; without it the folder's CSV files are read. `sheets` (English names)
    reads only those sheets.
    """
    titles = None if sheets is None else {SHEETS_BY_NAME[name].title for name in sheets}
    if file_name:
        raw = read_xlsx(unit_dir / file_name, titles)
    else:
        raw = {}
        for path in sorted(unit_dir.glob("*.csv")):
            if titles is not None and path.stem not in titles:
                continue
            encoding = detect_encoding(path.read_bytes())
            with path.open(encoding=encoding, newline="") as fh:
                raw[path.stem] = list(csv.reader(fh))
    out: dict[str, list[dict[str, Any]]] = {}
    for title, rows in raw.items():
        sheet = SHEETS_BY_TITLE[title]
        out[sheet.name] = [
            {f: normalise(v, sheet.column(f)) for f, v in rec.items()}
            for rec in table_records(rows, sheet.name)
        ]
    return out
