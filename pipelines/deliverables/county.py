"""The county's workbook: its units only — submission status, compliance metrics with definitions and
the county's rank, grade distribution by unit against the quota, and the findings review summary with
raters aliased exactly as in the analyst file (read from the county's published extract)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.deliverables.sheets import DEFAULT_TIMEZONE, Column, Styles, new_workbook, table_sheet
from pipelines.deliverables.source import STATUS_ZH
from pipelines.deliverables.unit import GRADES, quarter_zh

# (column, 指标, 定义, kind) — rules.md §6.
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("submission_rate", "报送率", "有受理报送的单位数 ÷ 名录内单位数（未报送单位计为0）", "rate"),
    ("on_time_rate", "按时报送率", "首次受理报送不晚于截止时间的单位数 ÷ 名录内单位数", "rate"),
    ("task_assignment_rate", "任务分配率", "至少有一名承办人的任务数 ÷ 任务数", "rate"),
    ("staff_coverage_rate", "人人头上有指标", "任务量大于0的参加考核人员数 ÷ 参加考核人员数", "rate"),
    (
        "rating_coverage_rate",
        "评议主体覆盖率",
        "满足全部必需评议主体的参加考核人员数 ÷ 参加考核人员数",
        "rate",
    ),
    (
        "quota_compliance_rate",
        "等次比例合规率",
        "拟定「好」等次人数不超过上限的单位数 ÷ 拟定了等次的单位数",
        "rate",
    ),
    ("grade_agreement_rate", "拟定等次一致率", "拟定等次与核定等次一致的人数 ÷ 有拟定等次的人数", "rate"),
    ("anomaly_rate", "异常评议率", "高严重度评议质量问题数 ÷ 参加考核人员数 × 100（每百人）", "score"),
    ("compliance_index", "合规指数", "上述指标按规则权重加权（分母为0的指标不计并重新归一）× 100", "score"),
)
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}
# What the county workbook reads of each person (distribution_rows): nothing else reaches the file.
COUNTY_PERSON_COLUMNS = ("unit_code", "person_code", "is_participant", "final_grade", "is_grade_changed")


def status_rows(units: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {**u, "status_zh": STATUS_ZH.get(u.get("submission_status") or "", u.get("submission_status"))}
        for u in units.to_dicts()
    ]


def metric_rows(row: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if row is None:
        return []
    out = [
        {"metric": label, "definition": definition, "value": row.get(column), "kind": kind}
        for column, label, definition, kind in METRICS
    ]
    rank = row.get("county_rank")
    shown = "不参与排名（市直）" if rank is None else f"第 {rank} 名 / 共 {row.get('n_ranked')} 个县（市区）"
    out.append(
        {"metric": "全市排名", "definition": "按合规指数在全市县（市区）中排名，并列同名次", "value": shown}
    )
    return out


def distribution_rows(units: pl.DataFrame, people: pl.DataFrame) -> list[dict[str, Any]]:
    final_of: dict[str, dict[str, int]] = {}
    reviewed_of: dict[str, int] = {}
    for person in people.filter(pl.col("is_participant")).iter_rows(named=True):
        code = person["unit_code"]
        counts = final_of.setdefault(code, dict.fromkeys(GRADES, 0))
        if person["final_grade"] in counts:
            counts[person["final_grade"]] += 1
        reviewed_of[code] = reviewed_of.get(code, 0) + bool(person["is_grade_changed"])
    rows: list[dict[str, Any]] = []
    for unit in units.to_dicts():
        final = final_of.get(unit["unit_code"], dict.fromkeys(GRADES, 0))
        n_reviewed = reviewed_of.get(unit["unit_code"], 0)
        cap = unit.get("top_quota_cap")
        rows.append(
            {
                **unit,
                **{f"final_{i}": final[g] for i, g in enumerate(GRADES)},
                "n_reviewed": n_reviewed,
                "within": None if cap is None else ("是" if final["好"] <= cap else "否"),
            }
        )
    return rows


def write_county_workbook(
    path: Path,
    quarter: str,
    county: Mapping[str, Any],
    units: pl.DataFrame,
    people: pl.DataFrame,
    compliance: Mapping[str, Any] | None,
    summary: pl.DataFrame,
    findings: pl.DataFrame,
    generated: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> Path:
    name = county["county_name"]
    period = quarter_zh(quarter)
    book = new_workbook(path, f"{name}{period}平时考核情况")
    styles = Styles(book, timezone)
    subtitle = f"县（市区）代码 {county['county_code']}　共 {units.height} 个单位　生成于 {generated}"
    table_sheet(
        book,
        styles,
        "报送情况",
        f"{name}{period}各单位报送情况",
        subtitle,
        (
            Column("单位代码", "unit_code", "center"),
            Column("单位名称", "unit_name"),
            Column("报送状态", "status_zh", "center"),
            Column("截止时间", "deadline_at", "datetime"),
            Column("首次受理时间", "first_accepted_at", "datetime"),
            Column("收到文件数", "files_seen", "int"),
            Column("参加考核人数", "n_participants", "int"),
        ),
        status_rows(units),
        marked=lambda r: r.get("submission_status") in ("missing", "rejected"),
        freeze_columns=2,
    )
    sheet = table_sheet(
        book,
        styles,
        "合规指标",
        f"{name}{period}平时考核合规指标",
        subtitle,
        (Column("指标", "metric"), Column("定义", "definition"), Column("数值", "value", "text")),
        [],
        landscape=False,
    )
    # Values need a per-row number format (rates, per-100, index, rank text): written here.
    for i, row in enumerate(metric_rows(compliance), start=3):
        sheet.write_string(i, 0, row["metric"], styles.cells["text"])
        sheet.write_string(i, 1, row["definition"], styles.cells["text"])
        value, kind = row["value"], row.get("kind", "text")
        if value is None:
            sheet.write_string(i, 2, "—（分母为0）", styles.cells["center"])
        elif isinstance(value, int | float):
            sheet.write_number(i, 2, value, styles.cells[kind])
        else:
            sheet.write_string(i, 2, str(value), styles.cells["center"])
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 70)
    sheet.set_column(2, 2, 26)
    table_sheet(
        book,
        styles,
        "等次分布",
        f"{name}{period}各单位等次分布与「好」等次比例",
        subtitle + "　（最终等次含复核结果）",
        (
            Column("单位代码", "unit_code", "center"),
            Column("单位名称", "unit_name"),
            Column("参与定等人数", "n_scored", "int"),
            Column("「好」上限", "top_quota_cap", "int"),
            Column("核定「好」", "n_computed_good", "int"),
            Column("拟定「好」", "n_proposed_good", "int"),
            *(Column(f"最终「{g}」", f"final_{i}", "int") for i, g in enumerate(GRADES)),
            Column("复核改定人数", "n_reviewed", "int"),
            Column("未超上限", "within", "center"),
        ),
        distribution_rows(units, people),
        marked=lambda r: r.get("within") == "否",
        freeze_columns=2,
    )
    summary_rows = [
        {**r, "severity_zh": SEVERITY_ZH.get(r.get("severity") or "", r.get("severity"))}
        for r in summary.to_dicts()
    ]
    table_sheet(
        book,
        styles,
        "评议质量",
        f"{name}{period}评议质量问题汇总（待核查）",
        subtitle + "　评议人以化名（R#…）显示，与分析库一致",
        (
            Column("期间", "period", "center"),
            Column("单位代码", "unit_code", "center"),
            Column("代码", "code", "center"),
            Column("类型", "type"),
            Column("严重度", "severity_zh", "center"),
            Column("问题数", "n_findings", "int"),
        ),
        summary_rows,
        notes=("评议质量问题用于提示人工核查，不改变任何正式得分与等次。",),
    )
    finding_rows = [
        {**r, "severity_zh": SEVERITY_ZH.get(r.get("severity") or "", r.get("severity"))}
        for r in findings.to_dicts()
    ]
    table_sheet(
        book,
        styles,
        "问题明细",
        f"{name}{period}评议质量问题明细",
        subtitle,
        (
            Column("编号", "finding_id"),
            Column("单位代码", "unit_code", "center"),
            Column("代码", "code", "center"),
            Column("严重度", "severity_zh", "center"),
            Column("评议主体", "rater_tier"),
            Column("评议人", "rater_code"),
            Column("被评议人", "ratee_code"),
            Column("说明", "explanation_zh"),
        ),
        finding_rows,
    )
    book.close()
    return path
