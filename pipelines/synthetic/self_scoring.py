"""A unit's own score sheet: how an honest unit arrives at the grades it proposes.

Real units run the department's scheme in a spreadsheet before they submit, so honest proposals
mostly match what the warehouse later computes. This is the generator's compact, plain-Python
version of rules.md §1–4; the warehouse's dbt models are the official implementation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipelines.domain.template import DIMENSIONS, QUARTER_GRADES


@dataclass(frozen=True)
class ScoringParams:
    intensity_step: float = 0.25
    difficulty_step: float = 0.25
    lead_share: float = 0.6
    completion: Mapping[str, float] = field(
        default_factory=lambda: {"已完成": 1.0, "按进度推进": 1.0, "滞后": 0.5, "未启动": 0.0}
    )
    workload_floor: float = 0.6
    workload_slope: float = 0.4
    workload_cap: float = 1.5
    peer_min_group: int = 3
    dimension_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(zip(DIMENSIONS, (0.20, 0.20, 0.20, 0.25, 0.15), strict=True))
    )
    tier_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "科室工作人员": 0.20,
            "科室负责人": 0.25,
            "分管领导": 0.30,
            "服务对象": 0.15,
            "亮晒评": 0.10,
        }
    )
    trim_min_raters: int = 5
    task_weight: float = 0.4
    eval_weight: float = 0.6
    adjustment_min: float = -10.0
    adjustment_max: float = 5.0
    bands: tuple[tuple[str, float], ...] = (("好", 90.0), ("较好", 80.0), ("一般", 60.0))
    top_quota: float = 0.40


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def task_volume(
    tasks: Sequence[Mapping], participants: Sequence[str], p: ScoringParams
) -> tuple[dict[str, float], dict[str, float]]:
    """Planned (T) and earned (E) points per participant (rules §1)."""
    planned: dict[str, float] = defaultdict(float)
    earned: dict[str, float] = defaultdict(float)
    for t in tasks:
        weight = (
            t["quantity"]
            * (1 + p.intensity_step * (t["intensity"] - 1))
            * (1 + p.difficulty_step * (t["difficulty"] - 1))
        )
        lead, assists = t["lead_code"], list(t["assist_codes"] or [])
        shares: dict[str, float] = defaultdict(float)
        if lead and assists:
            shares[lead] += p.lead_share
            for a in assists:
                shares[a] += (1 - p.lead_share) / len(assists)
        elif lead:
            shares[lead] += 1.0
        elif assists:
            for a in assists:
                shares[a] += 1.0 / len(assists)
        factor = p.completion[t["status"]]
        for code, share in shares.items():
            planned[code] += weight * share
            earned[code] += weight * share * factor
    return ({c: planned.get(c, 0.0) for c in participants}, {c: earned.get(c, 0.0) for c in participants})


def _relative(values: Mapping[str, float], group: Sequence[str]) -> dict[str, float]:
    positive = [values[c] for c in group if values[c] > 0]
    med = _median(positive) if positive else 0.0
    return {c: (values[c] / med if med > 0 else 0.0) for c in group}


def _percent_rank(values: Mapping[str, float], group: Sequence[str]) -> dict[str, float]:
    n = len(group)
    ordered = sorted(values[c] for c in group)
    out = {}
    for c in group:
        rank = ordered.index(values[c])  # 0-based lowest rank among ties
        out[c] = rank / (n - 1) if n > 1 else 0.0
    return out


def base_scores(
    method: str,
    planned: Mapping[str, float],
    earned: Mapping[str, float],
    section_of: Mapping[str, str],
    category_of: Mapping[str, str],
    coefficient: Mapping[str, float],
    p: ScoringParams,
) -> dict[str, float]:
    """S_task per participant by the unit's base method (rules §2)."""
    people = list(planned)
    completion = {c: (earned[c] / planned[c] if planned[c] > 0 else 0.0) for c in people}
    out = {c: 0.0 for c in people}
    working = [c for c in people if planned[c] > 0]
    if method == "uniform":
        for c in working:
            out[c] = 100 * completion[c]
    elif method == "workload_weighted":
        v = _relative(planned, people)
        for c in working:
            out[c] = min(
                100.0, 100 * completion[c] * (p.workload_floor + p.workload_slope * min(v[c], p.workload_cap))
            )
    elif method == "section_coefficient":
        by_section: dict[str, list[str]] = defaultdict(list)
        for c in people:
            by_section[section_of[c]].append(c)
        for members in by_section.values():
            v = _relative(planned, members)
            for c in members:
                if planned[c] > 0:
                    k = coefficient.get(section_of[c], 1.0)
                    factor = p.workload_floor + p.workload_slope * min(v[c], p.workload_cap)
                    out[c] = min(100.0, 100 * completion[c] * k * factor)
    elif method == "category_peer":
        for c in working:
            group = [x for x in working if category_of[x] == category_of[c]]
            if len(group) < p.peer_min_group:
                group = working
            if len(group) == 1:
                out[c] = 100 * completion[c]
            else:
                out[c] = 60 + 40 * _percent_rank(earned, group)[c]
    else:
        raise ValueError(f"unknown base method {method!r}")
    return out


def evaluation_scores(ratings: Sequence[Mapping], p: ScoringParams) -> dict[str, float]:
    """S_eval per ratee: trimmed tier means, weights renormalised over present tiers (rules §3)."""
    by_tier: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        if r["rater_code"] == r["ratee_code"]:
            continue
        composite = sum(p.dimension_weights[d] * r[d] for d in DIMENSIONS)
        by_tier[r["ratee_code"]][r["rater_tier"]].append(composite)
    out = {}
    for ratee, tiers in by_tier.items():
        num = den = 0.0
        for tier, values in tiers.items():
            vals = sorted(values)
            if len(vals) >= p.trim_min_raters:
                vals = vals[1:-1]
            num += p.tier_weights[tier] * sum(vals) / len(vals)
            den += p.tier_weights[tier]
        out[ratee] = num / den
    return out


def band(q: float, p: ScoringParams) -> str:
    for grade, floor in p.bands:
        if q >= floor:
            return grade
    return QUARTER_GRADES[-1]


def quarterly_grades(
    s_task: Mapping[str, float],
    s_eval: Mapping[str, float],
    adjustments: Mapping[str, float],
    p: ScoringParams,
) -> tuple[dict[str, float], dict[str, str]]:
    """Q and grade with the unit's 好 quota applied (rules §4). Unrated participants are left out."""
    q: dict[str, float] = {}
    for c, se in s_eval.items():
        a = min(p.adjustment_max, max(p.adjustment_min, adjustments.get(c, 0.0)))
        q[c] = min(100.0, max(0.0, p.task_weight * s_task.get(c, 0.0) + p.eval_weight * se + a))
    grades = {c: band(v, p) for c, v in q.items()}
    cap = max(1, math.floor(p.top_quota * len(q)))
    top = sorted((c for c in q if grades[c] == "好"), key=lambda c: (-q[c], -s_eval[c], c))
    for c in top[cap:]:
        grades[c] = "较好"
    return q, grades
