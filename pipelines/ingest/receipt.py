"""Receipts (回执): one self-contained HTML page per submission, in Chinese, that a unit can be sent.

The page says who sent what (unit, file, SHA-256, arrival time), whether it was accepted, and lists
every error with its sheet, Excel row, column header, value and what to do; warnings (what was
tolerated and normalised) are grouped by kind and column with every row number listed, so a
receipt stays readable when a clerk typed a thousand dates as 2026/10/9.

The same items are stored in the warehouse as raw table receipt_items; these pages are a rendering.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.domain.national_id import mask_ids
from pipelines.ingest.issues import ISSUE_KINDS, row_ranges

MAX_ERRORS_SHOWN = 5_000  # beyond this a list helps nobody; the warehouse keeps them all
_UNSAFE = re.compile(r"[^\w\u3400-\u9fff（）()\-]+")


@dataclass(frozen=True)
class ReceiptHeader:
    quarter: str
    unit_code: str
    unit_name: str | None  # from the registry; None for a folder that is not a registered unit
    file_name: str
    submission_id: str
    arrival_at: datetime
    accepted: bool
    is_current: bool


def receipt_file_name(file_name: str, submission_id: str, fmt: str) -> str:
    """A safe, unique file name: the original stem (or CSV) and the first 12 hex of the hash."""
    stem = "CSV" if fmt == "csv" else Path(mask_ids(file_name)[0].split("、")[0]).stem
    safe = _UNSAFE.sub("_", stem).strip("_")[:60] or "submission"
    return f"{safe}_{submission_id[:12]}.html"


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _outcome(header: ReceiptHeader, n_errors: int) -> str:
    if header.accepted and header.is_current:
        return "已接收（本单位本季度当前有效报送）"
    if header.accepted:
        return "已接收（已被本单位此后接收的报送取代）"
    return f"已退回（{n_errors}项错误）"


_STYLE = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.ok{color:#176b2c;font-weight:bold}.bad{color:#a11;font-weight:bold}
.mono{font-family:Consolas,monospace;word-break:break-all}.note{color:#555}
"""


def render_receipt(header: ReceiptHeader, items: list[dict[str, Any]]) -> str:
    """The full HTML page; `items` are receipt_items rows (severity, kind, sheet, excel_row, ...)."""
    errors = [i for i in items if i["severity"] == "error"]
    warnings = [i for i in items if i["severity"] == "warning"]
    css = "ok" if header.accepted else "bad"
    unit = header.unit_code + (f"（{header.unit_name}）" if header.unit_name else "（不在单位名册中）")
    arrival = header.arrival_at.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>平时考核报送回执 {_e(header.unit_code)} {_e(header.quarter)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>公务员平时考核数据报送回执</h1>",
        "<table>",
        f"<tr><th>报送单位</th><td>{_e(unit)}</td></tr>",
        f"<tr><th>考核季度</th><td>{_e(header.quarter)}</td></tr>",
        f"<tr><th>文件</th><td>{_e(mask_ids(header.file_name)[0])}</td></tr>",
        f'<tr><th>SHA-256</th><td class="mono">{_e(header.submission_id)}</td></tr>',
        f"<tr><th>到达时间</th><td>{_e(arrival)}（北京时间）</td></tr>",
        f'<tr><th>处理结果</th><td class="{css}">{_e(_outcome(header, len(errors)))}</td></tr>',
        f"<tr><th>错误 / 提示</th><td>{len(errors)} 项错误，{len(warnings)} 项提示</td></tr>",
        "</table>",
    ]
    if not header.accepted:
        parts.append(
            '<p class="note">本次报送未被接收。请按下列错误逐项修改后重新报送；'
            "本单位此前已接收的报送（如有）仍然有效。</p>"
        )
    if errors:
        parts.append(_errors_table(errors))
    if warnings:
        parts.append(_warnings_table(warnings))
    if not errors and not warnings:
        parts.append("<p>未发现任何问题。</p>")
    parts.append('<p class="note">本回执由系统自动生成。行号为Excel中显示的行号（表头为第1行）。</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _errors_table(errors: list[dict[str, Any]]) -> str:
    rows = [
        "<h2>错误（须修改后重新报送）</h2>",
        "<table><tr><th>序号</th><th>工作表</th><th>行号</th><th>列</th><th>值</th><th>说明</th></tr>",
    ]
    for n, item in enumerate(errors[:MAX_ERRORS_SHOWN], 1):
        rows.append(
            f"<tr><td>{n}</td><td>{_e(item['sheet'])}</td><td>{_e(item['excel_row'])}</td>"
            f"<td>{_e(item['column_header'])}</td><td>{_e(item['value'])}</td><td>{_e(item['message'])}</td></tr>"
        )
    rows.append("</table>")
    if len(errors) > MAX_ERRORS_SHOWN:
        rows.append(f'<p class="note">另有 {len(errors) - MAX_ERRORS_SHOWN} 项错误未列出。</p>')
    return "\n".join(rows)


def _warnings_table(warnings: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for item in warnings:
        key = (item["kind"], item["sheet"] or "", item["column_header"] or "")
        groups.setdefault(key, []).append(item)
    rows = [
        "<h2>提示（已自动处理，不影响接收，请今后按模板填写）</h2>",
        "<table><tr><th>类型</th><th>工作表</th><th>列</th><th>处数</th><th>行号</th><th>示例</th></tr>",
    ]
    for (kind, sheet, column), items in groups.items():
        numbers = sorted({i["excel_row"] for i in items if i["excel_row"] is not None})
        listed = f"第{row_ranges(numbers)}行" if numbers else ""
        rows.append(
            f"<tr><td>{_e(ISSUE_KINDS[kind].title)}</td><td>{_e(sheet)}</td><td>{_e(column)}</td>"
            f"<td>{len(items)}</td><td>{_e(listed)}</td><td>{_e(items[0]['message'])}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def write_if_changed(path: Path, text: str) -> bool:
    """Receipts are re-rendered each run (a later file can change a verdict); rewrite only on change."""
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True
