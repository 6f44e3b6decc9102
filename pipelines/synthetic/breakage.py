"""Deliberate defects in a unit's first (later corrected) submission, each one ingestion must reject.

A content breakage edits a deep copy of the canonical workbook (and may omit a sheet or column via a
`Layout`); a file breakage mutates the written xlsx bytes. Each returns a `Defect` saying where the
defect is, so tests and ground truth can check the receipt points at the right cell.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.domain.template import DIMENSIONS, SHEETS_BY_NAME
from pipelines.synthetic.noise import Defect
from pipelines.synthetic.workbook import UnitWorkbook
from pipelines.synthetic.writer import FULL_LAYOUT, Layout


@dataclass(frozen=True)
class Broken:
    wb: UnitWorkbook
    layout: Layout
    defect: Defect


ContentFn = Callable[[UnitWorkbook, np.random.Generator], Broken]
FileFn = Callable[[Path, np.random.Generator], Defect]


@dataclass(frozen=True)
class Breakage:
    key: str
    zh: str
    en: str
    error_kind: str  # the validation error kind ingestion is expected to report
    content: ContentFn | None = None
    file: FileFn | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        return ("xlsx", "csv") if self.content is not None else ("xlsx",)


def _defect(
    key: str, sheet: str, field: str | None = None, index: int | None = None, value: Any = None
) -> Defect:
    s = SHEETS_BY_NAME[sheet]
    return Defect(
        breakage=key,
        error_kind=BREAKAGES[key].error_kind,
        sheet=s.title,
        header=s.column(field).header if field else None,
        excel_row=None if index is None else index + 2,
        value=value,
    )


def _rows(wb: UnitWorkbook, sheet: str, key: str) -> list[dict]:
    rows = wb.sheets.get(sheet) or []
    if not rows:
        raise ValueError(f"breakage {key!r} needs rows in sheet {sheet!r}")
    return rows


def _pick(rng: np.random.Generator, n: int) -> int:
    return int(rng.integers(n))


# -- content breakages --------------------------------------------------------------------------------


def _invalid_national_id(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    rows = _rows(wb, "roster", "invalid_national_id")
    i = _pick(rng, len(rows))
    old = str(rows[i]["national_id"])
    # Any single changed digit among the first 17 breaks MOD 11-2 (every weight is a unit mod 11);
    # touching the sequence digits keeps region and birth date plausible.
    pos = 14 + _pick(rng, 3)
    digit = (int(old[pos]) + 1 + _pick(rng, 9)) % 10
    new = old[:pos] + str(digit) + old[pos + 1 :]
    rows[i]["national_id"] = new
    return Broken(wb, FULL_LAYOUT, _defect("invalid_national_id", "roster", "national_id", i, new))


_SECTION_NAMES = ("综合科", "办公室", "法规科", "财务科", "信息中心", "督查科", "机要科", "后勤服务中心")


def _unknown_section(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    rows = _rows(wb, "roster", "unknown_section")
    known = {r.get("section") for r in wb.sheets.get("sections") or []}
    candidates = [s for s in _SECTION_NAMES if s not in known]
    i = _pick(rng, len(rows))
    new = candidates[_pick(rng, len(candidates))] if candidates else f"{rows[i]['section']}（临时）"
    rows[i]["section"] = new
    return Broken(wb, FULL_LAYOUT, _defect("unknown_section", "roster", "section", i, new))


def _unused_person_code(wb: UnitWorkbook) -> str:
    codes = {r.get("person_code") for r in wb.sheets.get("roster") or []}
    sample = next((c for c in sorted(c for c in codes if isinstance(c, str))), "P001")
    m = re.match(r"^(\D*)(\d+)$", sample)
    prefix, width = (m.group(1), len(m.group(2))) if m else ("P", 3)
    n = 900
    while f"{prefix}{n:0{width}d}" in codes:
        n += 1
    return f"{prefix}{n:0{width}d}"


def _unknown_person_ref(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    targets = [
        ("tasks", "lead_code", i) for i, r in enumerate(wb.sheets.get("tasks") or []) if r.get("lead_code")
    ]
    targets += [("ratings", "ratee_code", i) for i in range(len(wb.sheets.get("ratings") or []))]
    if not targets:
        raise ValueError("breakage 'unknown_person_ref' needs a task lead or a rating")
    sheet, field, i = targets[_pick(rng, len(targets))]
    new = _unused_person_code(wb)
    wb.sheets[sheet][i][field] = new
    return Broken(wb, FULL_LAYOUT, _defect("unknown_person_ref", sheet, field, i, new))


def _duplicate_rating(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    rows = _rows(wb, "ratings", "duplicate_rating")
    i = _pick(rng, len(rows))
    dup = dict(rows[i])
    # A clerk pasting a rater's line twice often retypes a score, so the copy need not be identical.
    if rng.random() < 0.5:
        dim = DIMENSIONS[_pick(rng, len(DIMENSIONS))]
        if isinstance(dup.get(dim), int | float):
            dup[dim] = float(min(100.0, max(0.0, dup[dim] + rng.choice([-2.0, -1.0, 1.0, 2.0]))))
    at = i + 1 + _pick(rng, len(rows) - i)
    rows.insert(at, dup)
    key = f"{dup['ratee_code']}/{dup['rater_tier']}/{dup['rater_code']}"
    return Broken(wb, FULL_LAYOUT, _defect("duplicate_rating", "ratings", "ratee_code", at, key))


def _score_out_of_range(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    rows = _rows(wb, "ratings", "score_out_of_range")
    i, dim = _pick(rng, len(rows)), DIMENSIONS[_pick(rng, len(DIMENSIONS))]
    new = float(rng.choice([101.0, 105.0, 110.0, 120.0, 850.0, -1.0, -3.0, -5.0]))
    rows[i][dim] = new
    return Broken(wb, FULL_LAYOUT, _defect("score_out_of_range", "ratings", dim, i, new))


_DROPPABLE = (
    ("roster", "national_id"),
    ("roster", "participates"),
    ("ratings", "rater_tier"),
    ("ratings", "score_effect"),
    ("tasks", "intensity"),
)


def _missing_column(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    sheet, field = _DROPPABLE[_pick(rng, len(_DROPPABLE))]
    layout = Layout(omit_columns=frozenset({(sheet, field)}))
    return Broken(wb, layout, _defect("missing_column", sheet, field))


def _missing_sheet(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    return Broken(wb, Layout(omit_sheets=frozenset({"ratings"})), _defect("missing_sheet", "ratings"))


def _wrong_type(wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    rows = _rows(wb, "ratings", "wrong_type")
    i, dim = _pick(rng, len(rows)), DIMENSIONS[_pick(rng, len(DIMENSIONS))]
    new = str(rng.choice(["优", "良", "合格", "满分", "九十"]))
    rows[i][dim] = new
    return Broken(wb, FULL_LAYOUT, _defect("wrong_type", "ratings", dim, i, new))


# -- file breakages -----------------------------------------------------------------------------------


def _truncated_file(path: Path, rng: np.random.Generator) -> Defect:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Defect(
        "truncated_file",
        BREAKAGES["truncated_file"].error_kind,
        note=f"{len(data)} -> {len(data) // 2} bytes",
    )


def _docx_bytes() -> bytes:
    # A Word document is a valid zip with the wrong parts: the case a naive zip check lets through.
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    parts = {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ct}">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>',
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body>'
        "<w:p><w:r><w:t>平时考核情况说明</w:t></w:r></w:p></w:body></w:document>",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


_NOT_WORKBOOKS: dict[str, Callable[[], bytes]] = {
    "docx": _docx_bytes,
    "pdf": lambda: (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    ),
    "text": lambda: "平时考核数据见附件，如有问题请联系。\r\n".encode("gb18030"),
    "html": lambda: (
        "<html><body><table><tr><td>人员编号</td><td>姓名</td></tr></table></body></html>".encode()
    ),
}


def _not_a_workbook(path: Path, rng: np.random.Generator) -> Defect:
    variant = sorted(_NOT_WORKBOOKS)[_pick(rng, len(_NOT_WORKBOOKS))]
    path.write_bytes(_NOT_WORKBOOKS[variant]())
    return Defect("not_a_workbook", BREAKAGES["not_a_workbook"].error_kind, note=variant)


BREAKAGES: dict[str, Breakage] = {
    b.key: b
    for b in (
        Breakage(
            "invalid_national_id",
            "身份证号校验位错误",
            "a national ID fails its check digit",
            "invalid_national_id",
            content=_invalid_national_id,
        ),
        Breakage(
            "unknown_section",
            "人员所在科室不在科室表中",
            "a roster row names a section not in 科室",
            "unknown_section",
            content=_unknown_section,
        ),
        Breakage(
            "unknown_person_ref",
            "主办人或被评议人编号不在人员名册中",
            "a task lead or a rating ratee code is not in the roster",
            "unknown_person",
            content=_unknown_person_ref,
        ),
        Breakage(
            "duplicate_rating",
            "同一被评议人、评议主体、评议人重复打分",
            "the same (ratee, rater, tier) rating appears twice",
            "duplicate_key",
            content=_duplicate_rating,
        ),
        Breakage(
            "score_out_of_range",
            "评议得分超出0-100范围",
            "a dimension score outside 0-100",
            "out_of_range",
            content=_score_out_of_range,
        ),
        Breakage(
            "missing_column",
            "缺少必填列",
            "a required column is missing",
            "missing_column",
            content=_missing_column,
        ),
        Breakage(
            "missing_sheet",
            "缺少评议打分表",
            "the 评议打分 sheet is missing",
            "missing_sheet",
            content=_missing_sheet,
        ),
        Breakage(
            "wrong_type",
            "数值单元格填写了文字",
            "text such as 优 in a numeric score cell",
            "wrong_type",
            content=_wrong_type,
        ),
        Breakage(
            "truncated_file",
            "文件不完整（传输中断）",
            "the file is cut to half its bytes",
            "unreadable_file",
            file=_truncated_file,
        ),
        Breakage(
            "not_a_workbook",
            "文件不是Excel工作簿",
            "a .xlsx that is really a Word/PDF/text/HTML file",
            "not_a_workbook",
            file=_not_a_workbook,
        ),
    )
}


def csv_breakages() -> tuple[str, ...]:
    """Breakages a CSV delivery can carry: the content ones (file ones mutate xlsx bytes)."""
    return tuple(k for k, b in BREAKAGES.items() if b.content is not None)


def break_workbook(key: str, wb: UnitWorkbook, rng: np.random.Generator) -> Broken:
    """Apply a content breakage to a deep copy; the canonical workbook is left untouched."""
    breakage = BREAKAGES[key]
    if breakage.content is None:
        raise ValueError(f"{key!r} is a file breakage; apply it to the written file")
    return breakage.content(copy.deepcopy(wb), rng)
