"""From raw sheets to template sheets: match titles and headers, normalise every cell.

The template (pipelines/domain/template.py) drives everything: which sheets and columns exist, which
are required, and how each column's cells are normalised. What is tolerated comes back as
warnings, what is missing as errors; nothing here judges cell values (the suites do that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.domain.template import SHEETS, SHEETS_BY_TITLE, Kind, Sheet
from pipelines.ingest.issues import Issue, clip, issue, row_ranges, shown
from pipelines.ingest.normalise import normalise
from pipelines.ingest.read import ERROR_PREFIX, FORMULA, TYPED_KINDS, RawSheet

if TYPE_CHECKING:  # the parse workers never import polars (checks.py says why)
    import polars as pl

ROW = "_row"  # Excel row number column of every parsed frame


@dataclass
class ParsedSheet:
    """A template sheet as found in one delivery, cells normalised to canonical text.

    Plain lists, not a frame: a unit's sheet is tens to hundreds of rows, where building (and
    pickling back to the parent) a polars frame per sheet costs more than the work on its cells;
    the parent makes one frame per template sheet over all deliveries (validate.stack)."""

    name: str  # template sheet name (English)
    title: str  # the Chinese title used in receipts
    fields: tuple[str, ...]  # template fields present in the file
    columns: dict[str, list[Any]]  # `_row` (Excel row numbers) + one list of texts per present field

    @property
    def height(self) -> int:
        return len(self.columns[ROW])

    @property
    def frame(self) -> pl.DataFrame:
        """The sheet as a frame (`_row` Int64, fields Utf8), for tests and inspection."""
        import polars as pl

        schema = {ROW: pl.Int64, **{f: pl.Utf8 for f in self.fields}}
        return pl.DataFrame({k: self.columns[k] for k in schema}, schema=schema)


def _label(text: str | None) -> str:
    """A title or header as the template spells it (full-width folded, stray spaces removed)."""
    value = normalise(Kind.ENUM, text).value
    return value or ""


def _holds_anything(raw: RawSheet) -> bool:
    return bool(raw.headers or raw.excel_rows)


def match_sheets(raw_sheets: list[RawSheet]) -> tuple[dict[str, RawSheet], list[Issue]]:
    """Template sheet name -> the raw sheet holding it; unknown, missing and ambiguous sheets as issues.

    Sheets whose titles differ only by spaces or full-width characters stand for the same template
    sheet. An empty one among them is passed over; two that hold anything make the submission
    ambiguous (which one did the unit mean?), so it is rejected rather than one of them silently
    dropped, whichever comes first in the workbook (or in file-name order, for a CSV set)."""
    candidates: dict[str, list[RawSheet]] = {}
    issues: list[Issue] = []
    for raw in raw_sheets:
        sheet = SHEETS_BY_TITLE.get(_label(raw.title))
        if sheet is None:
            if _holds_anything(raw):  # an empty default "Sheet1" is not worth a warning
                issues.append(issue("extra_sheet", sheet=raw.title))
            continue
        candidates.setdefault(sheet.name, []).append(raw)
    found: dict[str, RawSheet] = {}
    for sheet in SHEETS:
        raws = candidates.get(sheet.name, [])
        filled = [raw for raw in raws if _holds_anything(raw)]
        if len(filled) > 1:
            names = "、".join(f"「{clip(raw.title)}」" for raw in filled)
            issues.append(issue("duplicate_sheet", sheet=sheet.title, detail=f"（{names}）"))
            continue
        chosen = filled[0] if filled else (raws[0] if raws else None)
        if chosen is None:
            if sheet.required:
                issues.append(issue("missing_sheet", sheet=sheet.title))
            continue
        if chosen.title != sheet.title:
            issues.append(issue("header_normalised", sheet=chosen.title, detail=f"「{sheet.title}」"))
        found[sheet.name] = chosen
    return found, issues


def match_columns(sheet: Sheet, raw: RawSheet) -> tuple[dict[str, int], list[Issue]]:
    """Template field -> column index in the raw sheet, plus structural issues."""
    by_header = {c.header: c for c in sheet.columns}
    mapping: dict[str, int] = {}
    issues: list[Issue] = []
    for j, header in enumerate(raw.headers):
        label = _label(header)
        if not label:
            if any(v is not None and v.strip() for v in raw.columns[j]):
                issues.append(
                    issue("extra_column", sheet=sheet.title, row=raw.header_row, header="（空列名）")
                )
            continue
        column = by_header.get(label)
        if column is None:
            issues.append(issue("extra_column", sheet=sheet.title, row=raw.header_row, header=header))
            continue
        if column.field in mapping:
            issues.append(
                issue("duplicate_column", sheet=sheet.title, row=raw.header_row, header=column.header)
            )
            continue
        if header != column.header:
            issues.append(
                issue(
                    "header_normalised",
                    sheet=sheet.title,
                    row=raw.header_row,
                    header=header,
                    detail=f"「{column.header}」",
                )
            )
        mapping[column.field] = j
    for column in sheet.columns:
        if column.required and column.field not in mapping:
            issues.append(issue("missing_column", sheet=sheet.title, header=column.header))
    order = [c.field for c in sheet.columns if c.field in mapping]
    if [f for f, _ in sorted(mapping.items(), key=lambda kv: kv[1])] != order:
        issues.append(issue("column_order", sheet=sheet.title, row=raw.header_row))
    return mapping, issues


def parse_sheet(sheet: Sheet, raw: RawSheet) -> tuple[ParsedSheet, list[Issue]]:
    """Normalise every mapped column; each changed cell gets one warning per kind of change."""
    mapping, issues = match_columns(sheet, raw)
    if raw.blank_rows:
        issues.append(
            issue(
                "blank_rows_ignored",
                sheet=sheet.title,
                row=raw.blank_rows[0],
                detail=f"（共{len(raw.blank_rows)}行：第{row_ranges(raw.blank_rows)}行）",
            )
        )
    issues.extend(_noted_cells(sheet, raw, mapping))
    source = "csv" if raw.source == "csv" else "xlsx"
    rows = raw.excel_rows
    data: dict[str, list[object]] = {ROW: list(rows)}
    for field, j in mapping.items():
        column = sheet.column(field)
        values = raw.columns[j]
        # A cell is its text, paired with its stored type only where normalisation looks at it.
        stored = raw.numeric[j] if raw.numeric is not None and column.kind in TYPED_KINDS else None
        paired = stored is not None
        cells: list[Any] = values if stored is None else list(zip(values, stored, strict=True))
        # Normalise each distinct spelling once; a column repeats a few hundred spellings.
        results = {c: normalise(column.kind, *_spelling(c, paired), source) for c in dict.fromkeys(cells)}
        data[field] = [results[cell].value for cell in cells]
        noisy = {cell for cell, result in results.items() if result.warnings}
        if not noisy:
            continue
        for i, cell in enumerate(cells):
            if cell in noisy:
                result = results[cell]
                for kind in result.warnings:
                    issues.append(
                        issue(
                            kind,
                            sheet=sheet.title,
                            row=rows[i],
                            header=column.header,
                            value=shown(sheet.name, field, _spelling(cell, paired)[0]),
                            detail=shown(sheet.name, field, result.value) or "",
                        )
                    )
    fields = tuple(c.field for c in sheet.columns if c.field in mapping)
    return ParsedSheet(sheet.name, sheet.title, fields, {k: data[k] for k in (ROW, *fields)}), issues


def _spelling(cell: Any, paired: bool) -> tuple[str | None, bool]:
    """(text, stored as a number) of a cell kept as text alone or as that pair."""
    return cell if paired else (cell, False)


def _noted_cells(sheet: Sheet, raw: RawSheet, mapping: dict[str, int]) -> list[Issue]:
    """Template cells read as empty that hold a formula without its saved result or an Excel error."""
    if not raw.cell_notes:
        return []
    header_of = {j: sheet.column(f).header for f, j in mapping.items()}
    out = []
    for (row, j), note in sorted(raw.cell_notes.items()):
        header = header_of.get(j)
        if header is None:
            continue
        if note == FORMULA:
            out.append(issue("formula_without_value", sheet=sheet.title, row=row, header=header))
        elif note.startswith(ERROR_PREFIX):
            value = note.removeprefix(ERROR_PREFIX)
            out.append(issue("error_value", sheet=sheet.title, row=row, header=header, value=value))
    return out


def parse_sheets(raw_sheets: list[RawSheet]) -> tuple[dict[str, ParsedSheet], list[Issue]]:
    found, issues = match_sheets(raw_sheets)
    parsed: dict[str, ParsedSheet] = {}
    for sheet in SHEETS:
        raw = found.get(sheet.name)
        if raw is None:
            continue
        parsed[sheet.name], sheet_issues = parse_sheet(sheet, raw)
        issues.extend(sheet_issues)
    return parsed, issues
