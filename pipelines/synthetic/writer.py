"""Render a canonical `UnitWorkbook` into the template: one xlsx workbook or one CSV per sheet.

Both formats share `render_tables`, which lays out sheets and columns and applies the noise; the same
inputs (workbook, rng state, rates) always give the same cells, and the xlsx bytes are reproducible
because the document's created time is derived from the quarter (xlsxwriter pins zip timestamps).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

import numpy as np
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipelines.domain.quarters import Quarter
from pipelines.domain.template import SHEETS, Column, Kind, Sheet
from pipelines.synthetic.noise import (
    DATE_STYLE,
    EXTRA_HEADERS,
    PERCENT_STYLE,
    WORKBOOK_KINDS,
    Cell,
    NoiseRates,
    NoiseReport,
    Styled,
    Target,
    extra_column_cells,
    noise_column,
    quarter_spelling,
    unit_name_variant,
)
from pipelines.synthetic.workbook import UnitWorkbook

CSV_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
MAX_TRAILING_BLANK_ROWS = 30


@dataclass(frozen=True)
class Layout:
    """Deliberate omissions from the template; only breakages set these."""

    omit_sheets: frozenset[str] = frozenset()  # Sheet.name
    omit_columns: frozenset[tuple[str, str]] = frozenset()  # (Sheet.name, Column.field)


FULL_LAYOUT = Layout()


@dataclass
class Table:
    """One sheet as it will be written: headers and rendered cells column by column."""

    sheet: Sheet
    headers: list[str]
    columns: list[list[Cell]]
    n_rows: int
    trailing_blank_rows: int = 0
    widths: list[float] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.sheet.title


def created_at(quarter: Quarter) -> datetime:
    """The document's fixed creation time: 09:00 on the first day after the quarter."""
    return datetime.combine(quarter.last_day + timedelta(days=1), time(9, 0))


def sheet_columns(sheet: Sheet, rows: list[dict], layout: Layout) -> list[Column]:
    """Required columns always; optional ones only when some row fills them."""
    return [
        c
        for c in sheet.columns
        if (sheet.name, c.field) not in layout.omit_columns
        and (c.required or any(r.get(c.field) is not None for r in rows))
    ]


def present_sheets(wb: UnitWorkbook, layout: Layout) -> list[Sheet]:
    """Required sheets always; optional ones (加减分, 年度测评) only when the workbook has rows."""
    return [s for s in SHEETS if s.name not in layout.omit_sheets and (s.required or wb.sheets.get(s.name))]


def render_tables(
    wb: UnitWorkbook,
    rng: np.random.Generator,
    rates: NoiseRates,
    target: Target,
    layout: Layout,
    report: NoiseReport,
) -> list[Table]:
    # Workbook-level decisions come first and in a fixed order, so the rng stream is reproducible.
    draws = rng.random(len(WORKBOOK_KINDS)).tolist()
    hits = {k: u < getattr(rates, k) for k, u in zip(WORKBOOK_KINDS, draws, strict=True)}
    tables = []
    for sheet in present_sheets(wb, layout):
        rows = wb.sheets.get(sheet.name) or []
        columns = sheet_columns(sheet, rows, layout)
        cells = []
        for column in columns:
            values = [r.get(column.field) for r in rows]
            if sheet.name == "unit_info" and values:
                values = _unit_info_variants(column, values, wb, rng, rates, hits, report)
            cells.append(noise_column(values, column, rng, rates, target, report))
        report.cells += len(rows) * len(columns)
        widths = [_width(c) for c in columns]
        tables.append(Table(sheet, [c.header for c in columns], cells, len(rows), widths=widths))
    _table_noise(tables, rng, rates, target, hits, report)
    return tables


def _unit_info_variants(
    column: Column,
    values: list,
    wb: UnitWorkbook,
    rng: np.random.Generator,
    rates: NoiseRates,
    hits: dict[str, bool],
    report: NoiseReport,
) -> list:
    kind = {"quarter": "quarter_variant", "unit_name": "unit_name_variant"}.get(column.field)
    if kind is None or getattr(rates, kind) <= 0.0 or not isinstance(values[0], str):
        return values
    if kind == "quarter_variant" and values[0] != wb.quarter.key:
        return values  # only respell a quarter we know; anything else is the model's business
    report.eligible[kind] += 1
    if not hits[kind]:
        return values
    if kind == "quarter_variant":
        new = quarter_spelling(wb.quarter, rng)
    else:
        new = unit_name_variant(values[0], rng)
    report.applied[kind] += 1
    report.events.append((kind, "单位信息", f"{values[0]} -> {new}"))
    return [new, *values[1:]]


def _table_noise(
    tables: list[Table],
    rng: np.random.Generator,
    rates: NoiseRates,
    target: Target,
    hits: dict[str, bool],
    report: NoiseReport,
) -> None:
    if not tables:
        return
    for kind in ("extra_column", "column_order", "trailing_blank_rows"):
        if getattr(rates, kind) <= 0.0:
            continue
        report.eligible[kind] += 1
        if not hits[kind]:
            continue
        table = tables[int(rng.integers(len(tables)))]
        if kind == "extra_column":
            header = EXTRA_HEADERS[int(rng.integers(len(EXTRA_HEADERS)))]
            cells = extra_column_cells(header, table.n_rows, rng, target)
            at = 0 if header == "序号" else len(table.headers)  # a row number leads, notes trail
            table.headers.insert(at, header)
            table.columns.insert(at, cells)
            table.widths.insert(at, 8.0 if header == "序号" else 14.0)
            detail = header
        elif kind == "column_order":
            order = _visible_shuffle(len(table.headers), rng)
            table.headers = [table.headers[i] for i in order]
            table.columns = [table.columns[i] for i in order]
            table.widths = [table.widths[i] for i in order]
            detail = "、".join(table.headers)
        else:
            table.trailing_blank_rows = int(rng.integers(1, MAX_TRAILING_BLANK_ROWS + 1))
            detail = str(table.trailing_blank_rows)
        report.applied[kind] += 1
        report.events.append((kind, table.title, detail))


def _visible_shuffle(n: int, rng: np.random.Generator) -> list[int]:
    """A permutation that is not the identity (when n > 1), so a shuffle is always visible."""
    if n < 2:
        return list(range(n))
    order = rng.permutation(n).tolist()
    if order == sorted(order):
        order[0], order[1] = order[1], order[0]
    return order


def _width(column: Column) -> float:
    if column.kind == Kind.DATE:
        return 12.0
    if column.field == "national_id":
        return 21.0
    return max(9.0, 2.2 * len(column.header) + 1)


# -- xlsx ---------------------------------------------------------------------------------------------


def write_xlsx(
    path: Path | str,
    wb: UnitWorkbook,
    rng: np.random.Generator,
    rates: NoiseRates,
    layout: Layout = FULL_LAYOUT,
) -> NoiseReport:
    """Write one workbook; sheets in template order with Chinese titles, header row bold."""
    report = NoiseReport()
    tables = render_tables(wb, rng, rates, "xlsx", layout, report)
    path = Path(path)
    book = xlsxwriter.Workbook(
        str(path),
        # in_memory: small workbooks write faster without temp files; no string sniffing, a unit's
        # text is never a formula or a URL.
        {
            "in_memory": True,
            "strings_to_urls": False,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
        },
    )
    book.set_properties(
        {"title": f"{wb.quarter.key} 平时考核", "company": wb.unit_name, "created": created_at(wb.quarter)}
    )
    header_fmt = book.add_format({"bold": True, "align": "center", "valign": "vcenter"})
    styles = {
        DATE_STYLE: book.add_format({"num_format": "yyyy-mm-dd"}),
        PERCENT_STYLE: book.add_format({"num_format": "0%"}),
    }
    blank_fmt = book.add_format({"border": 1})
    for table in tables:
        _write_sheet(book.add_worksheet(table.title), table, header_fmt, styles, blank_fmt)
    book.close()
    report.paths.append(path)
    return report


def _write_sheet(
    ws: Worksheet, table: Table, header_fmt: Format, styles: dict[str, Format], blank_fmt: Format
) -> None:
    ws.write_row(0, 0, table.headers, header_fmt)
    for j, width in enumerate(table.widths):
        ws.set_column(j, j, width)
    ws.freeze_panes(1, 0)
    # Styled cells (real dates, percentages) need their own format; blank them out of the bulk rows
    # and write them one by one. Only date and share columns hold them, and those are short.
    styled: list[tuple[int, int, Styled]] = []
    for j, col in enumerate(table.columns):
        if Styled in set(map(type, col)):
            col = list(col)
            for i, c in enumerate(col):
                if c.__class__ is Styled:
                    styled.append((i + 1, j, c))
                    col[i] = None
            table.columns[j] = col
    write_row = ws.write_row
    for r, row in enumerate(zip(*table.columns, strict=True), start=1):
        write_row(r, 0, row)
    for r, j, c in styled:
        ws.write_number(r, j, c.value, styles[c.style])
    first_blank = table.n_rows + 1
    for r in range(first_blank, first_blank + table.trailing_blank_rows):
        for j in range(len(table.headers)):
            ws.write_blank(r, j, None, blank_fmt)


# -- csv ----------------------------------------------------------------------------------------------


def csv_path(folder: Path, sheet: Sheet) -> Path:
    return folder / f"{sheet.title}.csv"


def write_csv_folder(
    folder: Path | str,
    wb: UnitWorkbook,
    rng: np.random.Generator,
    rates: NoiseRates,
    encoding: str,
    layout: Layout = FULL_LAYOUT,
) -> NoiseReport:
    """One CSV per sheet, `<sheet title>.csv`, header row of Chinese headers, CRLF like Excel writes."""
    if encoding not in CSV_ENCODINGS:
        raise ValueError(f"CSV encoding must be one of {CSV_ENCODINGS}, got {encoding!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = NoiseReport()
    for table in render_tables(wb, rng, rates, "csv", layout, report):
        path = csv_path(folder, table.sheet)
        with path.open("w", encoding=encoding, newline="") as fh:
            out = csv.writer(fh, lineterminator="\r\n")
            out.writerow(table.headers)
            out.writerows(zip(*table.columns, strict=True))
            out.writerows([[""] * len(table.headers)] * table.trailing_blank_rows)
        report.paths.append(path)
    return report
