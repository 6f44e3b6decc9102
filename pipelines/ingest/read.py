"""Read a delivery into per-sheet string columns that remember the Excel row of every value.

Workbooks are read with calamine (fastexcel) as text, exactly as a clerk sees the cells; a second
pass over the same sheet asks calamine which cells are stored as numbers, so a number typed as
text can be reported (calamine renders both as the same string). CSV files are decoded with the
detected encoding (UTF-8 with or without BOM, else GB18030) and read with the csv module.

The header is the first non-blank row; the row numbers reported are Excel's (1-based, counting the
blank rows above the header), which for CSV is the record number.

calamine returns a formula cell's saved result. A formula saved without one (written by a program
rather than by Excel) and an Excel error value (#DIV/0!) both come back as an empty cell; so that the
receipt does not say 「为空」 about a cell the clerk sees filled in, the sheet's XML is scanned for
formula and error cells (a byte search first, the XML parse only when it hits) and such cells are
noted on the sheet (`cell_notes`) for sheets.py to report.

A library's own error text never reaches a receipt: the reason there is plain Chinese, the technical
detail goes to the run's log (ReadError.technical).
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import fastexcel

from pipelines.domain.template import SHEETS_BY_TITLE, Kind
from pipelines.ingest.normalise import normalise
from pipelines.ingest.safety import (
    MAX_COLUMNS_PER_SHEET,
    MAX_CSV_BYTES,
    MAX_ROWS_PER_SHEET,
    has_formula_or_error,
)

if TYPE_CHECKING:  # fastexcel imports pyarrow at the first sheet; the parent never needs it
    import pyarrow as pa


class ReadError(Exception):
    """The delivery cannot be read; `kind` is an issue kind, `detail` Chinese text for the receipt,
    `technical` the library's own words for the log (never shown to the unit)."""

    def __init__(self, kind: str, detail: str, technical: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.technical = technical


FORMULA = "formula"  # a cell note: a formula saved without its result
ERROR_PREFIX = "error:"  # a cell note: an Excel error value, e.g. "error:#DIV/0!"


@dataclass
class RawSheet:
    title: str  # the sheet name (xlsx) or the CSV file's stem, as written
    header_row: int  # Excel row number of the header
    headers: list[str | None]
    columns: list[list[str | None]]  # data rows, one list per column
    excel_rows: list[int]  # Excel row number of each data row
    numeric: list[list[bool]] | None = None  # xlsx: is the cell stored as a number?
    blank_rows: list[int] = field(default_factory=list)  # blank rows skipped between/after data
    source: str = "xlsx"  # xlsx / csv
    encoding: str | None = None  # csv only
    # (Excel row, column index) -> FORMULA or ERROR_PREFIX + value, for data cells read as empty
    cell_notes: dict[tuple[int, int], str] = field(default_factory=dict)


# What counts as blank around a cell's text: Unicode White_Space (what polars' strip_chars removes).
# Python's str.strip() would also remove U+001C..U+001F, which are not blank: a cell holding one is
# kept, and normalisation reports it as a control character.
_BLANK_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _filled_rows(columns: list[list[str | None]], height: int) -> list[bool]:
    """Which rows hold a cell that is not blank.

    A column is looked at only in the rows that no column before it fills. After the first column
    (a number, a code or a name in almost every sheet) those are the blank rows and little else, so
    the work is about one pass over one column rather than over every cell of the sheet."""
    unfilled: list[int] | range = range(height)
    for values in columns:
        n = len(values)
        unfilled = [i for i in unfilled if i >= n or (v := values[i]) is None or not v.strip(_BLANK_CHARS)]
        if not unfilled:
            break
    filled = [True] * height
    for i in unfilled:
        filled[i] = False
    return filled


def _rows_to_sheet(
    title: str,
    cells: list[list[str | None]],
    height: int,
    stored: list[list[bool]] | None,
    source: str,
    encoding: str | None = None,
) -> RawSheet:
    """Split a sheet (one list per column, row i = Excel row i + 1) into header and data, skipping
    blank rows. `stored`: per cell, whether the workbook stored it as a number (None: unknown/CSV).

    Plain lists: a unit's sheet is tens to hundreds of rows, where one polars call per sheet costs
    more than the Python loop over its cells (profiled: 5 of 28 ms per workbook went to the calls).
    """
    width = len(cells)
    if width > MAX_COLUMNS_PER_SHEET:
        raise ReadError("too_many_rows", f"（工作表「{title}」有 {width} 列，上限 {MAX_COLUMNS_PER_SHEET}）")
    empty = RawSheet(title, 1, [], [], [], [] if stored is not None else None, [], source, encoding)
    if width == 0 or height == 0:
        return empty
    filled = _filled_rows(cells, height)
    used = [i for i, f in enumerate(filled) if f]
    if not used:
        return empty
    header_at = used[0]
    data_at = used[1:]
    # calamine already drops a workbook's trailing formatted-but-empty rows; a CSV keeps them.
    blank_rows = [i + 1 for i, f in enumerate(filled) if not f and i > header_at]
    headers = [values[header_at] for values in cells]
    if not data_at or data_at[-1] - data_at[0] + 1 == len(data_at):
        # No blank row inside the data (the usual sheet): each column is one slice, not a loop.
        rows = slice(data_at[0], data_at[-1] + 1) if data_at else slice(0, 0)
        columns = [values[rows] for values in cells]
        flags = None if stored is None else [values[rows] for values in stored]
    else:
        columns = [[values[i] for i in data_at] for values in cells]
        flags = None if stored is None else [[values[i] for i in data_at] for values in stored]
    return RawSheet(
        title,
        header_at + 1,
        headers,
        columns,
        [i + 1 for i in data_at],
        flags,
        blank_rows,
        source,
        encoding,
    )


# -- xlsx ------------------------------------------------------------------------------------------


_RESAVE = "请用Excel打开、另存为.xlsx后重新报送"


def read_xlsx(path: Path, formula_parts: set[str] | None = None) -> list[RawSheet]:
    """Every sheet of a workbook that passed the safety checks (safety.check_xlsx).

    `formula_parts`: the parts safety.check_xlsx saw formula or error cells in; an empty set skips
    the formula notes altogether (the common case), None looks at every sheet."""
    try:
        reader = fastexcel.read_excel(path)
        names = list(reader.sheet_names)
    except Exception as exc:  # calamine raises its own exception types for every malformed part
        raise ReadError(
            "unreadable_file", f"（无法作为Excel工作簿打开，文件可能已损坏；{_RESAVE}）", _technical(exc)
        ) from exc
    sheets = [_read_sheet(reader, name, needs_types(name)) for name in names]
    if formula_parts is None or formula_parts:
        note_formula_cells(path, sheets, formula_parts)
    return sheets


# Kinds whose normalisation depends on whether the workbook stored the cell as a number.
TYPED_KINDS = frozenset({Kind.INT, Kind.NUMBER, Kind.SHARE, Kind.DATE})


def needs_types(title: str) -> bool:
    """Whether the stored type of the sheet's cells can matter: only for a template sheet with a
    number or date column. Other sheets (the roster, sheets the template does not have) skip the
    second calamine pass; sheets.py matches titles the same way (an ENUM-normalised label)."""
    sheet = SHEETS_BY_TITLE.get(normalise(Kind.ENUM, title).value or "")
    return sheet is not None and any(c.kind in TYPED_KINDS for c in sheet.columns)


def _read_sheet(reader: fastexcel.ExcelReader, name: str, typed: bool = True) -> RawSheet:
    limit = MAX_ROWS_PER_SHEET + 2  # header, and one more to know the cap was exceeded
    try:
        # skip_rows=0 keeps blank rows above the header, so index i is Excel row i + 1. Eager loads
        # (an Arrow record batch) read straight into lists cost a fifth of what the lazy sheet's
        # conversion to a polars frame and back to lists did (profiled: 1.7 → 0.35 ms a workbook).
        text = reader.load_sheet(
            name, header_row=None, skip_rows=0, n_rows=limit, dtypes="string", eager=True
        )
        if text.num_rows > MAX_ROWS_PER_SHEET + 1:  # at most `limit` rows are loaded
            raise ReadError("too_many_rows", f"（工作表「{name}」超过 {MAX_ROWS_PER_SHEET} 行）")
        cells = [column.to_pylist() for column in text.columns]
        stored = None
        if typed:
            # Numbers and booleans load as non-null booleans, text and dates as null: the only way
            # calamine tells us a cell's stored type. (A datetime pass would panic on huge numbers.)
            flags = reader.load_sheet(
                name, header_row=None, skip_rows=0, n_rows=limit, dtypes="boolean", eager=True
            )
            stored = [_valid(column) for column in flags.columns]
            if (flags.num_rows, flags.num_columns) != (text.num_rows, text.num_columns):
                stored = [[False] * text.num_rows for _ in cells]  # never seen: then all is text
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(
            "unreadable_file", f"（工作表「{name}」无法读取，文件可能已损坏；{_RESAVE}）", _technical(exc)
        ) from exc
    return _rows_to_sheet(name, cells, text.num_rows, stored, "xlsx")


def _valid(column: pa.Array) -> list[bool]:
    """Which cells of a column hold a value. Two thirds of a template sheet's columns hold no number
    at all (names, codes, text): those skip the Arrow call (~10 µs each, ~20 columns a workbook)."""
    if column.null_count == len(column):
        return [False] * len(column)
    return column.is_valid().to_pylist()


def _technical(exc: BaseException) -> str:
    """The library's message, for the log."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {str(exc)[:2000]}"


# -- formula and error cells in the sheet XML -------------------------------------------------------

_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its worksheet part in the package, from xl/workbook.xml and its relationships."""
    targets = {}
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if _local(rel.tag) == "Relationship":
            target = rel.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            targets[rel.get("Id")] = posixpath.normpath(part)
    parts = {}
    for element in ElementTree.fromstring(zf.read("xl/workbook.xml")).iter():
        if _local(element.tag) == "sheet":
            rid = element.get(f"{{{_REL_NS}}}id")
            if rid in targets and element.get("name") is not None:
                parts[element.get("name", "")] = targets[rid]
    return parts


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass
class _XmlCells:
    flagged: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, xml column) -> note
    valued: dict[int, list[int]] = field(default_factory=dict)  # row -> xml columns holding a value


def scan_cells(data: bytes) -> _XmlCells:
    """Formula cells without a saved result and error cells of one worksheet's XML, with the columns
    of every row that hold a value (to line calamine's columns up with Excel's)."""
    out = _XmlCells()
    row, col = 0, -1
    for event, element in ElementTree.iterparse(io.BytesIO(data), events=("start", "end")):
        name = _local(element.tag)
        if event == "start":
            if name == "row":  # r is optional on rows and cells: then they simply follow on
                r = element.get("r", "")
                row, col = (int(r) if r.isdigit() else row + 1), -1
            continue
        if name == "row":
            element.clear()
        if name != "c":
            continue
        ref = _REF.match(element.get("r", ""))
        if ref:
            row, c = int(ref.group(2)), _column_index(ref.group(1))
        else:
            c = col + 1
        col = c
        children = {_local(child.tag): child for child in element}
        value = children.get("v")
        has_value = (value is not None and bool(value.text)) or "is" in children
        kind = element.get("t", "n")
        if kind == "e" and value is not None and value.text:
            out.flagged[(row, c)] = ERROR_PREFIX + value.text.strip()
        elif "f" in children and not has_value and kind != "str":
            out.flagged[(row, c)] = FORMULA
        if has_value:
            out.valued.setdefault(row, []).append(c)
        element.clear()
    return out


def note_formula_cells(path: Path, sheets: list[RawSheet], only: set[str] | None = None) -> None:
    """Fill `cell_notes` of the sheets whose XML has formula or error cells that calamine read as empty."""
    with zipfile.ZipFile(path) as zf:
        try:
            parts = sheet_parts(zf)
        except (KeyError, ElementTree.ParseError):
            return  # calamine read the workbook, so its structure is fine; without the map, no notes
        for sheet in sheets:
            part = parts.get(sheet.title)
            if part is None or not sheet.headers or (only is not None and part not in only):
                continue
            try:
                data = zf.read(part)
                if has_formula_or_error(data):
                    _note_sheet(sheet, scan_cells(data))
            except (KeyError, ValueError, ElementTree.ParseError):
                # calamine read what this parser cannot (a part it found by another spelling, XML it
                # tolerates): the sheet simply gets no notes; its empty cells stay 「为空」.
                continue


def _note_sheet(sheet: RawSheet, cells: _XmlCells) -> None:
    # calamine's columns start at the first column holding a value; the header row pins the offset.
    header_columns = cells.valued.get(sheet.header_row)
    first = next((j for j, h in enumerate(sheet.headers) if h is not None), None)
    if not header_columns or first is None:
        return
    offset = min(header_columns) - first
    at = {r: i for i, r in enumerate(sheet.excel_rows)}
    for (row, c), note in cells.flagged.items():
        j = c - offset
        if row <= sheet.header_row or not 0 <= j < len(sheet.columns):
            continue
        i = at.get(row)
        # A row of nothing but such cells looks blank to calamine; it is noted all the same, or the
        # row the clerk sees filled in would silently drop out.
        value = sheet.columns[j][i] if i is not None else None
        if value is None or not value.strip():
            sheet.cell_notes[(row, j)] = note


# -- csv -------------------------------------------------------------------------------------------

CSV_ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")


def detect_encoding(data: bytes) -> str:
    """utf-8-sig when a BOM leads, utf-8 when the bytes decode strictly, else gb18030 (or ReadError).

    GB18030 is tried last because almost any byte string is valid GB18030 but Chinese text in
    GB18030 is essentially never valid UTF-8, so the order decides correctly.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            data.decode("utf-8-sig")
            return "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise ReadError("unreadable_file", "（文件以UTF-8标记开头，但内容不是有效的UTF-8）") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ReadError("unreadable_file", "（文件是UTF-16编码，请另存为UTF-8或GB18030编码的CSV）")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise ReadError("unreadable_file", "（无法识别文件编码，应为UTF-8或GB18030）") from exc


def read_csv_set(files: list[tuple[str, Path]]) -> list[RawSheet]:
    """One sheet per CSV file, titled by the file's stem."""
    total = sum(path.stat().st_size for _, path in files)
    if total > MAX_CSV_BYTES:
        raise ReadError(
            "file_too_large", f"（CSV文件共 {total / 1e6:.1f} MB，上限 {MAX_CSV_BYTES / 1e6:.0f} MB）"
        )
    return [read_csv_bytes(Path(name).stem, path.read_bytes()) for name, path in sorted(files)]


def _csv_reason(title: str, line: int, exc: csv.Error) -> str:
    """The csv module's complaint in the unit's terms (its English text goes to the log)."""
    if "field larger than field limit" in str(exc):
        return (
            f"（「{title}.csv」第{line}行附近有单元格超过{csv.field_size_limit()}个字符，"
            "不是正常的报送内容，请检查后重新报送）"
        )
    return f"（「{title}.csv」第{line}行附近格式错误（如引号不成对），请用Excel另存为CSV后重新报送）"


_OTHER_DELIMITERS = {";": "分号", "\t": "制表符", "|": "竖线"}


def _refuse_other_delimiters(title: str, rows: list[list[str | None]]) -> None:
    """Every template sheet has two or more columns: a CSV read as one column whose header holds a
    semicolon, a tab or a bar was saved with another separator (a European Excel's "CSV", a tab-separated
    export). Say so, instead of listing every column as missing."""
    header = next((r[0] for r in rows if r and r[0]), None)
    for mark, name in _OTHER_DELIMITERS.items():
        if header is not None and mark in header:
            raise ReadError(
                "unreadable_file",
                f"（「{title}.csv」的各列用{name}分隔，而不是逗号："
                "请在Excel中另存为“CSV UTF-8（逗号分隔）”后重新报送）",
            )


def read_csv_bytes(title: str, data: bytes) -> RawSheet:
    encoding = detect_encoding(data)
    text = data.decode(encoding)
    if "\x00" in text:
        raise ReadError("unreadable_file", f"（「{title}.csv」含二进制内容，不是CSV文本）")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows: list[list[str | None]] = []
        for record in reader:
            rows.append([v if v != "" else None for v in record])
            if len(rows) > MAX_ROWS_PER_SHEET + 1:
                raise ReadError("too_many_rows", f"（「{title}.csv」超过 {MAX_ROWS_PER_SHEET} 行）")
    except csv.Error as exc:
        raise ReadError("unreadable_file", _csv_reason(title, reader.line_num, exc), _technical(exc)) from exc
    width = max((len(r) for r in rows), default=0)
    if width > MAX_COLUMNS_PER_SHEET:
        raise ReadError("too_many_rows", f"（「{title}.csv」有 {width} 列，上限 {MAX_COLUMNS_PER_SHEET}）")
    if width == 1:
        _refuse_other_delimiters(title, rows)
    padded = [r + [None] * (width - len(r)) for r in rows]
    cells = [list(column) for column in zip(*padded, strict=True)] if width else []
    return _rows_to_sheet(title, cells, len(padded), None, "csv", encoding)
