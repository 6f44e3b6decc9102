"""Reading: the right Excel row for every value, stored number types, CSV encodings detected."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
import xlsxwriter

from pipelines.ingest.read import ReadError, detect_encoding, read_csv_bytes, read_csv_set, read_xlsx

CSV_TEXT = '人员编号,姓名,拟定等次\r\nP001,张三,好\r\n,,\r\nP002,"李,四",\r\n,,\r\n'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected_not_assumed(encoding: str) -> None:
    data = CSV_TEXT.encode(encoding)
    assert detect_encoding(data) == encoding
    sheet = read_csv_bytes("人员名册", data)
    assert sheet.encoding == encoding
    assert sheet.headers == ["人员编号", "姓名", "拟定等次"]
    assert sheet.columns[1] == ["张三", "李,四"]


def test_csv_rows_are_record_numbers_and_blank_lines_are_noted() -> None:
    sheet = read_csv_bytes("人员名册", CSV_TEXT.encode("utf-8"))
    assert sheet.header_row == 1
    assert sheet.excel_rows == [2, 4]
    assert sheet.blank_rows == [3, 5]
    assert sheet.columns[2] == ["好", None]
    assert sheet.numeric is None  # CSV has no stored types


def test_utf16_and_undecodable_csv_are_unreadable() -> None:
    with pytest.raises(ReadError) as utf16:
        detect_encoding(codecs.BOM_UTF16_LE + "人员".encode("utf-16-le"))
    assert utf16.value.kind == "unreadable_file"
    with pytest.raises(ReadError):
        detect_encoding(b"\x81\x30\xff\xfe\x80")  # neither UTF-8 nor GB18030


@pytest.mark.parametrize(("separator", "named"), [(";", "分号"), ("\t", "制表符"), ("|", "竖线")])
def test_a_csv_with_another_separator_is_named_as_such(separator: str, named: str) -> None:
    data = CSV_TEXT.replace(",", separator).encode("utf-8")
    with pytest.raises(ReadError) as refused:
        read_csv_bytes("人员名册", data)
    assert refused.value.kind == "unreadable_file"
    assert f"「人员名册.csv」的各列用{named}分隔" in refused.value.detail
    # a real two-column sheet whose values hold a semicolon is read as usual
    sheet = read_csv_bytes("科室", "科室名称,备注\r\n综合科,甲;乙\r\n".encode())
    assert sheet.columns[1] == ["甲;乙"]


def test_binary_csv_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "评议打分.csv"
    path.write_bytes(b"a,b\x00c\r\n")
    with pytest.raises(ReadError):
        read_csv_set([(path.name, path)])


def test_xlsx_rows_and_stored_types(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = book.add_worksheet("评议打分")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    # Two blank rows above the header: Excel row numbers must still be right.
    ws.write_row(2, 0, ["被评议人编号", "强度", "日期"])
    ws.write_row(3, 0, ["P001", 85.5])
    ws.write_number(3, 2, 45939, date_format)
    ws.write_row(4, 0, ["P002", "85.5", "2025/10/9"])  # a number and a date typed as text
    ws.write_row(6, 0, ["P003", 90, 45940])  # row 6 (Excel) left blank; a serial without date format
    book.close()
    (sheet,) = read_xlsx(path)
    assert sheet.title == "评议打分"
    assert sheet.header_row == 3
    assert sheet.headers == ["被评议人编号", "强度", "日期"]
    assert sheet.excel_rows == [4, 5, 7]
    assert sheet.blank_rows == [6]
    assert sheet.columns[1] == ["85.5", "85.5", "90"]
    assert sheet.numeric is not None
    assert sheet.numeric[1] == [True, False, True]
    assert sheet.numeric[2] == [False, False, True]  # a date cell is not a number; a bare serial is
    assert sheet.columns[2][0].startswith("2025-10-09")


def test_a_sheet_over_the_row_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.ingest import read

    monkeypatch.setattr(read, "MAX_ROWS_PER_SHEET", 10)
    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("评议打分")
    for r in range(20):
        ws.write_row(r, 0, [f"P{r:03d}", r])
    book.close()
    with pytest.raises(ReadError) as exc:
        read_xlsx(path)
    assert exc.value.kind == "too_many_rows"


def test_a_row_filled_only_in_a_later_column_is_data_and_a_blank_one_is_not(tmp_path: Path) -> None:
    # Rows are found filled column by column (read._filled_rows); a row whose first cell is empty
    # must still be found by a later column, and a row of only white space is blank wherever it is.
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("评议打分")
    ws.write_row(0, 0, ["被评议人编号", "强度"])
    ws.write_row(1, 0, ["P001", 80])
    ws.write_number(2, 1, 81)  # no code in this row
    ws.write_row(3, 0, ["P003", 82])
    ws.write_row(4, 0, ["\u3000 ", "\t"])  # white space only
    book.close()
    (sheet,) = read_xlsx(path)
    assert sheet.excel_rows == [2, 3, 4]
    assert sheet.blank_rows == [5]
    assert sheet.columns == [["P001", None, "P003"], ["80", "81", "82"]]
    assert sheet.numeric == [[False, False, False], [True, True, True]]  # a column of text: no numbers
