"""The cadre division's restricted workbook (干部科, city level): commendation candidates by the
[results_use] criteria and people with annual 优秀 several years running, with names for the division's
own use. It lives under deliverables/<quarter>/restricted/ and is never part of a release."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.deliverables.sheets import Column, Styles, new_workbook, table_sheet


def write_cadre_workbook(
    path: Path,
    year: int,
    candidates: pl.DataFrame,
    streaks: pl.DataFrame,
    rules: Mapping[str, Any],
    generated: str,
) -> Path:
    book = new_workbook(path, f"{year}年度平时考核结果运用名单（内部）")
    styles = Styles(book)
    subtitle = f"内部资料，注意保密　人员以加密编号（person_key）关联，调动已跟踪　生成于 {generated}"
    criteria = ""
    if rules:
        blocked = (
            "，且本年度无以其为被评议人的评议质量问题" if rules["commendation_block_on_findings"] else ""
        )
        criteria = (
            f"条件：本年度最终等次「好」不少于 {rules['commendation_min_good_quarters']} 个季度，"
            f"「较差」不超过 {rules['commendation_max_poor_quarters']} 个季度{blocked}"
            "（规则文件 [results_use]；按已有季度滚动计算）。"
        )
    table_sheet(
        book,
        styles,
        "表扬候选人",
        f"{year}年度评先树优、表扬奖励候选人名单",
        subtitle,
        (
            Column("单位代码", "latest_unit_code", "center"),
            Column("单位名称", "unit_name"),
            Column("人员编号", "latest_person_code", "center"),
            Column("姓名", "name"),
            Column("定等季度数", "n_scored_quarters", "int"),
            Column("「好」季度数", "n_good", "int"),
            Column("「较差」季度数", "n_poor", "int"),
            Column("复核改定次数", "n_reviewed_changes", "int"),
            Column("年度等次", "annual_grade", "center"),
            Column("加密编号", "person_key"),
        ),
        candidates.to_dicts(),
        notes=(criteria, *(() if candidates.height else ("本年度暂无符合条件的人员。",))),
        freeze_columns=4,
    )
    n_years = rules.get("excellent_streak_years")
    table_sheet(
        book,
        styles,
        "连续优秀",
        f"截至{year}年度连续{n_years or '数'}年年度考核「优秀」人员（记三等功参考）",
        subtitle,
        (
            Column("单位代码", "annual_unit_code", "center"),
            Column("单位名称", "unit_name"),
            Column("人员编号", "annual_person_code", "center"),
            Column("姓名", "name"),
            Column("连续优秀起始年度", "first_year", "int"),
            Column("连续优秀年数", "streak_years", "int"),
            Column("加密编号", "person_key"),
        ),
        streaks.to_dicts(),
        notes=() if streaks.height else ("暂无符合条件的人员。",),
        freeze_columns=4,
    )
    book.close()
    return path
