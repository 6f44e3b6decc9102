"""Print-ready tables in xlsxwriter: A4, Chinese titles, header row repeated on every printed page,
frozen panes under the header, column widths fitted to CJK text, numbers at the rules' precision.

Every text cell goes through `neutralise`; the workbook never turns strings into formulas, numbers or
links (xlsxwriter's conversions are switched off), so what a unit typed stays text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipelines.deliverables.cells import display_width, is_missing, neutralise

A4 = 9  # xlsxwriter paper code
# Times are stored in UTC; a unit reads them in the rules' calendar time zone (write.py passes it).
DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_WIDTH = 48
TITLE_ROWS = 2  # title and subtitle above the header row
# Q and the scores are shown to 2 decimals (rules.md §4: "rounded to 2 decimals only for display").
FORMATS: dict[str, dict[str, Any]] = {
    "text": {"num_format": "@"},
    "int": {"num_format": "0", "align": "right"},
    "score": {"num_format": "0.00", "align": "right"},
    "share": {"num_format": "0.00", "align": "right"},
    "rate": {"num_format": "0.0%", "align": "right"},
    "date": {"num_format": "yyyy-mm-dd", "align": "center"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm", "align": "center"},
    "center": {"num_format": "@", "align": "center"},
}
SAMPLE_WIDTH = {"score": 8, "share": 6, "rate": 7, "int": 5, "date": 11, "datetime": 17}


@dataclass(frozen=True)
class Column:
    header: str
    key: str | Callable[[Mapping[str, Any]], Any]
    kind: str = "text"  # a FORMATS key

    def value(self, row: Mapping[str, Any]) -> Any:
        return self.key(row) if callable(self.key) else row.get(self.key)


@dataclass(frozen=True)
class Table:
    """One sheet as table_sheet draws it: what to show and its print shape."""

    name: str
    title: str
    subtitle: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    marked: Callable[[Mapping[str, Any]], bool] | None = None
    notes: Sequence[str] = ()
    landscape: bool = True
    freeze_columns: int = 0


WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "remove_timezone": True,
    "in_memory": True,
}
AUTHOR = "滨州市委组织部 平时考核数据仓库"


def new_workbook(path: Path | BytesIO, title: str) -> Workbook:
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path) if isinstance(path, Path) else path, WORKBOOK_OPTIONS)
    book.set_properties({"title": title, "author": AUTHOR})
    return book


class Styles:
    """The workbook's formats, made once (xlsxwriter keeps every format object in the file)."""

    def __init__(self, book: Workbook, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.tz = ZoneInfo(timezone)
        font = {"font_name": "宋体", "font_size": 10}
        self.title = book.add_format({**font, "bold": True, "font_size": 14})
        self.subtitle = book.add_format({**font, "font_color": "#555555"})
        self.header = book.add_format(
            {**font, "bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center", "valign": "vcenter",
             "text_wrap": True}
        )  # fmt: skip
        self.cells = {k: book.add_format({**font, **v, "border": 1}) for k, v in FORMATS.items()}
        self.marked = {
            k: book.add_format({**font, **v, "border": 1, "bg_color": "#FFF2CC"}) for k, v in FORMATS.items()
        }
        self.note = book.add_format({**font, "valign": "top"})  # no wrap: a note runs across the columns


def local_time(value: datetime, tz: ZoneInfo) -> datetime:
    """A naive datetime in `tz` (Excel has no time zones); naive input is taken as already local."""
    return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo is not None else value


def time_text(value: Any, tz: ZoneInfo, missing: str = "无") -> str:
    return local_time(value, tz).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else missing


def _write(sheet: Worksheet, row: int, col: int, value: Any, fmt: Any, tz: ZoneInfo, kind: str) -> int:
    """Write one cell; return the width its column needs for it (one pass: a city writes 350,000)."""
    if is_missing(value):
        sheet.write_blank(row, col, None, fmt)
        return 0
    if isinstance(value, bool):
        sheet.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, local_time(value, tz), fmt)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
    else:
        sheet.write_string(row, col, str(neutralise(str(value))), fmt)
    return cell_width(value, kind)


def cell_width(value: Any, kind: str) -> int:
    """The width a written (not missing) value needs: a fixed sample for numbers and dates, the text's
    display width otherwise."""
    sample = SAMPLE_WIDTH.get(kind)
    return sample if sample is not None else display_width(str(value))


def table_sheet(
    book: Workbook,
    styles: Styles,
    name: str,
    title: str,
    subtitle: str,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    *,
    marked: Callable[[Mapping[str, Any]], bool] | None = None,
    notes: Sequence[str] = (),
    landscape: bool = True,
    freeze_columns: int = 0,
) -> Worksheet:
    """One sheet: title, subtitle, a header row, the rows, notes below. Print-ready on A4."""
    sheet = book.add_worksheet(name)
    sheet.write_string(0, 0, str(neutralise(title)), styles.title)
    sheet.write_string(1, 0, str(neutralise(subtitle)), styles.subtitle)
    header_row = TITLE_ROWS
    widths = [max(4, display_width(c.header)) for c in columns]
    for j, column in enumerate(columns):
        sheet.write_string(header_row, j, column.header, styles.header)
    kinds = [column.kind for column in columns]
    for i, row in enumerate(rows, start=header_row + 1):
        fmts = styles.marked if marked is not None and marked(row) else styles.cells
        for j, column in enumerate(columns):
            kind = kinds[j]
            width = _write(sheet, i, j, column.value(row), fmts[kind], styles.tz, kind)
            if width > widths[j]:
                widths[j] = width
    for j, width in enumerate(widths):
        sheet.set_column(j, j, min(MAX_WIDTH, width + 2))
    below = header_row + 1 + len(rows) + 1
    for k, note in enumerate(notes):
        sheet.write_string(below + k, 0, str(neutralise(note)), styles.note)
    sheet.set_row(header_row, 30)
    sheet.freeze_panes(header_row + 1, freeze_columns)
    print_setup(sheet, header_row, landscape=landscape)
    return sheet


def write_tables_xlsxwriter(
    path: Path | BytesIO, doc_title: str, tables: Sequence[Table], timezone: str = DEFAULT_TIMEZONE
) -> None:
    """`tables` as one workbook through xlsxwriter, a sheet each (fastbook.py builds its template with
    this, and the tests compare fastbook's output with it)."""
    book = new_workbook(path, doc_title)
    styles = Styles(book, timezone)
    for t in tables:
        table_sheet(
            book, styles, t.name, t.title, t.subtitle, t.columns, t.rows,
            marked=t.marked, notes=t.notes, landscape=t.landscape, freeze_columns=t.freeze_columns,
        )  # fmt: skip
    book.close()


def print_setup(sheet: Worksheet, header_row: int, *, landscape: bool = True) -> None:
    sheet.set_paper(A4)
    if landscape:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.repeat_rows(header_row)
    sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
    sheet.center_horizontally()
    sheet.set_margins(left=0.5, right=0.5, top=0.7, bottom=0.7)
    sheet.set_footer("&C第 &P 页，共 &N 页")
