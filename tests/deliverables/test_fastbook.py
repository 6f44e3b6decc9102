"""fastbook writes what xlsxwriter (through sheets.table_sheet) writes, as a reader sees it.

Both writers get the same tables — the real unit workbooks of the reviewed test city, and a synthetic
table with every kind of value — and the files are compared cell by cell with openpyxl: value and its
type, number format, font, fill, alignment, border, column widths, row heights, frozen panes, print
titles and page setup, sheet names and order, document title. Any text, hostile or not, reads back as
written, after the project's rules (formula-like text neutralised; cut to Excel's 32,767 UTF-16 units;
lone surrogates as U+FFFD), in openpyxl and in calamine (fastexcel), without warnings.
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import fastexcel
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.deliverables import source, write
from pipelines.deliverables.cells import FORMULA_STARTS, neutralise
from pipelines.deliverables.fastbook import XLS_STRMAX, clean_text, escape_text, write_tables
from pipelines.deliverables.sheets import Column, Table, write_tables_xlsxwriter
from pipelines.deliverables.unit import unit_tables
from tests.deliverables.conftest import QUARTER, ReviewedCity


def read_back(path: Path) -> dict[str, Any]:
    """Everything a reader of the workbook sees, as plain data (openpyxl, no warning allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        book = openpyxl.load_workbook(path)
    seen: dict[str, Any] = {
        "sheets": book.sheetnames,
        "title": book.properties.title,
        "creator": book.properties.creator,
    }
    for sheet in book.worksheets:
        cells = {}
        for row in sheet.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                a, f = c.alignment, c.font
                cells[c.coordinate] = (
                    c.value,
                    type(c.value).__name__,
                    c.number_format,
                    (f.name, f.sz, f.b, f.color.rgb if f.color is not None else None),
                    (c.fill.fill_type, c.fill.fgColor.rgb),
                    (a.horizontal, a.vertical, a.wrap_text),
                    (c.border.left.style, c.border.right.style, c.border.top.style, c.border.bottom.style),
                )
        setup, fit = sheet.page_setup, sheet.sheet_properties.pageSetUpPr
        seen[sheet.title] = {
            "cells": cells,
            "widths": {k: v.width for k, v in sheet.column_dimensions.items()},
            "heights": {k: v.height for k, v in sheet.row_dimensions.items() if v.height is not None},
            "freeze": sheet.freeze_panes,
            "print_titles": sheet.print_title_rows,
            "page": (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight),
            "fit_to_page": fit.fitToPage if fit is not None else None,
            "centered": sheet.print_options.horizontalCentered,
            "margins": (sheet.page_margins.left, sheet.page_margins.right, sheet.page_margins.top),
            "footer": sheet.oddFooter.center.text,
            "dimensions": sheet.dimensions,
            "autofilter": sheet.auto_filter.ref,
        }
    return seen


def calamine_sheets(path: Path) -> dict[str, list[list[str | None]]]:
    """Every sheet read by calamine as text, no warning allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader = fastexcel.read_excel(path)
        return {
            name: [
                list(r) for r in reader.load_sheet(name, header_row=None, dtypes="string").to_polars().rows()
            ]
            for name in reader.sheet_names
        }


def both_ways(
    tmp_path: Path, doc_title: str, tables: list[Table], timezone: str, stem: str = "book"
) -> tuple[Path, Path]:
    old, new = tmp_path / f"{stem}-xlsxwriter.xlsx", tmp_path / f"{stem}-fastbook.xlsx"
    write_tables_xlsxwriter(old, doc_title, tables, timezone)
    write_tables(new, doc_title, tables, timezone)
    return old, new


def assert_same_for_a_reader(old: Path, new: Path) -> None:
    before, after = read_back(old), read_back(new)
    assert after["sheets"] == before["sheets"]
    for key, value in before.items():
        if isinstance(value, dict):
            for part in value:
                assert after[key][part] == value[part], f"{new.name} {key} {part}"
        else:
            assert after[key] == value, key
    assert calamine_sheets(new) == calamine_sheets(old)


KINDS = Table(
    "各类数值",
    "=标题以等号开头",
    "副标题 & <b>",
    (
        Column("文本", "text"),
        Column("整数", "int", "int"),
        Column("分数", "score", "score"),
        Column("比例", "rate", "rate"),
        Column("日期", "day", "date"),
        Column("时间", "at", "datetime"),
        Column("是否", "flag", "center"),
        Column("其他", "other"),
    ),
    [
        {
            "text": "普通文本",
            "int": 3,
            "score": 93.664,
            "rate": 0.875,
            "day": date(2025, 9, 30),
            "at": datetime(2025, 10, 8, 1, 30, tzinfo=UTC),
            "flag": True,
            "other": Decimal("1.50"),
        },
        {
            "text": '=HYPERLINK("http://x","y")',
            "int": -7,
            "score": float("nan"),
            "rate": None,
            "day": date(1900, 2, 28),
            "at": datetime(2025, 12, 31, 23, 59, 59, 999999),
            "flag": False,
            "other": 2**60,
        },
        {
            "text": "-1",
            "int": 0,
            "score": 1e-300,
            "rate": 1 / 3,
            "day": date(1900, 3, 1),
            "at": None,
            "flag": None,
            "other": "\t制表",
        },
        {
            "text": "a\x01b _x0041_ <r>x</r> 😀 " * 3,
            "int": 12345678901234567,
            "score": -0.0,
            "rate": 1.0,
            "day": None,
            "at": datetime(2026, 1, 1, tzinfo=UTC),
            "flag": True,
            "other": " 前后空格 ",
        },
    ],
    marked=lambda r: r.get("flag") is False,
    notes=("@说明以 @ 开头", "第二条说明"),
    freeze_columns=1,
)


def test_every_kind_of_value_reads_as_xlsxwriter_writes_it(tmp_path: Path) -> None:
    portrait = Table("第二页", "标题", "", (Column("项目", "item"),), [], landscape=False)
    old, new = both_ways(tmp_path, "文档 & 标题", [KINDS, portrait], "Asia/Shanghai")
    assert_same_for_a_reader(old, new)
    sheet = openpyxl.load_workbook(new)["各类数值"]
    # numbers stay numbers, dates stay dates, text stays (neutralised) text
    assert sheet["B4"].value == 3 and sheet["C4"].number_format == "0.00"
    assert sheet["E4"].value == datetime(2025, 9, 30) and sheet["E4"].number_format == "yyyy-mm-dd"
    assert sheet["F4"].value == datetime(2025, 10, 8, 9, 30)  # shown in the rules' time zone
    assert sheet["A5"].value == '\'=HYPERLINK("http://x","y")' and sheet["A5"].data_type == "s"
    assert sheet["A1"].value == "'=标题以等号开头" and sheet["A9"].value == "'@说明以 @ 开头"


def test_an_infinite_number_is_refused_as_xlsxwriter_refuses_it(tmp_path: Path) -> None:
    table = Table("S", "T", "", (Column("x", "x", "score"),), [{"x": math.inf}])
    with pytest.raises(TypeError):
        write_tables(tmp_path / "inf.xlsx", "d", [table])


def test_the_zip_is_what_zipfile_writes_for_the_same_members(tmp_path: Path) -> None:
    """fastbook packs members it compressed itself (the fixed ones once per process); the archive is
    byte for byte the one zipfile writes from the same members, as xlsxwriter packs them."""
    path = write_tables(tmp_path / "kinds.xlsx", "d", [KINDS])
    with ZipFile(path) as archive:
        assert archive.testzip() is None
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    again = BytesIO()
    with ZipFile(again, "w", compression=ZIP_DEFLATED) as archive:
        for name, data in members:
            info = ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = ZIP_DEFLATED
            archive.writestr(info, data)
    assert path.read_bytes() == again.getvalue()


@pytest.mark.slow
@pytest.mark.xdist_group("published_city")
def test_the_city_unit_workbooks_read_as_xlsxwriter_writes_them(
    reviewed_city: ReviewedCity, tmp_path: Path
) -> None:
    root = reviewed_city.root
    lay = write.layout(root / "warehouse")
    sources = source.Sources(work=lay.work, data_root=root, county_extracts=lay.counties)
    plan = write._plan(QUARTER, sources, root, datetime(2026, 1, 15, 8, 0, tzinfo=UTC))
    units = [item for item in plan.files if item.kind == "unit"]
    shapes, marked = set(), 0
    for item in units:
        doc_title, tables = unit_tables(*item.args)
        shapes.add(len(tables))
        marked += sum(1 for t in tables if t.marked is not None for r in t.rows if t.marked(r))
        old, new = both_ways(tmp_path, doc_title, tables, item.args[-1], Path(item.rel).stem)
        assert_same_for_a_reader(old, new)
    # both shapes (with and without the 复核决定 sheet) and shaded rows were compared
    assert len(units) >= 10 and shapes == {4, 5} and marked > 0


# fmt: off
PIECES = st.sampled_from([
    "=", "+", "-", "@", "\t", "\r", "\n", "\r\n", " ", "_x000D_", "_x005F_", "x005F_", "_xD800_",
    "<r>", "</r>", "&amp;", "<", ">", "&", '"', "'", "\x00", "\x01", "\x1f", "\x7f", "\ufffe",
    "\uffff", "\ud800", "\udfff", "\ud83d\ude00", "😀", "𠀀", "\u2028", "人员", "Ω",
])
# fmt: on
HOSTILE = st.lists(
    st.one_of(PIECES, st.text(st.characters(exclude_categories=()), max_size=8)), max_size=12
).map("".join)


def expected(text: str) -> str:
    return clean_text(str(neutralise(text)))


def xlsxwriter_escaped(text: str) -> str:
    """A text as xlsxwriter stores it (xmlwriter._escape_control_characters and _escape_data)."""
    text = re.sub("(_x[0-9a-fA-F]{4}_)", r"_x005F\1", text)
    text = re.sub(r"([\x00-\x08\x0b-\x1f])", lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xlsxwriter_can_write(text: str) -> bool:
    """xlsxwriter fails on lone surrogates, copies a text shaped like rich-text XML into the file raw,
    escapes U+FFFE/U+FFFF (fastbook writes U+FFFD), and escapes `_xHHHH_` texts one match at a time,
    which leaves touching ones (`_x0041_x0042_`, or `_x0041` before a control character) to read back
    changed: fastbook stores all of those differently."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    shown = str(neutralise(text))
    rich = shown.startswith("<r>") and shown.endswith("</r>")
    return not rich and xlsxwriter_escaped(shown) == escape_text(clean_text(shown))[0]


def test_touching_escapes_read_back_as_written(tmp_path: Path) -> None:
    texts = ["_x0041_x0042_", "_x0041\x01", "_x000D_x005F_", "a_x0041_b"]
    table = Table("文本", "T", "", (Column("值", "v"),), [{"v": t} for t in texts])
    read = calamine_sheets(write_tables(tmp_path / "escapes.xlsx", "d", [table]))["文本"]
    assert [row[0] for row in read[3:]] == texts
    assert [xlsxwriter_escaped(t) == escape_text(t)[0] for t in texts] == [False, False, False, True]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(HOSTILE, min_size=1, max_size=6))
def test_any_text_reads_back_as_written(tmp_path: Path, texts: list[str]) -> None:
    def table(values: list[str]) -> Table:
        return Table(
            "文本", "T", "", (Column("值", "v"),), [{"v": t} for t in values], notes=tuple(values[:2])
        )

    path = write_tables(tmp_path / "hostile.xlsx", texts[-1], [table(texts)])
    # calamine (what the project's own ingest reads with) decodes OOXML's escapes: every text reads back
    read = calamine_sheets(path)["文本"]
    assert [row[0] for row in read[3 : 3 + len(texts)]] == [expected(t) for t in texts]
    assert [row[0] for row in read[4 + len(texts) : 6 + len(texts)]] == [expected(t) for t in texts[:2]]
    # openpyxl hands over stored escapes as they are (and drops every "x005F_"): it reads what it reads
    # from xlsxwriter's file of the same texts
    comparable = [t for t in texts if xlsxwriter_can_write(t)]
    if comparable:
        old = tmp_path / "hostile-xlsxwriter.xlsx"
        write_tables_xlsxwriter(old, "d", [table(comparable)])
        new = write_tables(tmp_path / "hostile-comparable.xlsx", "d", [table(comparable)])
        assert read_back(new)["文本"]["cells"] == read_back(old)["文本"]["cells"]
    # nothing a spreadsheet would evaluate (openpyxl is no judge here: it would read "x005F_=" as "=")
    assert not any(row[0].startswith(FORMULA_STARTS) for row in read[3 : 3 + len(texts)])


def test_long_text_is_cut_at_excels_limit_without_splitting_a_character(tmp_path: Path) -> None:
    texts = ["长" * 40_000, "a" * (XLS_STRMAX - 1) + "😀", "a" * (XLS_STRMAX - 2) + "😀b"]
    table = Table("长文本", "T", "", (Column("值", "v"),), [{"v": t} for t in texts])
    old, new = both_ways(tmp_path, "d", [table], "Asia/Shanghai")
    assert_same_for_a_reader(old, new)
    sheet = openpyxl.load_workbook(new)["长文本"]
    assert [sheet.cell(4 + i, 1).value for i in range(3)] == [
        "长" * XLS_STRMAX,
        "a" * (XLS_STRMAX - 1),
        "a" * (XLS_STRMAX - 2) + "😀",
    ]
