"""Every error and warning a receipt (回执) can carry: English kind codes, Chinese wording for the unit.

Code and tables use the English `kind`; the unit reads `message`, which names the sheet, the row as
Excel shows it, the column header and the offending value, so a clerk can find and fix the cell
without help.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pipelines.domain.national_id import mask_ids
from pipelines.ingest.normalise import INVISIBLE

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

# A receipt quotes the value; a hostile or broken file can hold megabytes in one cell.
MAX_VALUE_CHARS = 60


@dataclass(frozen=True)
class IssueKind:
    code: str
    severity: Severity
    title: str  # short Chinese title, shown as a heading in the receipt
    phrase: str  # completes a sentence about one cell or the file; may use {detail}
    stage: str  # file / structure / cell / cross-sheet / context / quarter (for the docs)


_KINDS: tuple[IssueKind, ...] = (
    # -- the file itself ---------------------------------------------------------------------------
    IssueKind("not_a_workbook", ERROR, "不是Excel工作簿", "不是Excel工作簿（.xlsx）{detail}", "file"),
    IssueKind("unreadable_file", ERROR, "文件无法读取", "无法读取{detail}", "file"),
    IssueKind("zip_bomb", ERROR, "文件解压后超出安全限制", "解压后超出安全限制{detail}", "file"),
    IssueKind("file_too_large", ERROR, "文件过大", "超过大小上限{detail}", "file"),
    IssueKind("too_many_rows", ERROR, "行数过多", "行数超过上限{detail}", "file"),
    IssueKind("parse_timeout", ERROR, "解析超时", "解析超时{detail}", "file"),
    IssueKind("parse_failed", ERROR, "解析失败", "解析失败{detail}", "file"),
    IssueKind(
        "unsafe_xml",
        ERROR,
        "文件含有不安全的内容",
        "含有Excel不会生成的XML实体声明，可能是恶意构造的文件，已拒收；请用Excel重新保存后报送{detail}",
        "file",
    ),
    IssueKind("internal_error", ERROR, "系统处理出错", "{detail}", "file"),
    # -- sheets and columns ------------------------------------------------------------------------
    IssueKind("missing_sheet", ERROR, "缺少工作表", "缺少必填工作表{detail}", "structure"),
    IssueKind("missing_column", ERROR, "缺少列", "缺少必填列{detail}", "structure"),
    IssueKind("duplicate_column", ERROR, "列名重复", "列名重复出现{detail}", "structure"),
    IssueKind("wrong_row_count", ERROR, "行数不符", "行数不符合要求{detail}", "structure"),
    IssueKind("extra_sheet", WARNING, "多余工作表", "不是模板中的工作表，已忽略{detail}", "structure"),
    IssueKind(
        "duplicate_sheet",
        ERROR,
        "工作表重复",
        "对应的工作表不止一个{detail}，无法确定以哪个为准，请只保留一个后重新报送",
        "structure",
    ),
    IssueKind("extra_column", WARNING, "多余列", "不是模板中的列，已忽略{detail}", "structure"),
    IssueKind(
        "column_order", WARNING, "列顺序与模板不同", "列顺序与模板不同，已按列名读取{detail}", "structure"
    ),
    IssueKind(
        "header_normalised", WARNING, "名称已规范", "名称含多余空格或全角字符，已按{detail}识别", "structure"
    ),
    IssueKind("blank_rows_ignored", WARNING, "空行已忽略", "为空行，已忽略{detail}", "structure"),
    # -- cells (declarative: great-expectations suites) --------------------------------------------
    IssueKind("missing_value", ERROR, "必填项为空", "为空，此项必填{detail}", "cell"),
    IssueKind("wrong_type", ERROR, "类型错误", "{detail}", "cell"),
    IssueKind("invalid_value", ERROR, "取值不在允许范围", "不在允许值中{detail}", "cell"),
    IssueKind("out_of_range", ERROR, "数值超出范围", "超出范围{detail}", "cell"),
    IssueKind(
        "formula_without_value",
        ERROR,
        "公式没有计算结果",
        "单元格含公式但没有保存计算结果：请在 Excel 中打开本文件、保存后重新报送{detail}",
        "cell",
    ),
    IssueKind(
        "error_value", ERROR, "单元格为错误值", "是Excel错误值，请改正公式或直接填写数值{detail}", "cell"
    ),
    # -- normalised cells --------------------------------------------------------------------------
    IssueKind("fullwidth_normalised", WARNING, "全角字符已转换", "含全角字符，已按“{detail}”处理", "cell"),
    IssueKind("whitespace_normalised", WARNING, "多余空格已去除", "含多余空格，已按“{detail}”处理", "cell"),
    IssueKind("number_as_text", WARNING, "文本格式的数字", "是文本格式的数字，已按{detail}处理", "cell"),
    IssueKind("date_variant", WARNING, "日期写法已转换", "日期写法不规范，已按{detail}处理", "cell"),
    IssueKind("bool_variant", WARNING, "是/否写法已转换", "不是“是/否”，已按“{detail}”处理", "cell"),
    IssueKind("quarter_variant", WARNING, "季度写法已转换", "季度写法不规范，已按{detail}处理", "cell"),
    IssueKind("list_separator", WARNING, "分隔符已统一", "人员编号分隔符不规范，已按“{detail}”处理", "cell"),
    IssueKind(
        "control_chars_removed",
        WARNING,
        "不可见字符已删除",
        "含不可见的控制字符，已删除后按“{detail}”处理",
        "cell",
    ),
    IssueKind(
        "formula_like_text",
        WARNING,
        "内容以公式符号开头",
        "以“=”“+”“-”或“@”开头，像表格公式；已按普通文字保存，导出时不会作为公式执行",
        "cell",
    ),
    # -- cross-sheet checks within one submission (code) -------------------------------------------
    IssueKind("invalid_national_id", ERROR, "身份证号错误", "{detail}", "cross-sheet"),
    IssueKind("duplicate_key", ERROR, "重复记录", "与第{detail}行重复", "cross-sheet"),
    IssueKind("unknown_person", ERROR, "人员编号不存在", "不在「人员名册」中{detail}", "cross-sheet"),
    IssueKind("unknown_section", ERROR, "科室不存在", "不在「科室」表中{detail}", "cross-sheet"),
    IssueKind(
        "not_participating",
        ERROR,
        "人员未参加考核",
        "在「人员名册」中为不参加考核人员{detail}",
        "cross-sheet",
    ),
    IssueKind(
        "national_id_in_text",
        WARNING,
        "文本中的身份证号已隐去",
        "含身份证号，已隐去后保存{detail}",
        "cross-sheet",
    ),
    IssueKind("lead_missing", WARNING, "任务未填主办人", "未填写主办人{detail}", "cross-sheet"),
    # -- the folder the file arrived in (context) --------------------------------------------------
    IssueKind(
        "unknown_unit", ERROR, "单位不在名册中", "所在文件夹{detail}不是单位名册中的单位代码", "context"
    ),
    IssueKind("unit_mismatch", ERROR, "单位代码不符", "与报送文件夹的单位代码不一致{detail}", "context"),
    IssueKind("quarter_mismatch", ERROR, "考核季度不符", "与报送的考核季度不一致{detail}", "context"),
    IssueKind("unit_name_mismatch", WARNING, "单位名称与名册不同", "与单位名册不一致{detail}", "context"),
    IssueKind("value_ignored", WARNING, "填写内容已忽略", "已忽略{detail}", "context"),
    IssueKind("sheet_ignored", WARNING, "工作表已忽略", "已忽略{detail}", "context"),
    # -- the whole quarter -------------------------------------------------------------------------
    IssueKind("person_in_two_units", ERROR, "人员被两个单位同时报送", "{detail}", "quarter"),
)

ISSUE_KINDS: dict[str, IssueKind] = {k.code: k for k in _KINDS}


@dataclass(frozen=True)
class Issue:
    """One line of a receipt. `excel_row` is the row number the unit sees (the header row is 1)."""

    kind: str
    message: str
    sheet: str | None = None
    excel_row: int | None = None
    header: str | None = None
    value: str | None = None

    @property
    def severity(self) -> Severity:
        return ISSUE_KINDS[self.kind].severity


_SPACES = re.compile(r"\s+")


def mask_national_id(text: str) -> str:
    """371623********4702: enough for a clerk to find the row, too little to identify anyone."""
    compact = _SPACES.sub("", text)
    if len(compact) < 10:
        return "*" * len(compact)
    return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]


def mask_name(text: str) -> str:
    """董**: the family name only."""
    compact = _SPACES.sub("", text)
    return compact[:1] + "*" * max(len(compact) - 1, 0)


# Cells whose values never appear in a receipt in clear: receipts are stored in the warehouse
# (receipt_items), and names and national IDs live only in the restricted persons table.
PERSONAL_FIELDS: dict[tuple[str, str], Callable[[str], str]] = {
    ("roster", "national_id"): mask_national_id,
    ("roster", "name"): mask_name,
}


def shown(sheet_name: str, field: str, value: str | None) -> str | None:
    """A cell value as a receipt may quote it: masked when the field holds personal data."""
    masker = PERSONAL_FIELDS.get((sheet_name, field))
    if value is None or masker is None:
        return value
    return masker(value)


def clip(value: object) -> str | None:
    """The value as the receipt quotes it: visible text, at most MAX_VALUE_CHARS characters."""
    if value is None:
        return None
    text = visible(str(value))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def visible(text: str) -> str:
    """Invisible characters quoted from a file shown as symbols: C0 controls as their control pictures
    (␇), the rest as �. A receipt line never carries a character that would garble its display (a
    bidi override) or that a spreadsheet writer refuses (a C0 control) when receipts are exported."""
    return INVISIBLE.sub(_picture, text)


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "␡" if code == 0x7F else "�"


def where(sheet: str | None, row: int | None, header: str | None) -> str:
    """「评议打分」表第12行「成效」 — the place in the unit's own terms."""
    parts = []
    if sheet:
        parts.append(f"「{sheet}」表")
    if row is not None:
        parts.append(f"第{row}行")
    if header:
        parts.append(f"「{header}」")
    return "".join(parts) or "文件"


def issue(
    kind: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    header: str | None = None,
    value: object = None,
    detail: str = "",
) -> Issue:
    """Build an issue with its Chinese message, e.g. 「评议打分」表第12行「成效」的值“优”不是数字."""
    spec = ISSUE_KINDS[kind]  # KeyError on an unknown kind: every kind must be documented above
    # A receipt quotes what the unit typed, and the value normalisation made of it: an ID typed into
    # any cell (a refused grade, a title it tidied) is masked there as everywhere else.
    quoted = clip(None if value is None else mask_ids(str(value))[0])
    detail = mask_ids(detail)[0]
    sheet = visible(sheet) if sheet is not None else None  # titles and headers come from the file too
    header = visible(header) if header is not None else None
    if kind in _ABOUT_THE_SHEET:
        # The missing thing is named after the phrase: 「评议打分」表缺少必填列「成效」.
        subject = where(None if kind == "missing_sheet" else sheet, None, None)
        named = f"「{sheet}」" if kind == "missing_sheet" else f"「{header}」"
        message = subject + spec.phrase.format(detail="") + named + detail
    else:
        subject = where(sheet, row, header)
        if quoted is not None:
            subject += f"的值“{quoted}”"
        message = subject + spec.phrase.format(detail=detail)
    return Issue(kind=kind, message=message, sheet=sheet, excel_row=row, header=header, value=quoted)


_ABOUT_THE_SHEET = frozenset({"missing_sheet", "missing_column"})


def file_issue(kind: str, detail: str = "") -> Issue:
    """An issue about the whole file (no sheet, row or column)."""
    return Issue(kind=kind, message="文件" + ISSUE_KINDS[kind].phrase.format(detail=mask_ids(detail)[0]))


# -- incidents: an unexpected failure while handling one file -----------------------------------------

INTERNAL_ERROR_REASON = "系统处理本文件时出错"


@dataclass(frozen=True)
class Incident:
    """An unexpected exception while handling one file: the file is rejected with `incident_id` on its
    receipt, and the operator finds the traceback in the run's log under the same id."""

    incident_id: str
    stage: str  # parse / validate / context ...
    detail: str  # the traceback or the library's message, for the log only

    def issue(self) -> Issue:
        return internal_error_issue(self.incident_id)


def incident_id(submission_id: str, stage: str, detail: str) -> str:
    """Short and stable: the same file failing the same way on a replay keeps its id (the receipt does
    not change from run to run), two files or two different failures never share one."""
    digest = hashlib.sha256(f"{submission_id}\0{stage}\0{detail}".encode()).hexdigest()
    return "E" + digest[:10].upper()


def internal_error_issue(incident: str) -> Issue:
    message = (
        f"{INTERNAL_ERROR_REASON}（事件编号 {incident}），本文件暂未被接收。"
        "这不是填报错误：请将事件编号告知市委组织部，系统修复后会重新处理；本单位此前已接收的报送（如有）仍然有效"
    )
    return Issue(kind="internal_error", message=message, value=incident)


def row_ranges(rows: list[int]) -> str:
    """3、7、12–15 — compact, every row still named."""
    parts: list[str] = []
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if r is not None:
            start = prev = r
    return "、".join(parts)
