"""The pieces that make ingestion total, one by one: bounds and finiteness, invisible characters,
formula and error cells in the sheet XML, DTDs in a package, Chinese reasons for library errors,
per-file fallback of the cell validation."""

from __future__ import annotations

import codecs
import logging
import math
import re
import zipfile
from pathlib import Path

import pytest

from pipelines.domain.template import SHEETS, Kind
from pipelines.ingest import safety
from pipelines.ingest.issues import issue
from pipelines.ingest.normalise import CANONICAL_PATTERNS, INVISIBLE, format_number, normalise
from pipelines.ingest.read import ERROR_PREFIX, FORMULA, ReadError, read_csv_bytes, scan_cells
from pipelines.ingest.safety import check_xlsx
from pipelines.ingest.validate import (
    CellBatch,
    cell_issue,
    merge_cell_issues,
    validate_batches,
    validate_isolated,
)
from tests.ingest.helpers import parsed

NUMERIC = (Kind.INT, Kind.NUMBER, Kind.SHARE)


def test_every_numeric_column_has_two_finite_bounds() -> None:
    """A range check needs both ends: without a maximum 1.7e308 was a valid quantity."""
    for sheet in SHEETS:
        for column in sheet.columns:
            if column.kind in NUMERIC:
                assert column.min_value is not None and column.max_value is not None, column.field
                assert math.isfinite(column.min_value) and math.isfinite(column.max_value)
                assert column.min_value < column.max_value


def test_the_range_message_of_an_integer_column_is_formatted_without_crashing() -> None:
    """工作强度 = 6 used to raise AttributeError: 'int' object has no attribute 'is_integer'."""
    tasks = next(s for s in SHEETS if s.name == "tasks")
    found = cell_issue(tasks, "intensity", "range", "out_of_range", 5, "6")
    assert found.message == "「重点任务」表第5行「工作强度」的值“6”超出范围（应在1至5之间）"
    assert format_number(5) == "5" and format_number(float("inf")) == "inf"


@pytest.mark.parametrize("text", ["1e400", "-1e400", "NaN", "nan", "inf", "Infinity", "1" * 400])
def test_a_number_that_is_not_finite_never_becomes_canonical_with_a_value(text: str) -> None:
    value = normalise(Kind.NUMBER, text).value
    assert value is not None
    # Either it is not canonical (a type error) or it is, and its float would be out of any range.
    if re.match(CANONICAL_PATTERNS[Kind.NUMBER], value):
        assert not math.isfinite(float(value))


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (Kind.CODE, "P0\x0717", "P017"),
        (Kind.TEXT, "张\u200b三", "张三"),
        (Kind.TEXT, "\u202e科员", "科员"),
        (Kind.NUMBER, "8\x005", "85"),
        (Kind.TEXT, "\x07", None),
    ],
)
def test_invisible_control_characters_are_removed_with_a_warning(
    kind: Kind, raw: str, value: str | None
) -> None:
    result = normalise(kind, raw)
    assert result.value == value
    assert result.warnings[0] == "control_chars_removed"


def test_tabs_line_breaks_and_emoji_joiners_are_not_control_characters() -> None:
    assert "control_chars_removed" not in normalise(Kind.TEXT, "甲\n乙").warnings
    assert normalise(Kind.TEXT, "👨\u200d👩\u200d👧").value == "👨\u200d👩\u200d👧"


@pytest.mark.parametrize(
    ("raw", "flagged"),
    [
        ('=HYPERLINK("http://x","y")', True),
        ("@SUM(A1)", True),
        ("-加强监管", True),
        ("+cmd", True),
        ("-5", False),
        ("+3.5", False),
        ("-", False),
        ("加强-监管", False),
    ],
)
def test_text_that_starts_like_a_formula_is_kept_with_a_warning(raw: str, flagged: bool) -> None:
    result = normalise(Kind.TEXT, raw)
    assert result.value == raw
    assert ("formula_like_text" in result.warnings) is flagged


@pytest.mark.parametrize("code", ["=1+1", "+P001", "-P001", "@P001"])
def test_a_code_never_starts_like_a_formula(code: str) -> None:
    assert not re.match(CANONICAL_PATTERNS[Kind.CODE], code)
    assert not re.match(CANONICAL_PATTERNS[Kind.CODE_LIST], f"P001、{code}")
    assert re.match(CANONICAL_PATTERNS[Kind.CODE_LIST], "P001、P-01")


# -- formula and error cells in the sheet XML ------------------------------------------------------

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def test_formulas_without_a_saved_result_and_error_cells_are_found() -> None:
    xml = f"""<worksheet {_NS}><sheetData>
      <row r="1"><c r="B1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>
      <row r="2"><c r="B2"><f>SUM(1,2)</f></c><c r="C2"><f>A1</f><v></v></c></row>
      <row r="3"><c r="B3"><f>SUM(1,2)</f><v>3</v></c><c r="C3" t="str"><f>""</f><v></v></c></row>
      <row r="4"><c r="B4" t="e"><v>#DIV/0!</v></c><c r="C4" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>
    </sheetData></worksheet>"""
    cells = scan_cells(xml.encode())
    assert cells.flagged == {
        (2, 1): FORMULA,
        (2, 2): FORMULA,
        (4, 1): ERROR_PREFIX + "#DIV/0!",
        (4, 2): ERROR_PREFIX + "#DIV/0!",
    }  # B3 has its result; C3 is a formula whose result is the empty string
    assert cells.valued[1] == [1, 2]


def test_cells_without_references_and_prefixed_namespaces_are_placed_by_position() -> None:
    xml = """<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
      <x:sheetData><x:row><x:c t="inlineStr"><x:is><x:t>h</x:t></x:is></x:c></x:row>
      <x:row><x:c><x:v>1</x:v></x:c><x:c><x:f>A2*2</x:f></x:c></x:row></x:sheetData></x:worksheet>"""
    cells = scan_cells(xml.encode())
    assert cells.flagged == {(2, 1): FORMULA}
    assert cells.valued == {1: [0], 2: [0]}


# -- document type declarations --------------------------------------------------------------------

_PARTS = {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be"])
def test_a_package_with_a_dtd_is_refused(tmp_path: Path, encoding: str) -> None:
    body = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><sst>&a;</sst>'
    data = body.encode(encoding)
    if encoding != "utf-8":
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    path = tmp_path / "dtd.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in _PARTS.items():
            zf.writestr(name, text)
        zf.writestr("xl/sharedStrings.xml", data)
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "unsafe_xml"
    assert "DOCTYPE" in refusal.technical


def test_a_declaration_split_across_two_chunks_is_still_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safety, "_CHUNK", 64)
    body = b"<sst>" + b" " * (64 - 5 - 4) + b"<!DOCTYPE x []><sst/>"  # "<!DO" | "CTYPE"
    path = tmp_path / "split.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in _PARTS.items():
            zf.writestr(name, text)
        zf.writestr("xl/sharedStrings.xml", body)
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "unsafe_xml"


def test_a_corrupt_package_is_refused_in_chinese_with_the_detail_kept_for_the_log(tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in _PARTS.items():
            zf.writestr(name, text * 100)
    path.write_bytes(path.read_bytes()[:-30])
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "unreadable_file"
    assert refusal.detail == "（文件不完整或已损坏，可能上传时被截断；请用Excel重新保存后报送）"
    assert "BadZipFile" in refusal.technical


# -- CSV -------------------------------------------------------------------------------------------


def test_an_oversized_csv_field_is_a_chinese_reason(tmp_path: Path) -> None:
    data = ("任务编号,任务名称\nT1," + "长" * 300_000 + "\n").encode()
    with pytest.raises(ReadError) as caught:
        read_csv_bytes("重点任务", data)
    assert caught.value.detail.startswith("（「重点任务.csv」第2行附近有单元格超过131072个字符")
    assert "field larger than field limit" in caught.value.technical


# -- cell validation that raises for one file --------------------------------------------------------

_TASK = {
    "task_code": "T1",
    "task_name": "防汛",
    "task_source": "临时交办",
    "target": "完成",
    "deadline": "2025-09-30",
    "intensity": "3",
    "difficulty": "2",
    "quantity": "2",
    "status": "已完成",
}


def test_when_the_stacked_validation_raises_each_file_is_validated_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    by_sheet = {
        "tasks": [
            (0, parsed("tasks", [_TASK])),
            (1, parsed("tasks", [{**_TASK, "task_name": "坏"}])),
            (2, parsed("tasks", [{**_TASK, "intensity": "6"}])),
        ]
    }

    def validator(batches: list[CellBatch]) -> dict[int, list]:
        if any("坏" in b.frame.get_column("task_name").to_list() for b in batches):
            raise ValueError("boom")
        return validate_batches(batches)

    with caplog.at_level(logging.ERROR):
        issues, incidents = validate_isolated(
            by_sheet, validator, {0: "a" * 64, 1: "b" * 64, 2: "c" * 64}, logging.getLogger("t")
        )
    assert list(incidents) == [1]
    assert (
        incidents[1]
        .issue()
        .message.startswith(f"系统处理本文件时出错（事件编号 {incidents[1].incident_id}）")
    )
    assert incidents[1].incident_id in caplog.text and "ValueError: boom" in caplog.text
    assert 0 not in issues
    assert [i.kind for i in issues[2]] == ["out_of_range"]


def test_the_suites_finding_on_a_formula_cell_is_dropped() -> None:
    where = {"sheet": "评议打分", "row": 3, "header": "成效"}
    formula = issue("formula_without_value", **where)
    blank = issue("missing_value", **where)
    other = issue("missing_value", sheet="评议打分", row=4, header="成效")
    assert merge_cell_issues([formula], [blank, other]) == [formula, other]


def test_a_row_of_nothing_but_formulas_without_results_is_not_silently_dropped(tmp_path: Path) -> None:
    """calamine sees such a row as blank; the clerk sees it filled in."""
    import openpyxl

    from pipelines.domain.template import SHEETS_BY_NAME
    from pipelines.ingest.read import read_xlsx
    from pipelines.ingest.sheets import parse_sheet

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "年度测评"
    ws.append(["人员编号", "年度测评得分"])
    ws.append(["P001", 90])
    ws.append(['=CONCAT("P","002")', "=B2-1"])
    ws.append(["P003", 80])
    wb.save(tmp_path / "book.xlsx")
    (raw,) = read_xlsx(tmp_path / "book.xlsx")
    assert raw.excel_rows == [2, 4]  # row 3 is invisible to calamine
    _, issues = parse_sheet(SHEETS_BY_NAME["year_end"], raw)
    found = [(i.kind, i.excel_row, i.header) for i in issues if i.severity == "error"]
    assert found == [("formula_without_value", 3, "人员编号"), ("formula_without_value", 3, "年度测评得分")]


def test_invisible_characters_quoted_from_a_file_are_shown_as_symbols() -> None:
    found = issue("extra_column", sheet="人员\u202e名册", row=1, header="备\x07注", value="a\x00b\u200b")
    assert found.header == "备␇注" and found.sheet == "人员�名册" and found.value == "a␀b�"
    assert not INVISIBLE.search(found.message)


def test_a_validator_process_that_died_does_not_make_every_file_an_incident() -> None:
    """The GX process broken (BrokenProcessPool on every submit): the retries run in this process."""
    from concurrent.futures.process import BrokenProcessPool

    by_sheet = {
        "tasks": [(0, parsed("tasks", [_TASK])), (1, parsed("tasks", [{**_TASK, "quantity": "1001"}]))]
    }

    def broken(batches: list[CellBatch]) -> dict[int, list]:
        raise BrokenProcessPool("the GX process died")

    issues, incidents = validate_isolated(
        by_sheet, broken, {0: "a" * 64, 1: "b" * 64}, logging.getLogger("t"), one_by_one=validate_batches
    )
    assert incidents == {}
    assert list(issues) == [1] and [i.value for i in issues[1]] == ["1001"]


def test_every_column_of_every_sheet_has_a_type_rule_and_a_bound() -> None:
    """No cell reaches the tables unchecked: each column has a shape (pattern, value set or length
    bound), and every numeric one a range on its value."""
    from pipelines.ingest.suites import build_suites, value_column

    for sheet in SHEETS:
        suite = build_suites()[sheet.name]["expectations"]
        for column in sheet.columns:
            kinds = {e["type"] for e in suite if e["kwargs"]["column"] == column.field}
            shaped = {
                "expect_column_values_to_match_regex",
                "expect_column_values_to_be_in_set",
                "expect_column_value_lengths_to_be_between",
            }
            assert kinds & shaped, (sheet.name, column.field)
            if column.kind in NUMERIC:
                ranges = [e for e in suite if e["kwargs"]["column"] == value_column(column.field)]
                assert ranges and {"min_value", "max_value"} <= set(ranges[0]["kwargs"])
            if column.kind in (Kind.TEXT, Kind.CODE, Kind.CODE_LIST) and column.field != "national_id":
                assert "expect_column_value_lengths_to_be_between" in kinds, (sheet.name, column.field)
