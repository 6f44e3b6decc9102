"""Review decisions (复核): the Organization Department's register of changed quarter grades.

A review register is a workbook in `landing/<quarter>/_reviews/*.xlsx` (the template the project ships is
`data/reference/templates/复核登记表.xlsx`, written by `write_review_template`). Each row is one decision
about one person's grade of that quarter: unit code, person code, the new grade, the reason, who decided
and when. This module reads the registers as hostile input (the same size and zip checks as unit
deliveries), archives each file under its SHA-256 like every delivery, and writes one Parquet table per
quarter, `reviews/<quarter>.parquet`, with a row per register row and the row's formal problem if any.

Whether a well-formed decision is applied (the person exists and was scored, the unit's 好 cap holds) is
decided by the warehouse (dbt model `int_quarter_grade_reviews`), which knows the computed grades; the
deliverables step writes a receipt (回执) for every register listing each row's outcome.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from pipelines.domain.quarters import TZ, parse_quarter
from pipelines.domain.template import QUARTER_GRADES, Kind
from pipelines.ingest.normalise import normalise
from pipelines.ingest.read import ReadError, read_xlsx
from pipelines.ingest.safety import check_xlsx

REVIEWS_FOLDER = "_reviews"
SHEET_TITLE = "复核登记"
# Register header -> column. The header row is matched after trimming spaces; order does not matter.
COLUMNS: dict[str, str] = {
    "单位代码": "unit_code",
    "人员编号": "person_code",
    "复核后等次": "new_grade",
    "复核理由": "reason",
    "决定人": "decided_by",
    "决定日期": "decided_on",
}
TEXT_LIMIT = 500  # characters kept of a free-text cell (reason, decided_by)
# Grades a review may set: the four quarter grades.
REVIEW_GRADES: tuple[str, ...] = QUARTER_GRADES

SCHEMA: dict[str, pl.DataType] = {
    "quarter": pl.Utf8(),
    "file_name": pl.Utf8(),
    "file_sha256": pl.Utf8(),
    "excel_row": pl.Int64(),
    "unit_code": pl.Utf8(),
    "person_code": pl.Utf8(),
    "new_grade": pl.Utf8(),
    "reason": pl.Utf8(),
    "decided_by": pl.Utf8(),
    "decided_on": pl.Date(),
    "row_problem": pl.Utf8(),  # null when the row is formally valid (Chinese text otherwise)
}


@dataclass(frozen=True)
class RegisterFile:
    path: Path
    sha256: str


def reviews_landing(landing_root: Path, quarter: str) -> Path:
    return landing_root / quarter / REVIEWS_FOLDER


def reviews_table_path(data_root: Path, quarter: str) -> Path:
    return data_root / "reviews" / f"{quarter}.parquet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def discover(landing_root: Path, quarter: str) -> list[RegisterFile]:
    """The quarter's registers: every regular file of the folder but Excel's ~$ lock files and dotfiles.
    One that is not an .xlsx workbook gets a receipt saying so (parse_register), not silence."""
    folder = reviews_landing(landing_root, quarter)
    if not folder.is_dir():
        return []
    found = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink() and not p.name.startswith(("~$", "."))
    ]
    return [RegisterFile(p, _sha256(p)) for p in found]


def archive(register: RegisterFile, archive_root: Path, quarter: str) -> Path:
    """Copy the register to archive/<quarter>/_reviews/<sha256>/<name> once; never rewritten."""
    target = archive_root / quarter / REVIEWS_FOLDER / register.sha256 / register.path.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(register.path, tmp)
        tmp.replace(target)
        target.chmod(0o444)
    return target


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(str(value).split())
    return cleaned[:TEXT_LIMIT] if cleaned else None


def _code(value: str | None) -> str | None:
    """A code cell as text, folded as a unit's workbook folds codes (full-width characters, stray
    spaces: `Ｐ００５` is P005); a number typed into Excel comes back as '17.0' from calamine."""
    text = _text(value)
    if text is not None:
        text = normalise(Kind.CODE, text).value or text
    if text is not None and text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def _grade(value: str | None) -> str | None:
    """A grade as the template spells it: `较　好` (an ideographic space) is 较好."""
    text = _text(value)
    return None if text is None else (normalise(Kind.ENUM, text).value or text)


EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value: str | None) -> date | None:
    """2026-01-15, 2026/1/15, 2026年1月15日, 20260115 or an Excel serial number; None when unreadable."""
    text = _text(value)
    if text is None:
        return None
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        serial = float(text)
    except ValueError:
        return None
    # Excel serials of 1990..2100; anything else is not a date somebody typed.
    if 32874 <= serial <= 73051:
        return EXCEL_EPOCH + timedelta(days=int(serial))
    return None


def _file_row(quarter: str, register: RegisterFile, problem: str) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(SCHEMA)
    row.update(
        quarter=quarter, file_name=register.path.name, file_sha256=register.sha256, row_problem=problem
    )
    return row


def parse_register(quarter: str, register: RegisterFile) -> list[dict[str, object]]:
    """Rows of one register; a file that cannot be read gives one row (excel_row null) saying why."""
    if register.path.suffix.lower() != ".xlsx":
        return [
            _file_row(quarter, register, "不是Excel工作簿（.xlsx）：请使用复核登记表模板填写后放入本文件夹")
        ]
    refused = check_xlsx(register.path)
    if refused is not None:
        return [_file_row(quarter, register, f"文件被拒收：{refused.kind}{refused.detail}")]
    try:
        sheets = read_xlsx(register.path)
    except ReadError as exc:
        return [_file_row(quarter, register, f"文件无法读取：{exc.detail}")]
    sheet = next((s for s in sheets if s.title.strip() == SHEET_TITLE), sheets[0] if sheets else None)
    if sheet is None:
        return [_file_row(quarter, register, "文件中没有工作表")]
    labels = [_text(h) or "" for h in sheet.headers]
    positions = {label: i for i, label in enumerate(labels)}
    twice = [h for h in COLUMNS if labels.count(h) > 1]
    if twice:
        return [
            _file_row(
                quarter,
                register,
                f"列{'、'.join(f'「{h}」' for h in twice)}出现不止一次，无法确定以哪一列为准",
            )
        ]
    missing = [h for h in COLUMNS if h not in positions]
    if missing:
        return [_file_row(quarter, register, f"缺少列：{'、'.join(missing)}（请使用复核登记表模板）")]
    rows: list[dict[str, object]] = []
    for k, excel_row in enumerate(sheet.excel_rows):
        cells = {col: sheet.columns[positions[h]][k] for h, col in COLUMNS.items()}
        row: dict[str, object] = {
            "quarter": quarter,
            "file_name": register.path.name,
            "file_sha256": register.sha256,
            "excel_row": excel_row,
            "unit_code": _code(cells["unit_code"]),
            "person_code": _code(cells["person_code"]),
            "new_grade": _grade(cells["new_grade"]),
            "reason": _text(cells["reason"]),
            "decided_by": _text(cells["decided_by"]),
            "decided_on": parse_date(cells["decided_on"]),
        }
        rows.append({**row, "row_problem": row_problem(row, cells["decided_on"])})
    return rows


def row_problem(row: dict[str, object], raw_date: str | None) -> str | None:
    """Why a register row is not a complete decision, in Chinese; None when it is.

    The latest decision about a person wins (int_quarter_grade_reviews), so a date typed wrong would
    override every later real decision: a date after today (Beijing) or before the quarter began is
    refused instead."""
    problems = [f"{h}为空" for h, col in COLUMNS.items() if col != "decided_on" and not row[col]]
    grade = row["new_grade"]
    if grade and grade not in REVIEW_GRADES:
        problems.append(f"复核后等次「{grade}」不是{'/'.join(REVIEW_GRADES)}之一")
    decided = row["decided_on"]
    if decided is None:
        problems.append("决定日期为空" if not _text(raw_date) else f"决定日期「{_text(raw_date)}」无法识别")
    elif isinstance(decided, date):
        today = datetime.now(TZ).date()
        first_day = parse_quarter(str(row["quarter"])).first_day
        if decided > today:
            problems.append(f"决定日期{decided.isoformat()}晚于今天（{today.isoformat()}），请核对")
        elif decided < first_day:
            problems.append(f"决定日期{decided.isoformat()}早于本季度开始（{first_day.isoformat()}），请核对")
    return "；".join(problems) or None


def frame(rows: Iterable[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SCHEMA, orient="row")


def ingest_reviews(quarter: str, landing_root: Path, archive_root: Path, data_root: Path) -> pl.DataFrame:
    """Read, archive and tabulate the quarter's registers; always writes reviews/<quarter>.parquet
    (zero rows when there is no register) so the warehouse reads a file of the right shape."""
    rows: list[dict[str, object]] = []
    for register in discover(landing_root, quarter):
        archive(register, archive_root, quarter)
        rows += parse_register(quarter, register)
    table = frame(rows)
    target = reviews_table_path(data_root, quarter)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    table.write_parquet(tmp)
    tmp.replace(target)
    return table


# -- the template ------------------------------------------------------------------------------------


def write_review_template(path: Path) -> Path:
    """The review register template (复核登记表): headers, one example row to overwrite, grade list."""
    import xlsxwriter  # only the template generator needs it

    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed creation date keeps the committed file byte-stable when regenerated.
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"title": "平时考核复核登记表", "created": datetime(2026, 1, 1)})
    sheet = book.add_worksheet(SHEET_TITLE)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
    text = book.add_format({"num_format": "@", "border": 1})
    when = book.add_format({"num_format": "yyyy-mm-dd", "border": 1})
    widths = (14, 12, 12, 40, 14, 14)
    for i, (header, width) in enumerate(zip(COLUMNS, widths, strict=True)):
        sheet.write_string(0, i, header, head)
        sheet.set_column(i, i, width, when if header == "决定日期" else text)
    sheet.data_validation(
        1, 2, 1000, 2, {"validate": "list", "source": list(REVIEW_GRADES), "error_message": "请选择等次"}
    )
    sheet.freeze_panes(1, 0)
    notes = book.add_worksheet("填写说明")
    lines = (
        "每行记录一项复核决定：一名人员在本季度的等次。",
        "单位代码、人员编号与该单位本季度报送的人员名册一致（不填姓名、身份证号）。",
        f"复核后等次：{'、'.join(REVIEW_GRADES)}。",
        "复核理由、决定人、决定日期必填；同一人员有多条决定时，以决定日期最晚（同日取表中靠后）的一条为准。",
        "复核不得使单位「好」等次人数超过比例上限（规则文件 [results_use] 另有规定的除外），"
        "超限的决定不予执行并在回执中说明。",
        "文件放入 landing/<季度>/_reviews/ 目录，下次运行时生效；原核定等次保留，最终等次另列。",
    )
    notes.set_column(0, 0, 110)
    for i, line in enumerate(lines):
        notes.write_string(i, 0, line)
    book.close()
    return path
