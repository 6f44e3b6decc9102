"""Workbooks of table sheets written without xlsxwriter's per-cell machinery, from an xlsxwriter template.

A unit's workbook always has the same sheets, print setup and formats; only its cells, column widths and
title differ. xlsxwriter spends ~5 ms of CPU per unit workbook in per-cell Python (argument decoding, A1
conversion, type dispatch, cell tuples, then XML escaping of every attribute at close). Here the fixed
parts — content types, relationships, workbook.xml with the sheets and their print titles, styles.xml,
the theme, app.xml, and each sheet's XML around its data (sheet properties, frozen pane, margins, page
setup, footer) — are taken from a workbook that xlsxwriter itself writes once per process through
`sheets.table_sheet`, for the same sheet shapes. Each workbook then only needs its sheet data, column
widths, shared strings and core properties, built as text, and the same deflated zip members in the same
order.

The style of each format is read from the template's own cells (one probe cell per format), so the cell
formats are xlsxwriter's own, byte for byte in styles.xml. Cell values follow `sheets._write` exactly:
missing values are blank styled cells, booleans are 是/否, numbers are numbers (`%.16G`, as xlsxwriter
writes them), dates and datetimes are Excel serial numbers (datetimes in the rules' time zone), and any
other value is neutralised text. Text is cleaned as xlsxwriter cleans it (cut to Excel's 32,767 UTF-16
units; control characters as OOXML `_xHHHH_` escapes, a literal `_xHHHH_` escaped in turn), lone
surrogates (on which xlsxwriter fails) and the noncharacters U+FFFE/U+FFFF become U+FFFD. Unlike
xlsxwriter, a text that looks like rich-text XML (`<r>…</r>`) is escaped like any other text, never
copied into the file raw, and touching escapes (`_x0041_x0042_`) are escaped so that they read back as
written.
tests/deliverables/test_fastbook.py compares the two writers cell by cell.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile
from zoneinfo import ZoneInfo

from xlsxwriter.utility import xl_col_to_name

from pipelines.deliverables.cells import display_width, is_missing, neutralise
from pipelines.deliverables.sheets import (
    DEFAULT_TIMEZONE,
    FORMATS,
    MAX_WIDTH,
    SAMPLE_WIDTH,
    TITLE_ROWS,
    Styles,
    Table,
    local_time,
    new_workbook,
    table_sheet,
)

TITLE_MARK = "@@TITLE@@"  # the template's document title, replaced by each workbook's
DATE_MARK = "@@CREATED@@"
PROBE_ROW = 1000  # the template's first sheet holds one probe cell per format from this row down
HEADER_HEIGHT = 30  # table_sheet's header row height
# Column widths as xlsxwriter stores them: characters → pixels (Calibri 11: 7 px a digit, 5 px padding)
# → characters again in 1/256 steps. A column of the default 64 px is not marked custom.
DIGIT_PX, PADDING_PX, DEFAULT_COL_PX = 7, 5, 64
EXCEL_EPOCH = datetime(1899, 12, 31)
XLS_STRMAX = 32767  # Excel's longest cell text, in UTF-16 units

# An underscore that a reader would take for the start of an `_xHHHH_` escape: followed by xHHHH and then
# by an underscore or by a character that is itself written as an escape (which starts with one).
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9a-fA-F]{4}[_\x00-\x08\x0b-\x1f])")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_WORK = re.compile(r"[\x00-\x08\x0b-\x1f&<>]|_x[0-9a-fA-F]{4}")
_LEADING_SPACE = re.compile(r"^\s")
_TRAILING_SPACE = re.compile(r"\s$")
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass(frozen=True)
class Shape:
    """What a sheet's fixed XML depends on."""

    name: str
    landscape: bool
    freeze_columns: int


@dataclass(frozen=True)
class SheetParts:
    head: str  # up to <dimension>
    views: str  # from after <dimension> to <sheetData> (views, sheet format; no <cols>)
    tail: str  # after </sheetData> (print options, margins, page setup, footer)


@dataclass(frozen=True)
class StyleIds:
    title: int
    subtitle: int
    header: int
    note: int
    cells: dict[str, int]
    marked: dict[str, int]


@dataclass(frozen=True)
class Template:
    members: tuple[str, ...]  # zip member names in xlsxwriter's order
    fixed: dict[str, Deflated]  # members that are the same in every workbook of these shapes, compressed
    sheets: tuple[SheetParts, ...]
    core: str  # docProps/core.xml with TITLE_MARK and DATE_MARK
    sst_head: str  # the XML declaration before <sst>
    styles: StyleIds


def write_tables(
    path: Path, doc_title: str, tables: Sequence[Table], timezone: str = DEFAULT_TIMEZONE
) -> Path:
    """`tables` as one workbook at `path`, as `sheets.write_tables_xlsxwriter` would write it."""
    template = shape_template(tuple(Shape(t.name, t.landscape, t.freeze_columns) for t in tables))
    tz = ZoneInfo(timezone)
    strings = SharedStrings()
    sheet_xml = [
        sheet_document(parts, table, template.styles, tz, strings)
        for parts, table in zip(template.sheets, tables, strict=True)
    ]
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = template.core.replace(TITLE_MARK, escape_text(clean_text(doc_title))[0]).replace(
        DATE_MARK, created
    )
    members = []
    for name in template.members:
        if name.startswith("xl/worksheets/sheet"):
            member = deflated(sheet_xml[int(name[len("xl/worksheets/sheet") : -len(".xml")]) - 1].encode())
        elif name == "xl/sharedStrings.xml":
            member = deflated(strings.document(template.sst_head).encode())
        elif name == "docProps/core.xml":
            member = deflated(core.encode())
        else:
            member = template.fixed[name]
        members.append((name, member))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(members))
    return path


Deflated = tuple[bytes, int, int]  # compressed data, CRC-32, uncompressed size


def deflated(data: bytes) -> Deflated:
    """`data` compressed as zipfile compresses a ZIP_DEFLATED member (zlib's default level)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_DOS_TIME, _DOS_DATE = 0, 1 << 5 | 1  # 1980-01-01 00:00:00, xlsxwriter's stamp on every member
# version 2.0 needed, no flags, deflate; the central entry also says "made by 2.0 on Unix (3)"
_LOCAL_FIXED = (b"PK\x03\x04", 20, 0, 0, ZIP_DEFLATED, _DOS_TIME, _DOS_DATE)
_CENTRAL_FIXED = (b"PK\x01\x02", 20, 3, 20, 0, 0, ZIP_DEFLATED, _DOS_TIME, _DOS_DATE)
_MODE = 0o600 << 16  # rw-------, as zipfile.writestr sets it
ZIP64_FROM = int((1 << 31) / 1.05)  # zipfile would switch to ZIP64 headers above this size


def zip_bytes(members: Sequence[tuple[str, Deflated]]) -> bytes:
    """A zip of already deflated members, byte for byte what zipfile.ZipFile writes for
    `writestr(ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)` with ZIP_DEFLATED, as xlsxwriter writes its
    members. zipfile cannot take data compressed beforehand, and compressing the seven fixed members
    again for every workbook cost a seventh of its time."""
    body: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for name, (data, crc, size) in members:
        if size > ZIP64_FROM:
            raise ValueError(f"{name} is too large for a zip without ZIP64 ({size} bytes)")
        raw = name.encode("ascii")
        sizes = (crc, len(data), size, len(raw))
        header = _LOCAL_HEADER.pack(*_LOCAL_FIXED, *sizes, 0)
        directory.append(_CENTRAL_HEADER.pack(*_CENTRAL_FIXED, *sizes, 0, 0, 0, 0, _MODE, offset) + raw)
        body += (header, raw, data)
        offset += len(header) + len(raw) + len(data)
    listing = b"".join(directory)
    end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(listing), offset, 0)
    return b"".join(body) + listing + end


@lru_cache(maxsize=8)  # a unit workbook has one of two shapes (with or without 复核决定)
def shape_template(shapes: tuple[Shape, ...]) -> Template:
    """The fixed parts of a workbook of `shapes`, from a workbook xlsxwriter writes through table_sheet."""
    buffer = BytesIO()
    book = new_workbook(buffer, TITLE_MARK)
    styles = Styles(book)
    probes = [styles.title, styles.subtitle, styles.header, styles.note]
    probes += [styles.cells[k] for k in FORMATS] + [styles.marked[k] for k in FORMATS]
    for k, shape in enumerate(shapes):
        # a title, so the template has shared strings (every real workbook has)
        sheet = table_sheet(
            book,
            styles,
            shape.name,
            "T",
            "",
            (),
            (),
            landscape=shape.landscape,
            freeze_columns=shape.freeze_columns,
        )
        if k == 0:
            for i, fmt in enumerate(probes):
                sheet.write_blank(PROBE_ROW + i, 0, None, fmt)
    book.close()
    with ZipFile(BytesIO(buffer.getvalue())) as archive:
        members = tuple(archive.namelist())
        parts = {name: archive.read(name) for name in members}
    first = parts["xl/worksheets/sheet1.xml"].decode()
    ids = [_probe_style(first, PROBE_ROW + i) for i in range(len(probes))]
    n = len(FORMATS)
    styles_ids = StyleIds(
        *ids[:4],
        cells=dict(zip(FORMATS, ids[4 : 4 + n], strict=True)),
        marked=dict(zip(FORMATS, ids[4 + n :], strict=True)),
    )
    sheets = tuple(
        _split_sheet(parts[f"xl/worksheets/sheet{k + 1}.xml"].decode()) for k in range(len(shapes))
    )
    core = _DATE.sub(DATE_MARK, parts["docProps/core.xml"].decode())
    sst = parts["xl/sharedStrings.xml"].decode()
    if TITLE_MARK not in core or DATE_MARK not in core:
        raise RuntimeError("xlsxwriter's core.xml has no title or date where fastbook expects them")
    variable = {"docProps/core.xml", "xl/sharedStrings.xml"} | {
        f"xl/worksheets/sheet{k + 1}.xml" for k in range(len(shapes))
    }
    fixed = {name: deflated(data) for name, data in parts.items() if name not in variable}
    return Template(members, fixed, sheets, core, sst[: sst.index("<sst")], styles_ids)


def _probe_style(sheet: str, row: int) -> int:
    found = re.search(rf'<c r="A{row + 1}" s="(\d+)"', sheet)
    if found is None:
        raise RuntimeError(f"xlsxwriter's template has no styled probe cell in row {row + 1}")
    return int(found.group(1))


def _split_sheet(xml: str) -> SheetParts:
    dimension = re.search(r'<dimension ref="[^"]*"/>', xml)
    data = re.search(r"<sheetData>.*</sheetData>|<sheetData/>", xml, re.S)
    if dimension is None or data is None or "<cols>" in xml:
        raise RuntimeError("xlsxwriter's sheet XML is not laid out as fastbook expects")
    return SheetParts(xml[: dimension.start()], xml[dimension.end() : data.start()], xml[data.end() :])


class SharedStrings:
    """The workbook's string table: each distinct text once, cells refer to it by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.texts: list[str] = []
        self.count = 0

    def ref(self, text: str) -> int:
        self.count += 1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.texts)
            self.texts.append(clean_text(text))
        return found

    def document(self, head: str) -> str:
        parts = [
            f'{head}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{self.count}" uniqueCount="{len(self.texts)}">'
        ]
        for text in self.texts:
            escaped, preserve = escape_text(text)
            parts.append(
                f'<si><t xml:space="preserve">{escaped}</t></si>'
                if preserve
                else f"<si><t>{escaped}</t></si>"
            )
        parts.append("</sst>")
        return "".join(parts)


def clean_text(text: str) -> str:
    """`text` as a cell can hold it: surrogate pairs joined, lone surrogates as U+FFFD (UTF-8 cannot
    carry them), the noncharacters U+FFFE and U+FFFF as U+FFFD (XML cannot carry them either; xlsxwriter
    writes them as `_xFFFE_` escapes, which calamine does not decode), cut to Excel's 32,767 UTF-16
    units without splitting a character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if "\ufffe" in text or "\uffff" in text:
        text = text.replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd")
    if len(text) > XLS_STRMAX // 2:
        units = 0
        for i, ch in enumerate(text):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > XLS_STRMAX:
                return text[:i]
    return text


def escape_text(text: str) -> tuple[str, bool]:
    """`text` as XML character data with OOXML's `_xHHHH_` escapes, and whether its edges are spaces
    (xml:space="preserve"), as xlsxwriter writes a shared string. An underscore that would read as the
    start of an escape is escaped as `_x005F_`; xlsxwriter escapes only whole `_xHHHH_` texts, one at a
    time, so `_x0041_x0042_` or `_x0041` before a control character came back changed."""
    if _NEEDS_WORK.search(text):
        text = _ESCAPE_LIKE.sub("_x005F_", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    preserve = bool(_LEADING_SPACE.search(text) or _TRAILING_SPACE.search(text))
    return text, preserve


def excel_serial(value: datetime) -> float:
    """A naive datetime as Excel's 1900-system serial number (xlsxwriter's arithmetic, including the day
    Excel counts for 29 February 1900)."""
    delta = value - EXCEL_EPOCH
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
    return serial + 1 if serial > 59 else serial


def number_text(value: float) -> str:
    if math.isinf(value):
        raise TypeError("NAN/INF not supported in write_number()")  # as xlsxwriter refuses it
    return f"{value:.16G}"


@lru_cache(maxsize=64)
def column_letter(col: int) -> str:
    return xl_col_to_name(col)


def cols_xml(widths: Sequence[int]) -> str:
    """<cols> for the widths table_sheet sets (characters), adjacent equal columns as one range."""
    if not widths:
        return ""
    out = ["<cols>"]
    for first, last, width in _runs([min(MAX_WIDTH, w + 2) for w in widths]):
        pixels = (
            int(width * DIGIT_PX + 0.5) + PADDING_PX
            if width >= 1
            else int(width * (DIGIT_PX + PADDING_PX) + 0.5)
        )
        chars = (pixels * 256 // DIGIT_PX) / 256.0
        custom = ' customWidth="1"' if pixels != DEFAULT_COL_PX else ""
        out.append(f'<col min="{first + 1}" max="{last + 1}" width="{chars:.16g}"{custom}/>')
    out.append("</cols>")
    return "".join(out)


def _runs(values: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    start = 0
    for j in range(1, len(values) + 1):
        if j == len(values) or values[j] != values[start]:
            yield start, j - 1, values[start]
            start = j


def _string_cell(ref: str, style: int, index: int) -> str:
    return f'<c r="{ref}" s="{style}" t="s"><v>{index}</v></c>'


def _other_cell(at: str, style: int, value: Any, tz: ZoneInfo, ref: Callable[[str], int]) -> str:
    """The cell of a value that is not missing, in sheets._write's order of checks."""
    if isinstance(value, bool):
        return _string_cell(at, style, ref("是" if value else "否"))
    if isinstance(value, int | float):
        return f'<c r="{at}" s="{style}"><v>{number_text(value)}</v></c>'
    if isinstance(value, datetime | date):
        moment = (
            local_time(value, tz)
            if isinstance(value, datetime)
            else datetime(value.year, value.month, value.day)
        )
        return f'<c r="{at}" s="{style}"><v>{number_text(excel_serial(moment))}</v></c>'
    return _string_cell(at, style, ref(str(neutralise(str(value)))))


def sheet_document(
    parts: SheetParts, table: Table, ids: StyleIds, tz: ZoneInfo, strings: SharedStrings
) -> str:
    """One sheet's XML: what table_sheet writes for `table`, inside the template's fixed parts."""
    columns = table.columns
    ncols = len(columns)
    letters = [column_letter(j) for j in range(ncols)]
    kinds = [c.kind for c in columns]
    getters = [c.value for c in columns]
    plain = [ids.cells[k] for k in kinds]
    shaded = [ids.marked[k] for k in kinds]
    widths = [max(4, display_width(c.header)) for c in columns]
    ref = strings.ref
    rows_xml = [
        f'<row r="1">{_string_cell("A1", ids.title, ref(str(neutralise(table.title))))}</row>',
        f'<row r="2">{_string_cell("A2", ids.subtitle, ref(str(neutralise(table.subtitle))))}</row>',
    ]
    header = str(TITLE_ROWS + 1)
    header_cells = "".join(
        _string_cell(letters[j] + header, ids.header, ref(c.header)) for j, c in enumerate(columns)
    )
    rows_xml.append(f'<row r="{header}" ht="{HEADER_HEIGHT}" customHeight="1">{header_cells}</row>')
    marked = table.marked
    samples = [SAMPLE_WIDTH.get(k) for k in kinds]
    keys = [c.key if isinstance(c.key, str) else None for c in columns]
    for k, row in enumerate(table.rows):
        r = str(TITLE_ROWS + 2 + k)
        styles = shaded if marked is not None and marked(row) else plain
        cells = []
        for j in range(ncols):
            key = keys[j]
            value = row.get(key) if key is not None else getters[j](row)
            at = letters[j] + r
            cls = value.__class__
            # the common classes first, by identity; anything else takes _write's own isinstance chain
            if cls is str:
                cells.append(f'<c r="{at}" s="{styles[j]}" t="s"><v>{ref(neutralise(value))}</v></c>')
            elif value is None or (cls is float and value != value):
                cells.append(f'<c r="{at}" s="{styles[j]}"/>')
                continue
            elif cls is float or cls is int:
                cells.append(f'<c r="{at}" s="{styles[j]}"><v>{number_text(value)}</v></c>')
            elif is_missing(value):
                cells.append(f'<c r="{at}" s="{styles[j]}"/>')
                continue
            else:
                cells.append(_other_cell(at, styles[j], value, tz, ref))
            width = samples[j]
            if width is None:
                width = display_width(str(value))
            if width > widths[j]:
                widths[j] = width
        rows_xml.append(f'<row r="{r}">{"".join(cells)}</row>')
    last_row = TITLE_ROWS + len(table.rows)  # 0-based: the header row, then the rows
    below = TITLE_ROWS + 1 + len(table.rows) + 1
    for k, note in enumerate(table.notes):
        r = str(below + k + 1)
        rows_xml.append(f'<row r="{r}">{_string_cell("A" + r, ids.note, ref(str(neutralise(note))))}</row>')
        last_row = below + k
    last_col = max(ncols - 1, 0)
    dimension = "A1" if last_row == 0 and last_col == 0 else f"A1:{column_letter(last_col)}{last_row + 1}"
    return "".join(
        (
            parts.head,
            f'<dimension ref="{dimension}"/>',
            parts.views,
            cols_xml(widths),
            "<sheetData>",
            *rows_xml,
            "</sheetData>",
            parts.tail,
        )
    )
