"""The unit list of `assessment status --xlsx`, safe to open in Excel.

Unit names come from registries and file names from units: a text cell beginning with = + - or @ would
be read by Excel as a formula. Such cells get a leading apostrophe, and xlsxwriter is told never to
turn strings into formulas or links. (A local helper: no shared one existed on this branch.)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.cli.summary import STATUS_LABELS
from pipelines.domain.safe_cells import neutralise

HEADERS = {
    "quarter": "季度",
    "unit_code": "单位编码",
    "unit_name": "单位名称",
    "county": "区县",
    "county_code": "区县编码",
    "level": "层级",
    "status": "报送状态",
    "files_seen": "收到文件数",
    "receipts": "回执目录",
}


def write_unit_list(table: pl.DataFrame, path: Path, sheet: str = "报送状态") -> Path:
    """The status table as a workbook; statuses as the terminal shows them (按时 on time …), not codes."""
    if "status" in table.columns:
        table = table.with_columns(pl.col("status").replace(STATUS_LABELS))
    columns = [c for c in HEADERS if c in table.columns]
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        ws = book.add_worksheet(sheet)
        bold = book.add_format({"bold": True})
        for j, column in enumerate(columns):
            ws.write_string(0, j, HEADERS[column], bold)
        for i, row in enumerate(table.select(columns).iter_rows(), start=1):
            for j, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    ws.write_number(i, j, value)
                else:
                    ws.write_string(i, j, neutralise(str(value)))
        ws.autofilter(0, 0, max(table.height, 1), len(columns) - 1)
        ws.freeze_panes(1, 0)
    finally:
        book.close()
    return path
