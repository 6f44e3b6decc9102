"""Build one unit's quarterly submission content: roster, sections, tasks, ratings and the rest."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from pipelines.domain.quarters import Quarter
from pipelines.domain.template import QUARTER_GRADES
from pipelines.synthetic import names
from pipelines.synthetic.anomalies import Label, inject_rater_anomalies
from pipelines.synthetic.population import Member, Person
from pipelines.synthetic.rates import AnomalyRates, MessRates
from pipelines.synthetic.ratings import (
    LENIENCY_SD,
    TIER_OFFSET,
    UNIT_LEVEL_MEAN,
    RaterPlan,
    draw_scores,
    plan_raters,
)
from pipelines.synthetic.self_scoring import (
    ScoringParams,
    base_scores,
    evaluation_scores,
    quarterly_grades,
    task_volume,
)
from pipelines.synthetic.workbook import UnitWorkbook

# Work follows capacity (docs/generator.md, "Work"): a person's share of the quarter's task points is
# e^{0.5·workload + 0.2·θ (+ 0.3 for a head) + 0.15·N(0,1)}, workload being a trait for life
# (Person.workload), the last term the quarter's swing. Tasks are handed out biggest first, each to a
# person drawn with weight (points of room left)^6, so the plan is met closely but not exactly.
CAP_WORKLOAD, CAP_THETA, CAP_HEAD, CAP_SWING = 0.5, 0.2, 0.3, 0.15
CAP_SHARPNESS = 6.0
ROTATION_BEHIND = 0.4  # U1: tasks led by those who just had their turn fall behind at least this often
ROTATION_CAPACITY = 1.5  # U1: the people whose turn it is get e^{1.5} ≈ 4.5 times the share
OUT_OF_PLAN = -1.1  # left out of the plan when workload + 0.4·N(0,1) < -1.1, ≈ 15 % of staff
# Chance a task falls behind (滞后): 1 / (1 + e^{4.2 + 5·ability of the people on it}), ≈ 13 % overall.
LATE_INTERCEPT, LATE_SLOPE = 4.2, 5.0
# 轮流坐庄 (U1): rating signal by the person's place in the unit's rotation this quarter.
ROTATION_SIGNAL = {"turn": 2.4, "wait": -0.6, "after": -1.6}
HIGH_PROFILE_SOURCES = ("市委重点任务", '"83"工程')
SOURCE_P = (0.25, 0.15, 0.45, 0.15)
# Share of an honest rater's signal that is this quarter's delivered work (the rest is the person, θ);
# scenarios (pipelines/synthetic/scenarios.py) lower it for a weakly coupled city.
TASK_WEIGHT = 0.5


@dataclass(frozen=True)
class UnitTraits:
    """What a unit is like, stable across quarters."""

    sloppy: bool
    proposes_grades: bool
    declared_share: dict[int, float]  # year -> declared regular share (Q4)
    level_effect: float  # the unit's general rating level
    year_anomaly: dict[int, str | None]  # year -> "grade_rotation" / "proposed_grade_gaming" / None
    rotation: dict[int, dict[int, int]] = field(default_factory=dict)  # year -> pid -> group (U1)


@dataclass
class UnitQuarter:
    workbook: UnitWorkbook
    labels: list[Label] = field(default_factory=list)
    raters: list[dict] = field(default_factory=list)  # true leniency per rater
    persons: list[dict] = field(default_factory=list)  # who is who (ground truth, with national IDs)
    participants: int = 0
    scores: dict[str, tuple[int, float, str]] = field(default_factory=dict)  # code -> (pid, Q, grade)


def _rank(member: Member, person: Person, level: str, year: int) -> str:
    if member.is_leader:
        return names.LEADER_RANK[level][0 if member.leader_rank == 0 else 1]
    if member.is_head:
        return names.SECTION_HEAD_RANK[level]
    years = year - person.service_start
    bands = (2, 6, 10, 15, 20, 26)
    i = sum(years >= b for b in bands)
    if level != "市直":
        i = min(i, len(names.RANKS) - 2)
    return names.RANKS[i]


def _tasks(
    quarter: Quarter,
    participants: list[str],
    section_of: dict[str, str],
    heads: set[str],
    theta: dict[str, float],
    workload: dict[str, float],
    sloppy: bool,
    mess: MessRates,
    rng: np.random.Generator,
    favoured: frozenset[str] | set[str] = frozenset(),
    fallen_back: frozenset[str] | set[str] = frozenset(),
) -> list[dict]:
    """The unit's key tasks this quarter.

    `favoured` (a rotating unit, U1) are the people whose turn it is: the plan gives them a far larger
    share (they lead the big tasks, nobody asks them to assist) and their tasks are reported on schedule;
    the tasks led by those who just had their turn (`fallen_back`) are reported behind more often.
    """
    staff = [c for c in participants if section_of[c] != names.LEADERSHIP_SECTION]
    if not staff:
        return []
    by_section: dict[str, list[str]] = {}
    for c in staff:
        by_section.setdefault(section_of[c], []).append(c)
    n_tasks = max(3, round(0.75 * len(staff) * float(rng.uniform(0.85, 1.15))))
    tasks: list[dict] = []
    load = dict.fromkeys(staff, 0)
    drafts = []
    for _ in range(n_tasks):
        source = ("市委重点任务", '"83"工程', "单位年度重点", "临时交办")[int(rng.choice(4, p=SOURCE_P))]
        bump = 1 if source in HIGH_PROFILE_SOURCES else 0
        intensity = int(np.clip(rng.integers(1, 5) + bump, 1, 5))
        difficulty = int(np.clip(rng.integers(1, 5) + bump, 1, 5))
        quantity = float(rng.choice([1, 1, 2, 2, 3, 4, 5, 6, 8, 10]))
        if rng.random() < 0.15:
            quantity += 0.5
        weight = quantity * (1 + 0.25 * (intensity - 1)) * (1 + 0.25 * (difficulty - 1))
        drafts.append((source, intensity, difficulty, quantity, weight))
    # Work follows capacity: the unit shares the quarter's task points out by what each person carries
    # (Person.workload, a trait for life, and ability), with a modest quarterly swing; every task goes
    # to the people with the most room left, so a person's volume persists from quarter to quarter.
    # Some people are left out of the quarter's plan (routine work, training, a secondment): mostly
    # those who carry little. The 人人头上有指标 step below gives most of them an assisting role.
    in_plan = [
        c for c in staff if c in favoured or workload[c] + 0.4 * float(rng.normal()) >= OUT_OF_PLAN
    ] or staff
    capacity = {
        c: math.exp(
            CAP_WORKLOAD * workload[c]
            + CAP_THETA * theta[c]
            + (CAP_HEAD if c in heads else 0.0)
            + CAP_SWING * float(rng.normal())
            + (ROTATION_CAPACITY if c in favoured else 0.0)
        )
        for c in in_plan
    }
    total_cap, total_weight = sum(capacity.values()), sum(d[-1] for d in drafts)
    room = {c: v / total_cap * total_weight for c, v in capacity.items()}
    floor = 0.02 * total_weight / len(in_plan)

    def pick(pool: list[str], k: int) -> list[str]:
        w = np.array([max(room[c], floor) ** CAP_SHARPNESS for c in pool])
        return [pool[int(i)] for i in rng.choice(len(pool), min(k, len(pool)), replace=False, p=w / w.sum())]

    assigned: dict[int, dict] = {}
    for k in sorted(range(len(drafts)), key=lambda i: (-drafts[i][-1], i)):  # biggest first
        source, intensity, difficulty, quantity, weight = drafts[k]
        n_assist = int(rng.choice(4, p=(0.3, 0.35, 0.25, 0.1)))
        lead = pick(in_plan, 1)[0]
        members = by_section[section_of[lead]]  # assistants come from the lead's section
        pool = [c for c in members if c != lead and c in room and c not in favoured]
        if rng.random() < 0.2:  # cross-section cooperation
            pool = [c for c in in_plan if c != lead and c not in favoured]
        assists = pick(pool, n_assist) if pool else []
        room[lead] -= weight * (0.6 if assists else 1.0)
        for c in assists:
            room[c] -= weight * 0.4 / len(assists)
        due = quarter.first_day + timedelta(days=int(rng.integers(25, 300)))
        drivers = [lead, *assists]
        ability = float(np.mean([theta[c] for c in drivers]))
        p_late = 1 / (1 + math.exp(LATE_INTERCEPT + LATE_SLOPE * ability))
        if lead in fallen_back:
            p_late = max(p_late, ROTATION_BEHIND)
        u = rng.random()
        if lead in favoured:  # the favoured's tasks are reported on schedule
            status = "已完成" if due <= quarter.last_day else "按进度推进"
        elif u < 0.02:
            status = "未启动"
        elif u < 0.02 + p_late:
            status = "滞后"
        else:
            status = "已完成" if due <= quarter.last_day else "按进度推进"
        u = rng.random()
        if u < mess.unassigned_task:
            lead, assists = None, []
        elif u < mess.unassigned_task + mess.lead_missing and assists:
            lead = None
        for c in (lead, *assists):
            if c:
                load[c] += 1
        topic = names.TASK_TOPICS[int(rng.integers(0, len(names.TASK_TOPICS)))]
        action = names.TASK_ACTIONS[int(rng.integers(0, len(names.TASK_ACTIONS)))]
        template = names.TARGET_TEMPLATES[int(rng.integers(0, len(names.TARGET_TEMPLATES)))]
        assigned[k] = {
            "task_code": f"T{k + 1:03d}",
            "task_name": f"{topic}{action}",
            "task_source": source,
            "target": template.format(
                quarter=f"{quarter.q}季度",
                n=int(rng.integers(2, 9)),
                pct=int(rng.choice([85, 90, 95, 98, 100])),
            ),
            "deadline": due,
            "lead_code": lead,
            "assist_codes": assists,
            "intensity": intensity,
            "difficulty": difficulty,
            "quantity": quantity,
            "status": status,
        }
    tasks = [assigned[k] for k in range(len(drafts))]
    # 人人头上有指标: a diligent unit gives everyone without a task an assisting role.
    keep_idle = 0.12 if sloppy else 0.01
    for c in staff:
        if load[c] == 0 and rng.random() >= keep_idle:
            own = [
                t for t in tasks if t["lead_code"] and section_of.get(t["lead_code"]) == section_of[c]
            ] or tasks
            own[int(rng.integers(0, len(own)))]["assist_codes"].append(c)
    return tasks


def _zscores(values: dict[str, float]) -> dict[str, float]:
    arr = np.array(list(values.values()), dtype=float)
    sd = float(arr.std()) or 1.0
    mean = float(arr.mean())
    return {k: (v - mean) / sd for k, v in values.items()}


def _leaders_of_sections(members: list[Member], sections: list[str]) -> dict[str, str]:
    """The head leads the leadership team; the deputies share the other sections in turn."""
    leaders = sorted((m for m in members if m.is_leader), key=lambda m: m.leader_rank)
    deputies = leaders[1:] or leaders[:1]
    return {
        s: leaders[0].person_code
        if s == names.LEADERSHIP_SECTION
        else deputies[i % len(deputies)].person_code
        for i, s in enumerate(sections)
    }


def _quarter_anomaly(
    year_anomaly: str | None, n_participants: int, anomalies: AnomalyRates, rng: np.random.Generator
) -> str | None:
    """A unit-level pattern for this quarter alone (U2, U3), unless the year already has one."""
    if year_anomaly is not None or n_participants < 10:
        return None
    u = rng.random()
    if u < anomalies.rating_work_decoupling:
        return "rating_work_decoupling"
    if u < anomalies.rating_work_decoupling + anomalies.score_inflation:
        return "score_inflation"
    return None


def _rating_signal(
    participants: list[str],
    theta: dict[str, float],
    s_task: dict[str, float],
    people: dict[int, Person],
    by_code: dict[str, Member],
    traits: UnitTraits,
    quarter: Quarter,
    year_anomaly: str | None,
    quarter_anomaly: str | None,
) -> tuple[dict[str, float], float]:
    """What raters respond to, per ratee, and the unit's rating level.

    Honest raters see both the person (θ) and the work they delivered this quarter (S_task).
    """
    z_theta = _zscores({c: theta[c] for c in participants}) if participants else {}
    z_task = _zscores({c: s_task[c] for c in participants}) if participants else {}
    signal = {c: (1 - TASK_WEIGHT) * z_theta[c] + TASK_WEIGHT * z_task[c] for c in participants}
    unit_level = UNIT_LEVEL_MEAN + traits.level_effect
    if quarter_anomaly == "rating_work_decoupling":
        # 论资排辈: ratings follow seniority and run against the work people actually did.
        person = {c: people[by_code[c].pid] for c in participants}
        seniority = _zscores({c: -p.service_start + 0.3 * p.seniority_noise for c, p in person.items()})
        signal = {c: 0.5 * seniority[c] - 0.6 * z_task[c] - 0.3 * z_theta[c] for c in participants}
    elif quarter_anomaly == "score_inflation":
        # The whole unit rates higher by 6–10 points; near the ceiling the cap takes part of it.
        unit_level += 6.0 + 4.0 * _unit_draw(traits, quarter)
    elif year_anomaly == "grade_rotation":
        # 轮流坐庄: the third whose turn it is is talked up, the third who just had it falls back.
        place = rotation_place(traits, quarter, [by_code[c].pid for c in participants])
        signal = {c: 0.2 * signal[c] + ROTATION_SIGNAL[place[by_code[c].pid]] for c in participants}
    return signal, unit_level


def _unit_draw(traits: UnitTraits, quarter: Quarter) -> float:
    """A uniform draw in [0, 1) fixed by the unit's traits and the quarter, without touching the
    quarter's random stream (so adding a draw does not reshuffle everything drawn after it)."""
    seed = [int(traits.level_effect * 1e6) & 0xFFFFFFFF, quarter.year, quarter.q]
    return float(np.random.default_rng(seed).random())


def rotation_place(traits: UnitTraits, quarter: Quarter, pids: list[int]) -> dict[int, str]:
    """Each person's place in a rotating unit's plan this quarter: turn, wait or after (had it last).

    The unit splits the staff it has at the start of the year into three groups that take the 好 in
    turn (the first group again in Q4); people who join later wait.
    """
    groups = traits.rotation.get(quarter.year, {})
    turn, after = (quarter.q - 1) % 3, (quarter.q - 2) % 3
    return {
        p: "turn" if groups.get(p) == turn else "after" if groups.get(p) == after else "wait" for p in pids
    }


def _rater_leniency(
    plan: RaterPlan, by_code: dict[str, Member], people: dict[int, Person], rng: np.random.Generator
) -> dict[tuple[str, str], float]:
    """Leniency in points per (tier, rater): a named rater keeps their temperament across quarters."""
    leniency: dict[tuple[str, str], float] = {}
    for tier, rater in zip(plan.tier, plan.rater, strict=True):
        if (tier, rater) not in leniency:
            if rater in by_code:
                leniency[(tier, rater)] = people[by_code[rater].pid].leniency + float(rng.normal(0, 0.4))
            else:
                leniency[(tier, rater)] = float(rng.normal(0, LENIENCY_SD))
    return leniency


def _adjustments(
    participants: list[str], rng: np.random.Generator, favoured: frozenset[str] | set[str] = frozenset()
) -> list[dict]:
    """Commendations and reprimands (加减分) for a few people.

    In a rotating unit (U1) the people whose turn it is get a commendation within the +5 clip instead.
    """

    def item(code: str, points: float, reasons: tuple[str, ...]) -> dict:
        return {"person_code": code, "points": points, "reason": reasons[int(rng.integers(0, len(reasons)))]}

    out: list[dict] = []
    for c in participants:
        u = rng.random()
        if c in favoured:
            out.append(item(c, float(rng.integers(3, 6)), names.ADJUSTMENT_REASONS_PLUS))
        elif u < 0.05:
            out.append(item(c, float(rng.integers(1, 6)), names.ADJUSTMENT_REASONS_PLUS))
        elif u < 0.08:
            out.append(item(c, -float(rng.integers(1, 6)), names.ADJUSTMENT_REASONS_MINUS))
        elif u < 0.082:  # two heavy reprimands: the clip at -10 has to catch them
            out += [item(c, -float(rng.integers(6, 11)), names.ADJUSTMENT_REASONS_MINUS) for _ in range(2)]
    return out


def build_unit_quarter(
    unit: dict[str, str],
    quarter: Quarter,
    members: list[Member],
    people: dict[int, Person],
    thetas: dict[int, float],
    traits: UnitTraits,
    rng: np.random.Generator,
    mess: MessRates,
    anomalies: AnomalyRates,
    params: ScoringParams,
    submitted_on: date,
) -> UnitQuarter:
    """Everything one unit reports for one quarter, plus the truth behind it."""
    code, level, method = unit["unit_code"], unit["level"], unit["base_method"]
    members = sorted(members, key=lambda m: m.person_code)
    by_code = {m.person_code: m for m in members}
    participants = [m.person_code for m in members if not (m.is_leader or m.on_leave or m.new_hire)]
    section_of = {m.person_code: m.section for m in members}
    theta = {m.person_code: thetas[m.pid] for m in members}
    heads = {m.section: m.person_code for m in members if m.is_head and m.person_code in participants}
    sections = sorted({m.section for m in members}, key=lambda s: (s != names.LEADERSHIP_SECTION, s))
    leader_of = _leaders_of_sections(members, sections)

    workload = {m.person_code: people[m.pid].workload for m in members}
    year_anomaly = traits.year_anomaly.get(quarter.year)
    favoured: set[str] = set()
    if year_anomaly == "grade_rotation":
        place = rotation_place(traits, quarter, [by_code[c].pid for c in participants])
        favoured = {c for c in participants if place[by_code[c].pid] == "turn"}
    # 轮流坐庄 moves the ratings, the commendations and the 好, not the work: the task plan of a rotating
    # unit is drawn like an honest unit's, so the rotation cannot be seen in S_task (docs/generator.md).
    tasks = _tasks(
        quarter,
        participants,
        section_of,
        set(heads.values()),
        theta,
        workload,
        traits.sloppy,
        mess,
        rng,
    )
    coefficients = {
        s: (1.0 if s == names.LEADERSHIP_SECTION else round(float(rng.uniform(0.85, 1.15)), 2))
        for s in sections
    }
    planned, earned = task_volume(tasks, participants, params)
    category_of = {m.person_code: m.post_category for m in members}
    s_task = base_scores(method, planned, earned, section_of, category_of, coefficients, params)

    quarter_anomaly = _quarter_anomaly(year_anomaly, len(participants), anomalies, rng)
    signal, unit_level = _rating_signal(
        participants, theta, s_task, people, by_code, traits, quarter, year_anomaly, quarter_anomaly
    )

    plan = plan_raters(
        participants, section_of, heads, leader_of, rng, drop_required_share=0.08 if traits.sloppy else 0.0
    )
    leniency = _rater_leniency(plan, by_code, people, rng)
    half_raters = {r for r in sorted(set(plan.rater)) if rng.random() < 0.1}
    table = draw_scores(plan, signal, leniency, unit_level, rng, half_raters)

    period = quarter.key
    labels: list[Label] = []
    shifts: dict[tuple[str, str], float] = {}
    if quarter_anomaly:
        labels.append(Label(quarter_anomaly, period, code))
    elif year_anomaly is None:
        labels += inject_rater_anomalies(
            table, participants, section_of, anomalies, rng, period, code, shifts, leniency
        )
    rating_rows = table.rows()

    adjustments = _adjustments(participants, rng, favoured)
    adj_total: dict[str, float] = {}
    for a in adjustments:
        adj_total[a["person_code"]] = adj_total.get(a["person_code"], 0.0) + a["points"]

    s_eval = evaluation_scores(rating_rows, params)
    q, grades = quarterly_grades(s_task, s_eval, adj_total, params)
    proposed = _proposals(q, grades, people, by_code, traits, year_anomaly, mess, params, rng)

    roster = []
    for m in members:
        person = people[m.pid]
        roster.append(
            {
                "person_code": m.person_code,
                "name": person.name,
                "national_id": person.national_id,
                "section": m.section,
                "rank": _rank(m, person, level, quarter.year),
                "post_category": m.post_category,
                "is_section_head": m.is_head,
                "participates": m.person_code in participants,
                "proposed_grade": proposed.get(m.person_code),
            }
        )
    section_rows = [
        {
            "section": s,
            "section_coefficient": coefficients[s] if method == "section_coefficient" else None,
            "leader_code": leader_of[s],
        }
        for s in sections
    ]
    submitter = next(
        (people[m.pid].name for m in members if m.section in ("办公室", "人事科", "党政办公室")),
        people[members[-1].pid].name,
    )
    unit_info = {
        "unit_code": code,
        "unit_name": unit["unit_name"],
        "quarter": quarter.key,
        "submitted_by": submitter,
        "submitted_on": submitted_on,
        "regular_share": traits.declared_share[quarter.year] if quarter.q == 4 else None,
    }
    sheets = {
        "unit_info": [unit_info],
        "roster": roster,
        "sections": section_rows,
        "tasks": tasks,
        "ratings": rating_rows,
    }
    if adjustments:
        sheets["adjustments"] = adjustments
    if quarter.q == 4:
        sheets["year_end"] = [
            {
                "person_code": c,
                "year_end_score": round(float(np.clip(84 + 4.5 * theta[c] + rng.normal(0, 3), 40, 100)), 1),
            }
            for c in participants
        ]
    severe = {(lb.rater_tier, lb.rater_code) for lb in labels if lb.type == "severe_rater"}
    raters = [
        {
            "quarter": period,
            "unit_code": code,
            "rater_tier": t,
            "rater_code": r,
            # a severe rater's drawn shift replaces its honest temperament (anomalies.py)
            "leniency": round(
                (v if (t, r) not in severe else 0.0) + TIER_OFFSET[t] + shifts.get((t, r), 0.0), 4
            ),
        }
        for (t, r), v in sorted(leniency.items())
    ]
    persons = [
        {
            "quarter": period,
            "unit_code": code,
            "person_code": m.person_code,
            "pid": m.pid,
            "national_id": people[m.pid].national_id,
            "participates": m.person_code in participants,
            "theta": round(theta[m.person_code], 4),
            "is_leader": m.is_leader,
        }
        for m in members
    ]
    wb = UnitWorkbook(code, unit["unit_name"], quarter, sheets)
    scores = {c: (by_code[c].pid, q[c], grades[c]) for c in sorted(q)}
    return UnitQuarter(wb, labels, raters, persons, len(participants), scores)


def _proposals(
    q: dict[str, float],
    grades: dict[str, str],
    people: dict[int, Person],
    by_code: dict[str, Member],
    traits: UnitTraits,
    year_anomaly: str | None,
    mess: MessRates,
    params: ScoringParams,
    rng: np.random.Generator,
) -> dict[str, str]:
    """The grades a unit proposes (拟定等次): its own honest computation, or a gamed list."""
    if not traits.proposes_grades or not q:
        return {}
    cap = max(1, math.floor(params.top_quota * len(q)))
    if year_anomaly == "proposed_grade_gaming":
        # 论资排辈: the quota is filled by seniority, the most junior are marked down.
        by_seniority = sorted(q, key=lambda c: (people[by_code[c].pid].service_start, c))
        out = {}
        for i, c in enumerate(by_seniority):
            out[c] = "好" if i < cap else ("一般" if i >= len(by_seniority) * 0.7 else "较好")
        return out
    out = dict(grades)
    for c in out:  # honest units still slip now and then near a band edge
        if rng.random() < 0.04:
            i = QUARTER_GRADES.index(out[c])
            out[c] = QUARTER_GRADES[min(3, max(0, i + (1 if rng.random() < 0.5 else -1)))]
    if rng.random() < mess.over_quota:
        extra = sorted((c for c in out if out[c] == "较好"), key=lambda c: -q[c])[: int(rng.integers(1, 3))]
        n_top = sum(g == "好" for g in out.values())
        for c in extra:
            out[c] = "好"
        if n_top + len(extra) <= cap:  # make sure the proposal really exceeds the cap
            for c in sorted((c for c in out if out[c] != "好"), key=lambda c: -q[c])[
                : cap + 1 - n_top - len(extra)
            ]:
                out[c] = "好"
    else:
        top = [c for c in out if out[c] == "好"]
        for c in sorted(top, key=lambda c: q[c])[: max(0, len(top) - cap)]:
            out[c] = "较好"
    return out
