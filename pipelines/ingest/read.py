"""Read a delivery into per-sheet string columns that remember the Excel row of every value.

Workbooks are read with calamine (fastexcel) as text, exactly as a clerk sees the cells; a second
pass over the same sheet asks calamine which cells are stored as numbers, so a number typed as
text can be reported (calamine renders both as the same string). CSV files are decoded with the
detected encoding (UTF-8 with or without BOM, else GB18030) and read with the csv module.

The header is the first non-blank row; the row numbers reported are Excel's (1-based, counting the
blank rows above the header), which for CSV is the record number.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.ingest.safety import MAX_COLUMNS_PER_SHEET, MAX_CSV_BYTES, MAX_ROWS_PER_SHEET


class ReadError(Exception):
    """The delivery cannot be read; `kind` is an issue kind, `detail` Chinese text for the receipt."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


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


def _rows_to_sheet(
    title: str,
    strings: pl.DataFrame,
    numeric: pl.DataFrame | None,
    source: str,
    encoding: str | None = None,
) -> RawSheet:
    """Split a sheet (row i = Excel row i + 1, all Utf8) into header and data, skipping blank rows.

    Column-wise and vectorised: a city quarter is a million cells, a Python loop per row is seconds.
    """
    width = strings.width
    if width > MAX_COLUMNS_PER_SHEET:
        raise ReadError("too_many_rows", f"（工作表「{title}」有 {width} 列，上限 {MAX_COLUMNS_PER_SHEET}）")
    empty = RawSheet(title, 1, [], [], [], [] if numeric is not None else None, [], source, encoding)
    if width == 0 or strings.height == 0:
        return empty
    filled = strings.select(
        pl.any_horizontal([pl.col(c).str.strip_chars().fill_null("") != "" for c in strings.columns]).alias(
            "f"
        )
    ).get_column("f")
    used = filled.arg_true().to_list()
    if not used:
        return empty
    header_at = used[0]
    data_at = used[1:]
    # calamine already drops a workbook's trailing formatted-but-empty rows; a CSV keeps them.
    blank_rows = [i + 1 for i in (~filled).arg_true().to_list() if i > header_at]
    headers = strings.row(header_at)
    picked = strings[data_at] if data_at else strings.clear()
    columns = [picked.get_column(c).to_list() for c in strings.columns]
    flags = None
    if numeric is not None:
        chosen = (numeric[data_at] if data_at else numeric.clear()).select(pl.all().is_not_null())
        flags = [chosen.get_column(c).to_list() for c in chosen.columns]
    return RawSheet(
        title,
        header_at + 1,
        list(headers),
        columns,
        [i + 1 for i in data_at],
        flags,
        blank_rows,
        source,
        encoding,
    )


# -- xlsx ------------------------------------------------------------------------------------------


def read_xlsx(path: Path) -> list[RawSheet]:
    """Every sheet of a workbook that passed the safety checks (safety.check_xlsx)."""
    try:
        reader = fastexcel.read_excel(path)
        names = list(reader.sheet_names)
    except Exception as exc:  # calamine raises its own exception types for every malformed part
        raise ReadError("unreadable_file", f"（无法作为Excel工作簿打开：{_short(exc)}）") from exc
    return [_read_sheet(reader, name) for name in names]


def _read_sheet(reader: fastexcel.ExcelReader, name: str) -> RawSheet:
    limit = MAX_ROWS_PER_SHEET + 2  # header, and one more to know the cap was exceeded
    try:
        # skip_rows=0 keeps blank rows above the header, so index i is Excel row i + 1.
        text = reader.load_sheet(name, header_row=None, skip_rows=0, n_rows=limit, dtypes="string")
        if text.total_height > MAX_ROWS_PER_SHEET + 1:
            raise ReadError("too_many_rows", f"（工作表「{name}」超过 {MAX_ROWS_PER_SHEET} 行）")
        strings = text.to_polars()
        # Numbers and booleans load as non-null booleans, text and dates as null: the only way
        # calamine tells us a cell's stored type. (A datetime pass would panic on huge numbers.)
        flags = reader.load_sheet(name, header_row=None, skip_rows=0, n_rows=limit, dtypes="boolean")
        numeric_frame = flags.to_polars()
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError("unreadable_file", f"（工作表「{name}」无法读取：{_short(exc)}）") from exc
    if numeric_frame.shape != strings.shape:  # never seen; without type information all is text
        numeric_frame = strings.select(pl.lit(None, dtype=pl.Boolean).alias(c) for c in strings.columns)
    return _rows_to_sheet(name, strings, numeric_frame, "xlsx")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


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


def read_csv_bytes(title: str, data: bytes) -> RawSheet:
    encoding = detect_encoding(data)
    text = data.decode(encoding)
    if "\x00" in text:
        raise ReadError("unreadable_file", f"（「{title}.csv」含二进制内容，不是CSV文本）")
    try:
        rows: list[list[str | None]] = []
        for record in csv.reader(io.StringIO(text, newline="")):
            rows.append([v if v != "" else None for v in record])
            if len(rows) > MAX_ROWS_PER_SHEET + 1:
                raise ReadError("too_many_rows", f"（「{title}.csv」超过 {MAX_ROWS_PER_SHEET} 行）")
    except csv.Error as exc:
        raise ReadError("unreadable_file", f"（「{title}.csv」格式错误：{exc}）") from exc
    width = max((len(r) for r in rows), default=0)
    if width > MAX_COLUMNS_PER_SHEET:
        raise ReadError("too_many_rows", f"（「{title}.csv」有 {width} 列，上限 {MAX_COLUMNS_PER_SHEET}）")
    names = [f"c{j}" for j in range(width)]
    padded = [r + [None] * (width - len(r)) for r in rows]
    strings = pl.DataFrame(padded, schema={n: pl.Utf8 for n in names}, orient="row")
    return _rows_to_sheet(title, strings, None, "csv", encoding)
