"""The differencing attack on every published person: no withheld tier mean can be solved for exactly.

The attacker holds one published file (the city file, or one county file) and the rules (weights). For
every person and quarter with a withheld tier mean, they work out the evaluation score any way the
published figures allow (published directly; from quarter_score, task_score and the adjustment; from the
fair score and its difference; from the year's regular_avg or annual_score and the other quarters) and
subtract the published tier means. A tier mean is exposed when it is then the only unknown.

The same attack on the private work warehouse (primary suppression only, as published before) must
succeed and match the true tier means: the attack is real, and the published files defeat it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.domain.rules import load_rules
from pipelines.publish.audit import rater_anonymity
from pipelines.publish.suppression import COMPLEMENTARY, PRIMARY, apply_secondary_suppression
from pipelines.publish.warehouse import layout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Exposure:
    quarter: str
    unit_code: str
    person_code: str
    rater_tier: str
    solved: float
    via: str


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [
        {n: float(v) if isinstance(v, Decimal) else v for n, v in zip(names, r, strict=True)}
        for r in cur.fetchall()
    ]


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _quarter_scores_from_year(con: duckdb.DuckDBPyConnection, persons: list[dict]) -> dict[tuple, float]:
    """A withheld quarter_score recovered from the year's regular_avg (or annual_score) and the others."""
    if not _has(con, "marts", "fct_person_year"):
        return {}
    years = {(r["rules_year"], r["person_key"]): r for r in _rows(con, "select * from marts.fct_person_year")}
    by_year: dict[tuple, list[dict]] = defaultdict(list)
    for p in persons:
        if p["is_scored"]:
            by_year[(p["rules_year"], p["person_key"])].append(p)
    out = {}
    for key, quarters in by_year.items():
        year = years.get(key)
        if year is None:
            continue
        regular = year["regular_avg"]
        share = year["applied_regular_share"]
        if (
            regular is None
            and year["annual_score"] is not None
            and share
            and year["year_end_score"] is not None
        ):
            regular = (year["annual_score"] - (1 - share) * year["year_end_score"]) / share
        unknown = [q for q in quarters if q["quarter_score"] is None]
        if regular is None or len(unknown) != 1 or len(quarters) != year["n_scored_quarters"]:
            continue
        known = sum(q["quarter_score"] for q in quarters if q["quarter_score"] is not None)
        p = unknown[0]
        out[(p["quarter"], p["unit_code"], p["person_code"])] = regular * len(quarters) - known
    return out


def attack(path: Path) -> tuple[list[Exposure], int]:
    """Every withheld tier mean the published figures of `path` give back; and how many were attacked."""
    with duckdb.connect(str(path), read_only=True) as con:
        tiers = _rows(con, "select * from marts.fct_person_tier_score")
        persons = _rows(con, "select * from marts.fct_person_quarter")
        fair = (
            _rows(con, "select * from quality.fct_person_fair_score")
            if _has(con, "quality", "fct_person_fair_score")
            else []
        )
        from_year = _quarter_scores_from_year(con, persons)
    by_person: dict[tuple, list[dict]] = defaultdict(list)
    for t in tiers:
        by_person[(t["quarter"], t["unit_code"], t["person_code"])].append(t)
    fair_by = {(f["quarter"], f["unit_code"], f["ratee_code"]): f for f in fair}
    exposures, attacked = [], 0
    for p in persons:
        key = (p["quarter"], p["unit_code"], p["person_code"])
        rows = by_person.get(key, [])
        unknown = [t for t in rows if t["tier_mean_score"] is None]
        if not unknown:
            continue
        attacked += 1
        quarterly = load_rules(p["rules_year"]).quarterly
        evals: list[tuple[str, float]] = []
        if p["eval_score"] is not None:
            evals.append(("eval_score", p["eval_score"]))
        q = p["quarter_score"] if p["quarter_score"] is not None else from_year.get(key)
        if (
            q is not None
            and 0 < q < 100
            and p["task_score"] is not None
            and p["adjustment_points"] is not None
        ):
            via = "quarter_score" if p["quarter_score"] is not None else "regular_avg/annual_score"
            evals.append(
                (
                    via,
                    (q - quarterly.task_weight * p["task_score"] - p["adjustment_points"])
                    / quarterly.eval_weight,
                )
            )
        f = fair_by.get(key)
        if f is not None and f["s_eval"] is not None:
            evals.append(("fair s_eval", f["s_eval"]))
        if f is not None and f["s_eval_fair"] is not None and f["fair_minus_official"] is not None:
            evals.append(("fair difference", f["s_eval_fair"] - f["fair_minus_official"]))
        if len(unknown) != 1 or not evals:
            continue
        hidden = unknown[0]
        weight_present = sum(t["tier_weight"] for t in rows)
        known = sum(t["tier_weight"] * t["tier_mean_score"] for t in rows if t["tier_mean_score"] is not None)
        via, eval_score = evals[0]
        solved = (eval_score * weight_present - known) / hidden["tier_weight"]
        exposures.append(Exposure(*key, hidden["rater_tier"], solved, via))
    return exposures, attacked


def _published_files(city: Path) -> list[Path]:
    lay = layout(city / "warehouse")
    return [lay.published.resolve(), *sorted(lay.counties.resolve().glob("*.duckdb"))]


def test_the_attack_works_on_primary_suppression_alone(published_city: Path, tmp_path: Path) -> None:
    """The private warehouse's marts carry primary suppression only, as the published file did before:
    the attack recovers withheld tier means there, equal to the true ones."""
    work = layout(published_city / "warehouse").work
    exposures, attacked = attack(work)
    assert attacked and exposures, "the fixture city should have people with one withheld tier"
    with duckdb.connect(str(work), read_only=True) as con:
        truth = {
            tuple(r[:4]): r[4]
            for r in con.execute(
                "select quarter, unit_code, person_code, rater_tier, tier_score "
                "from intermediate.int_person_tier_scores"
            ).fetchall()
        }
    for e in exposures:
        true = truth[(e.quarter, e.unit_code, e.person_code, e.rater_tier)]
        assert e.solved == pytest.approx(true, abs=TOLERANCE), e
    print(f"\nprimary suppression only: {len(exposures)} of {attacked} person-quarters exposed")


def test_no_withheld_tier_mean_can_be_worked_back_in_the_city_file_or_any_county_file(
    published_city: Path,
) -> None:
    files = _published_files(published_city)
    assert len(files) > 2
    total = 0
    for path in files:
        exposures, attacked = attack(path)
        assert exposures == [], f"{path.name}: {exposures[:3]}"
        total += attacked
    print(f"\npublished: 0 exposures over {total} attacked person-quarters in {len(files)} files")
    assert total  # people with withheld tiers were attacked, in the city file and the county files


def test_the_suppression_keeps_official_figures_and_says_why(published_city: Path) -> None:
    published = _published_files(published_city)[0]
    with duckdb.connect(str(published), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select suppression, count(*) from marts.fct_person_tier_score "
                "where is_suppressed group by all"
            ).fetchall()
        )
        assert kinds.get(PRIMARY) and kinds.get(COMPLEMENTARY)
        assert set(kinds) <= {PRIMARY, COMPLEMENTARY}
        # Grades are never withheld; quarter_score only where the person's only raters were 1–2 people.
        lost = con.execute(
            "select count(*) filter (where is_scored and computed_grade is null), "
            "count(*) filter (where is_score_withheld), count(*) filter (where is_scored) "
            "from marts.fct_person_quarter"
        ).fetchone()
        print(f"\nsuppressed tiers {kinds}; quarter_score withheld {lost[1]} of {lost[2]} scored")
        assert lost[0] == 0 and lost[1] <= lost[2] * 0.02
    assert rater_anonymity(published) == []


def _tiny_analyst_file(path: Path) -> None:
    """Three people: one withheld tier among published ones, one lone withheld tier, two withheld tiers."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema quality")
        con.execute(
            "create table marts.fct_person_tier_score (quarter varchar, rules_year integer, "
            "unit_code varchar, person_code varchar, rater_tier varchar, n_raters integer, "
            "tier_weight double, is_suppressed boolean, tier_mean_score double)"
        )
        rows = [
            ("P1", "科室工作人员", 5, 0.20, 80.0),
            ("P1", "科室负责人", 1, 0.25, None),
            ("P1", "分管领导", 3, 0.30, 90.0),
            ("P1", "服务对象", 4, 0.15, 70.0),
            ("P2", "分管领导", 1, 0.30, None),
            ("P3", "科室工作人员", 6, 0.20, 85.0),
            ("P3", "科室负责人", 2, 0.25, None),
            ("P3", "分管领导", 1, 0.30, None),
        ]
        con.executemany(
            "insert into marts.fct_person_tier_score values ('2025Q3', 2025, 'U1', ?, ?, ?, ?, ? < 3, ?)",
            [(p, t, n, w, n, m) for p, t, n, w, m in rows],
        )
        con.execute(
            "create table marts.fct_person_quarter as select * from (values "
            "('2025Q3', 2025, 'U1', 'P1', 'k1', 84.0, 85.0, 1.0, 85.0, true, '好'), "
            "('2025Q3', 2025, 'U1', 'P2', 'k2', 88.0, 80.0, 0.0, 84.8, true, '较好'), "
            "('2025Q3', 2025, 'U1', 'P3', 'k3', 86.0, 82.0, 0.0, 83.6, true, '较好')) "
            "as t(quarter, rules_year, unit_code, person_code, person_key, eval_score, task_score, "
            "adjustment_points, quarter_score, is_scored, computed_grade)"
        )
        for column in ("eval_score", "task_score", "adjustment_points", "quarter_score"):
            con.execute(f"alter table marts.fct_person_quarter alter {column} type double")
        con.execute(
            "create table quality.fct_person_fair_score as select quarter, unit_code, "
            "person_code as ratee_code, eval_score as s_eval, eval_score + 1 as s_eval_fair, "
            "1.0 as fair_minus_official "
            "from marts.fct_person_quarter"
        )
        con.execute(
            "create table marts.fct_person_year as select rules_year, person_key, "
            "quarter_score as regular_avg, quarter_score as annual_score, "
            "1.0 as applied_regular_share, 0.0 as year_end_score, "
            "1 as n_scored_quarters from marts.fct_person_quarter"
        )


def test_each_rule_on_a_tiny_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.duckdb"
    _tiny_analyst_file(path)
    before, _ = attack(path)
    assert {(e.person_code, e.rater_tier) for e in before} == {("P1", "科室负责人"), ("P2", "分管领导")}
    with duckdb.connect(str(path)) as con:
        counts = apply_secondary_suppression(con)
        assert counts == {"complementary_tiers": 1, "scores_withheld": 1, "finding_scores": 0}
        # P1: the heaviest published tier (分管领导) is withheld beside the primary one; scores stay.
        assert con.execute(
            "select rater_tier from marts.fct_person_tier_score where suppression = ?", [COMPLEMENTARY]
        ).fetchall() == [("分管领导",)]
        scores = dict(
            (r[0], r[1:])
            for r in con.execute(
                "select person_code, eval_score, quarter_score, computed_grade, is_score_withheld "
                "from marts.fct_person_quarter"
            ).fetchall()
        )
        assert scores["P1"] == (84.0, 85.0, "好", False)
        assert scores["P2"] == (None, None, "较好", True)  # lone tier: only the grade is published
        # Two withheld tiers already protect each other.
        assert scores["P3"] == (86.0, 83.6, "较好", False)
        assert con.execute(
            "select s_eval, s_eval_fair, fair_minus_official from quality.fct_person_fair_score "
            "where ratee_code = 'P2'"
        ).fetchone() == (None, None, None)
        assert con.execute(
            "select regular_avg, annual_score from marts.fct_person_year where person_key = 'k2'"
        ).fetchone() == (None, None)
    after, attacked = attack(path)
    assert after == [] and attacked == 3
