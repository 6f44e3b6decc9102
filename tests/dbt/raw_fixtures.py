"""Hand-made raw tables for the warehouse tests, written exactly as ingestion writes them.

`write_raw` writes `raw/<table>/<quarter>.parquet` for every table of the contract and every quarter,
zero-row files included, through `pipelines.ingest.schema.conform`, so the dbt sources see what
ingestion will produce. `tiny_city` is a three-unit registry with one year of hand-checkable data; the
expected figures are worked out by hand in test_warehouse_build.py.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from pipelines.ingest.schema import RAW_TABLES, conform

TZ = ZoneInfo("Asia/Shanghai")
Rows = list[dict[str, Any]]

REGISTRY = (
    # unit_code, unit_name, level, county, county_code, base_method
    ("371602-X-001", "滨城区测试局", "县直", "滨城区", "371602", "uniform"),
    ("371602-X-002", "滨城区未报局", "县直", "滨城区", "371602", "workload_weighted"),
    ("371600-S-001", "市测试局", "市直", "市直", "371600", "category_peer"),
)
U1, U2, U3 = (row[0] for row in REGISTRY)


def write_registry(path: Path, rows: Iterable[Sequence[str]] = REGISTRY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["unit_code", "unit_name", "level", "county", "county_code", "base_method"])
        writer.writerows(rows)
    return path


def write_raw(data_dir: Path, tables: Mapping[str, Rows], quarters: Iterable[str]) -> None:
    """Write every contract table for every quarter (rows filtered by `quarter`, else zero rows)."""
    for table, schema in RAW_TABLES.items():
        rows = list(tables.get(table, []))
        frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
        folder = data_dir / "raw" / table
        folder.mkdir(parents=True, exist_ok=True)
        for quarter in quarters:
            conform(table, frame.filter(pl.col("quarter") == quarter)).write_parquet(
                folder / f"{quarter}.parquet"
            )


def deadline(quarter: str) -> datetime:
    year, q = int(quarter[:4]), int(quarter[5])
    end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - timedelta(days=1)
    return datetime.combine(end + timedelta(days=15), datetime.min.time(), TZ).replace(
        hour=23, minute=59, second=59
    )


def _quarter_rows(quarter: str, *, regular_share: float | None, year_end: bool) -> dict[str, Rows]:
    sid1, sid3 = f"sha-{quarter}-u1", f"sha-{quarter}-u3"
    due = deadline(quarter)

    def base(unit: str) -> dict[str, Any]:
        return {"submission_id": sid1 if unit == U1 else sid3, "quarter": quarter, "unit_code": unit}

    def person(
        unit: str, code: str, section: str, category: str, head: bool, part: bool, proposed: str | None
    ):
        return {
            **base(unit), "person_code": code, "person_key": f"key-{unit}-{code}", "section": section,
            "rank": "一级科员", "post_category": category, "is_section_head": head, "participates": part,
            "proposed_grade": proposed,
        }  # fmt: skip

    def task(unit: str, code: str, i: int, d: int, n: float, status: str, lead: str | None) -> dict[str, Any]:
        return {
            **base(unit), "task_code": code, "task_name": code, "task_source": "单位年度重点", "target": "-",
            "deadline": date(int(quarter[:4]), 12, 31), "lead_code": lead, "intensity": i, "difficulty": d,
            "quantity": n, "status": status,
        }  # fmt: skip

    def assign(unit: str, task_code: str, code: str, role: str) -> dict[str, Any]:
        return {**base(unit), "task_code": task_code, "person_code": code, "role": role}

    def rating(unit: str, ratee: str, tier: str, rater: str, score: float) -> dict[str, Any]:
        dims = ("score_intensity", "score_difficulty", "score_quantity", "score_effect", "score_measures")
        return {
            **base(unit),
            "ratee_code": ratee,
            "rater_tier": tier,
            "rater_code": rater,
            **dict.fromkeys(dims, score),
        }

    staff, head, leader = "科室工作人员", "科室负责人", "分管领导"
    tables: dict[str, Rows] = {
        "unit_status": [
            {"quarter": quarter, "unit_code": U1, "status": "on_time", "current_submission_id": sid1,
             "first_accepted_at": due - timedelta(days=5), "deadline": due, "files_seen": 1},
            {"quarter": quarter, "unit_code": U2, "status": "missing", "current_submission_id": None,
             "first_accepted_at": None, "deadline": due, "files_seen": 0},
            {"quarter": quarter, "unit_code": U3, "status": "late", "current_submission_id": sid3,
             "first_accepted_at": due + timedelta(days=5), "deadline": due, "files_seen": 2},
        ],
        "unit_info": [
            {**base(U1), "unit_name": "滨城区测试局", "submitted_by": "甲", "submitted_on": due.date(),
             "regular_share": regular_share},
            {**base(U3), "unit_name": "市测试局", "submitted_by": "乙", "submitted_on": due.date(),
             "regular_share": None},
        ],
        "roster": [
            person(U1, "P1", "科室A", "综合管理", True, True, "好"),
            person(U1, "P2", "科室A", "综合管理", False, True, "一般"),
            person(U1, "P3", "科室A", "综合管理", False, True, "好"),
            person(U1, "P4", "科室A", "综合管理", False, False, None),
            person(U3, "Q1", "B1", "综合管理", True, True, None),
            person(U3, "Q2", "B1", "综合管理", False, True, None),
            person(U3, "Q3", "B2", "综合管理", True, True, None),
            person(U3, "Q4", "B2", "行政执法", False, True, None),
            person(U3, "Q5", "B2", "综合管理", False, True, None),
        ],
        "sections": [
            {**base(U1), "section": "科室A", "section_coefficient": None, "leader_code": "P4"},
            {**base(U3), "section": "B1", "section_coefficient": None, "leader_code": "Q1"},
            {**base(U3), "section": "B2", "section_coefficient": None, "leader_code": "Q3"},
        ],
        "tasks": [
            task(U1, "T1", 3, 2, 2.0, "已完成", "P1"),
            task(U1, "T2", 1, 1, 4.0, "滞后", "P2"),
            task(U1, "T3", 1, 1, 1.0, "已完成", None),
            task(U3, "A", 1, 1, 1.0, "已完成", "Q1"),
            task(U3, "B", 1, 1, 2.0, "已完成", "Q2"),
            task(U3, "C", 1, 1, 2.0, "已完成", "Q3"),
            task(U3, "D", 1, 1, 4.0, "按进度推进", "Q4"),
        ],
        "task_assignments": [
            assign(U1, "T1", "P1", "lead"),
            assign(U1, "T1", "P2", "assist"),
            assign(U1, "T1", "P3", "assist"),
            assign(U1, "T2", "P2", "lead"),
            assign(U3, "A", "Q1", "lead"),
            assign(U3, "B", "Q2", "lead"),
            assign(U3, "C", "Q3", "lead"),
            assign(U3, "D", "Q4", "lead"),
        ],
        "ratings": [
            rating(U1, "P1", leader, "P4", 90.0),
            rating(U1, "P1", staff, "P1", 100.0),  # a self-rating: excluded
            rating(U1, "P2", leader, "P4", 80.0),
            rating(U1, "P2", head, "P1", 70.0),
            rating(U1, "P3", leader, "P4", 95.0),
            *(rating(U1, "P3", staff, r, s) for r, s in (("P1", 100.0), ("P2", 90.0), ("P4", 80.0),
                                                         ("X5", 70.0), ("X6", 20.0))),
            rating(U3, "Q1", leader, "Q9", 90.0),
            rating(U3, "Q2", leader, "Q9", 85.0),
            rating(U3, "Q2", head, "Q1", 85.0),
            rating(U3, "Q3", leader, "Q9", 85.0),
            rating(U3, "Q4", leader, "Q9", 80.0),
        ],
        "adjustments": [
            {**base(U1), "item_no": 1, "person_code": "P1", "points": 3.0, "reason": "表彰"},
            {**base(U1), "item_no": 2, "person_code": "P1", "points": 4.0, "reason": "表彰"},
            {**base(U1), "item_no": 3, "person_code": "P2", "points": -6.0, "reason": "通报"},
            {**base(U1), "item_no": 4, "person_code": "P2", "points": -6.0, "reason": "通报"},
        ],
        "submissions": [
            {"submission_id": sid1, "quarter": quarter, "unit_code": U1, "file_name": "a.xlsx",
             "archive_path": "archive/a", "size_bytes": 1, "arrival_at": due - timedelta(days=5),
             "format": "xlsx", "encoding": None, "accepted": True, "is_current": True, "n_errors": 0,
             "n_warnings": 0},
        ],
    }  # fmt: skip
    if year_end:
        tables["year_end"] = [
            {**base(U1), "person_code": "P1", "year_end_score": 80.0},
            {**base(U1), "person_code": "P3", "year_end_score": 90.0},
        ]
    return tables


def tiny_city(quarters: Sequence[str] = ("2025Q1", "2025Q2", "2025Q3", "2025Q4")) -> dict[str, Rows]:
    """The same hand-checked quarter repeated; Q4 adds the year-end scores and U1's declared share 0.5."""
    tables: dict[str, Rows] = {}
    for quarter in quarters:
        q4 = quarter.endswith("Q4")
        for table, rows in _quarter_rows(quarter, regular_share=0.5 if q4 else None, year_end=q4).items():
            tables.setdefault(table, []).extend(rows)
    return tables
