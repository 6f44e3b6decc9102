"""City-sized raw tables written straight to Parquet, for timing the warehouse build.

Not a model of reality (the generator in pipelines/synthetic is): just the right shapes and volumes
(500 units, ~17,000 persons, ~200,000 rating rows a quarter) so `dbt build` can be timed before
ingestion exists. Usage: `uv run python tests/dbt/synthetic_raw.py DATA_DIR 2025Q1..2025Q4`.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from pipelines.domain.quarters import Quarter, quarter_range
from pipelines.domain.registry import load_registry
from pipelines.ingest.schema import RAW_TABLES, conform

TZ = ZoneInfo("Asia/Shanghai")
TIERS = ("科室工作人员", "科室负责人", "分管领导", "服务对象", "亮晒评")
CATEGORIES = ("综合管理", "行政执法", "专业技术")
STATUSES = ("已完成", "按进度推进", "滞后", "未启动")
GRADES = ("好", "较好", "一般", "较差")


def _quarter_tables(q: Quarter, registry: pl.DataFrame, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    key = q.key
    deadline = datetime.combine(q.last_day + timedelta(days=15), time(23, 59, 59), TZ)
    units = registry["unit_code"].to_list()
    n_units = len(units)
    status = rng.choice(["on_time", "late", "missing"], size=n_units, p=[0.9, 0.07, 0.03])
    submitted = [u for u, s in zip(units, status, strict=True) if s != "missing"]
    sid = {u: f"sha-{key}-{u}" for u in submitted}
    unit_status = pl.DataFrame(
        {
            "quarter": key,
            "unit_code": units,
            "status": status,
            "current_submission_id": [sid.get(u) for u in units],
            "first_accepted_at": [
                None if s == "missing" else deadline + timedelta(days=(-3 if s == "on_time" else 4))
                for s in status
            ],
            "deadline": deadline,
            "files_seen": [0 if s == "missing" else 1 for s in status],
        }
    )
    roster, sections, tasks, assignments, ratings, adjustments, year_end, info = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for u in submitted:
        n = int(rng.integers(15, 55))
        n_sections = max(1, n // 7)
        codes = [f"P{i:03d}" for i in range(1, n + 1)]
        section_of = rng.integers(0, n_sections, size=n)
        section_of[:n_sections] = np.arange(n_sections)
        heads = {int(s): i for i, s in reversed(list(enumerate(section_of)))}
        participates = rng.random(n) > 0.04
        roster.append(
            pl.DataFrame(
                {
                    "person_code": codes,
                    "person_key": [f"{u}-{c}" for c in codes],
                    "section": [f"科室{s}" for s in section_of],
                    "rank": "一级科员",
                    "post_category": rng.choice(CATEGORIES, size=n),
                    "is_section_head": [heads[int(s)] == i for i, s in enumerate(section_of)],
                    "participates": participates,
                    "proposed_grade": [None if g == "" else g for g in rng.choice([*GRADES, ""], size=n)],
                }
            ).with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        sections.append(
            pl.DataFrame(
                {
                    "section": [f"科室{s}" for s in range(n_sections)],
                    "section_coefficient": rng.uniform(0.8, 1.2, size=n_sections).round(2),
                    "leader_code": codes[0],
                }
            ).with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        n_tasks = int(n * 1.2)
        task_codes = [f"T{i:03d}" for i in range(1, n_tasks + 1)]
        leads = rng.integers(0, n, size=n_tasks)
        tasks.append(
            pl.DataFrame(
                {
                    "task_code": task_codes,
                    "task_name": task_codes,
                    "task_source": "单位年度重点",
                    "target": "-",
                    "deadline": date(q.year, 12, 31),
                    "lead_code": [codes[i] for i in leads],
                    "intensity": rng.integers(1, 6, size=n_tasks),
                    "difficulty": rng.integers(1, 6, size=n_tasks),
                    "quantity": rng.integers(1, 5, size=n_tasks).astype(float),
                    "status": rng.choice(STATUSES, size=n_tasks, p=[0.5, 0.3, 0.15, 0.05]),
                }
            ).with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        assists = rng.integers(0, n, size=(n_tasks, 2))
        assignments.append(
            pl.DataFrame(
                {
                    "task_code": task_codes * 3,
                    "person_code": [codes[i] for i in leads] + [codes[i] for i in assists.ravel(order="F")],
                    "role": ["lead"] * n_tasks + ["assist"] * (2 * n_tasks),
                }
            )
            .unique(["task_code", "person_code"], keep="first")
            .with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        rows_ratee, rows_tier, rows_rater = [], [], []
        for i, c in enumerate(codes):
            if not participates[i]:
                continue
            peers = rng.choice(n, size=min(n, 5), replace=False)
            for p in peers:
                rows_ratee.append(c)
                rows_tier.append("科室工作人员")
                rows_rater.append(codes[p])
            for tier, count, prefix in (
                ("科室负责人", 1, "H"),
                ("分管领导", 1, "L"),
                ("服务对象", 3, "F"),
                ("亮晒评", 2, "S"),
            ):
                for k in range(count):
                    rows_ratee.append(c)
                    rows_tier.append(tier)
                    rows_rater.append(f"{prefix}{k:02d}")
        m = len(rows_ratee)
        base = rng.normal(82, 6, size=m)
        ratings.append(
            pl.DataFrame(
                {
                    "ratee_code": rows_ratee,
                    "rater_tier": rows_tier,
                    "rater_code": rows_rater,
                    **{
                        d: np.clip(base + rng.normal(0, 3, size=m), 0, 100).round(1)
                        for d in (
                            "score_intensity",
                            "score_difficulty",
                            "score_quantity",
                            "score_effect",
                            "score_measures",
                        )
                    },
                }
            )
            .unique(["ratee_code", "rater_tier", "rater_code"], keep="first")
            .with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        k = int(rng.integers(0, 4))
        adjustments.append(
            pl.DataFrame(
                {
                    "item_no": list(range(1, k + 1)),
                    "person_code": [codes[i] for i in rng.integers(0, n, size=k)],
                    "points": rng.choice([-3.0, -1.0, 2.0, 5.0], size=k),
                    "reason": "事由",
                },
                schema_overrides={"item_no": pl.Int64},
            ).with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
        )
        if q.q == 4:
            year_end.append(
                pl.DataFrame(
                    {
                        "person_code": [c for c, p in zip(codes, participates, strict=True) if p],
                        "year_end_score": rng.uniform(70, 98, size=int(participates.sum())).round(1),
                    }
                ).with_columns(submission_id=pl.lit(sid[u]), unit_code=pl.lit(u))
            )
        info.append(
            {
                "submission_id": sid[u],
                "unit_code": u,
                "unit_name": u,
                "submitted_by": "填报人",
                "submitted_on": deadline.date(),
                "regular_share": float(rng.choice([0.6, 0.7, 0.5])) if q.q == 4 else None,
            }
        )
    frames = {
        "unit_status": unit_status,
        "unit_info": pl.DataFrame(info),
        "roster": pl.concat(roster),
        "sections": pl.concat(sections),
        "tasks": pl.concat(tasks),
        "task_assignments": pl.concat(assignments),
        "ratings": pl.concat(ratings),
        "adjustments": pl.concat(adjustments),
    }
    if year_end:
        frames["year_end"] = pl.concat(year_end)
    return {t: f.with_columns(quarter=pl.lit(key)) for t, f in frames.items()}


def write_city(data_dir: Path, quarters: list[Quarter], seed: int = 7) -> dict[str, int]:
    registry = load_registry()
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for q in quarters:
        tables = _quarter_tables(q, registry, rng)
        for table, schema in RAW_TABLES.items():
            frame = tables.get(table, pl.DataFrame(schema=schema))
            folder = data_dir / "raw" / table
            folder.mkdir(parents=True, exist_ok=True)
            conform(table, frame).write_parquet(folder / f"{q.key}.parquet")
            counts[table] = counts.get(table, 0) + frame.height
    return counts


if __name__ == "__main__":
    print(write_city(Path(sys.argv[1]), quarter_range(sys.argv[2] if len(sys.argv) > 2 else "2025Q1")))
