"""A plain-Python recomputation of rules.md §1–4 for one unit-quarter, straight from the raw Parquet.

Written from the specification, independently of the SQL models (and of the generator's own
self-scoring), so the independent check in test_independent_check.py compares two implementations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.domain.rules import Rules
from pipelines.domain.template import DIMENSIONS


@dataclass(frozen=True)
class PersonResult:
    planned: float
    earned: float
    task_score: float
    eval_score: float | None
    quarter_score: float | None
    grade: str


def _rows(raw: Path, table: str, quarter: str, unit: str) -> list[dict]:
    frame = pl.read_parquet(raw / table / f"{quarter}.parquet")
    return frame.filter((pl.col("quarter") == quarter) & (pl.col("unit_code") == unit)).to_dicts()


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _relative(t: dict[str, float], group: list[str]) -> dict[str, float]:
    working = [t[p] for p in group if t[p] > 0]
    if not working:
        return dict.fromkeys(group, 0.0)
    med = _median(working)
    return {p: t[p] / med for p in group}


def score_unit(raw: Path, quarter: str, unit: str, method: str, rules: Rules) -> dict[str, PersonResult]:
    """Every participant's T, E, S_task, S_eval, Q and graded result in `unit` for `quarter`."""
    roster = _rows(raw, "roster", quarter, unit)
    people = [r["person_code"] for r in roster if r["participates"]]
    person = {r["person_code"]: r for r in roster}
    coefficient = {s["section"]: s["section_coefficient"] for s in _rows(raw, "sections", quarter, unit)}

    # §1 task volume
    tv = rules.task_volume
    tasks = {t["task_code"]: t for t in _rows(raw, "tasks", quarter, unit)}
    roles: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"lead": set(), "assist": set()})
    for a in _rows(raw, "task_assignments", quarter, unit):
        roles[a["task_code"]][a["role"]].add(a["person_code"])
    planned: dict[str, float] = dict.fromkeys(people, 0.0)
    earned: dict[str, float] = dict.fromkeys(people, 0.0)
    for code, t in tasks.items():
        weight = (
            t["quantity"]
            * (1 + tv.intensity_step * (t["intensity"] - 1))
            * (1 + tv.difficulty_step * (t["difficulty"] - 1))
        )
        leads, assists = roles[code]["lead"], roles[code]["assist"]
        shares: dict[str, float] = defaultdict(float)
        for p in leads:
            shares[p] += tv.lead_share if assists else 1.0
        for p in assists:
            shares[p] += (tv.assist_share if leads else 1.0) / len(assists)
        for p, share in shares.items():
            if p in planned:
                planned[p] += weight * share
                earned[p] += weight * share * tv.completion[t["status"]]
    completion = {p: earned[p] / planned[p] if planned[p] > 0 else 0.0 for p in people}

    # §2 base score
    bs = rules.base_score
    task_score = dict.fromkeys(people, 0.0)
    working = [p for p in people if planned[p] > 0]
    if method == "uniform":
        for p in working:
            task_score[p] = 100 * completion[p]
    elif method == "workload_weighted":
        m = bs.workload_weighted
        v = _relative(planned, people)
        for p in working:
            task_score[p] = min(100.0, 100 * completion[p] * (m.floor + m.slope * min(v[p], m.workload_cap)))
    elif method == "section_coefficient":
        m = bs.section_coefficient
        for section in {person[p]["section"] for p in people}:
            members = [p for p in people if person[p]["section"] == section]
            v = _relative(planned, members)
            k = coefficient.get(section) or 1.0
            for p in members:
                if planned[p] > 0:
                    factor = m.floor + m.slope * min(v[p], m.workload_cap)
                    task_score[p] = min(100.0, 100 * completion[p] * k * factor)
    elif method == "category_peer":
        m = bs.category_peer
        for p in working:
            group = [x for x in working if person[x]["post_category"] == person[p]["post_category"]]
            if len(group) < m.min_group_size:
                group = working
            if len(group) == 1:
                task_score[p] = 100 * completion[p]
            else:
                key = round(earned[p], 9)
                below = sum(1 for x in group if round(earned[x], 9) < key)
                task_score[p] = m.floor_score + m.span * below / (len(group) - 1)

    # §3 evaluation score
    ev = rules.evaluation
    by_tier: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in _rows(raw, "ratings", quarter, unit):
        if r["rater_code"] == r["ratee_code"] or r["ratee_code"] not in planned:
            continue
        composite = sum(ev.dimension_weights[d] * r[d] for d in DIMENSIONS)
        by_tier[r["ratee_code"]][r["rater_tier"]].append(composite)
    eval_score: dict[str, float | None] = dict.fromkeys(people)
    for p, tiers in by_tier.items():
        num = den = 0.0
        for tier, values in tiers.items():
            kept = sorted(values)[1:-1] if len(values) >= ev.trim_min_raters else values
            num += ev.tier_weights[tier] * sum(kept) / len(kept)
            den += ev.tier_weights[tier]
        eval_score[p] = num / den

    # §4 quarterly score, band, quota
    qr = rules.quarterly
    adjustments: dict[str, float] = defaultdict(float)
    for a in _rows(raw, "adjustments", quarter, unit):
        adjustments[a["person_code"]] += a["points"]
    q: dict[str, float] = {}
    for p in people:
        se = eval_score[p]
        if se is not None:
            a = min(qr.adjustment_max, max(qr.adjustment_min, adjustments[p]))
            q[p] = min(100.0, max(0.0, qr.task_weight * task_score[p] + qr.eval_weight * se + a))
    grade: dict[str, str] = {}
    # Bands and ranks compare scores rounded to 1e-9: values equal in exact arithmetic tie.
    for p, value in q.items():
        grade[p] = next((g for g, floor in qr.bands.items() if round(value, 9) >= floor), "较差")
    cap = max(qr.top_quota_min, math.floor(qr.top_quota * len(q) + 1e-9))
    top = sorted(
        (p for p in q if grade[p] == "好"),
        key=lambda p: (-round(q[p], 9), -round(eval_score[p] or 0.0, 9), p),
    )
    for p in top[cap:]:
        grade[p] = "较好"
    return {
        p: PersonResult(planned[p], earned[p], task_score[p], eval_score[p], q.get(p), grade.get(p, "未评定"))
        for p in people
    }
