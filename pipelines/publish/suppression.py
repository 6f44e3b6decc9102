"""Secondary suppression in the analyst file: no published combination gives back a withheld tier mean.

Primary suppression happens in dbt: a tier mean over fewer than 3 raters is NULL in
marts.fct_person_tier_score. The published figures tie that mean to others by exact relations (rules.md
§3–4), per person and quarter:

    (E)  eval_score · tier_weight_present = Σ over the person's tiers of tier_weight · tier_mean
    (Q)  quarter_score = clip(task_weight · task_score + eval_weight · eval_score + adjustment_points)
    (F)  s_eval = eval_score;  s_eval_fair − fair_minus_official = eval_score  (quality.fct_person_fair_score)
    (Y)  regular_avg = mean of the year's quarter_score;  annual_score = share · regular_avg + (1 − share) ·
         year_end_score                                                          (marts.fct_person_year)

Only (E) involves tier means, so a withheld mean can be solved for exactly when it is the only unknown in
(E) while eval_score is known (published, or worked back through Q, F or Y). The rules, like a statistical
office's complementary suppression:

1. one withheld tier and at least one published tier: the published tier with the largest weight is
   withheld too ("complementary"): (E) then has two unknowns, and the widest feasible range for each;
   eval_score, quarter_score and the grade stay published;
2. one withheld tier and no other tier (the person's only raters are one or two people of one tier):
   eval_score is that tier's mean, so eval_score and quarter_score are withheld (is_score_withheld) and
   only the grade band is published; the fair-score figures of that person and quarter and the
   year's regular_avg and annual_score (which give quarter_score back) are withheld as well;
3. two or more withheld tiers: (E) already has two unknowns; nothing more is needed.

Quality findings that tie one named internal rater to one ratee (withhold_rater_scores) keep the finding
but not the score that rater gave.

The private work warehouse keeps every figure; only the analyst export (and the county extracts cut from
it) is changed. docs/security.md explains the design; tests/publish/test_suppression.py runs the
differencing attack on every published person.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from pipelines.domain.template import NAMED_TIERS

PRIMARY = "fewer_than_3_raters"
DECIMAL_FIGURE = r"-?[0-9]+\.[0-9]+"
WITHHELD_TEXT = "（已隐去）"
COMPLEMENTARY = "complementary"

TIERS = "marts.fct_person_tier_score"
PERSON_QUARTER = "marts.fct_person_quarter"
FAIR = "quality.fct_person_fair_score"
PERSON_YEAR = "marts.fct_person_year"


def _present(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


# A7 (reciprocal inflation) names two raters who are each other's ratee: its row has no ratee_code, yet
# every figure in it is what one of the two gave the other.
RECIPROCAL_CODES = ("A7",)
# Columns of a finding row that are, or are worked out from, the score a rater gave (the review queue's
# p and q are monotone in the distance from the consensus; its confidence is 1 - q).
SCORE_COLUMNS = ("value", "p_value", "q_value", "confidence")


def ties_rater_to_ratee(columns: Collection[str]) -> tuple[str, list[object]]:
    """The SQL condition (and its parameters) for a finding row that shows what a rater gave another
    person: a ratee other than the rater (A8, and A7 rows written with one), or a reciprocal pair."""
    condition = "(ratee_code is not null and rater_code is not null and rater_code <> ratee_code)"
    if {"code", "rater_code_2"} <= set(columns):
        reciprocal = "(rater_code_2 is not null and code in (select unnest(?::varchar[])))"
        return f"({condition} or {reciprocal})", [list(RECIPROCAL_CODES)]
    return condition, []


def withhold_rater_scores(con: duckdb.DuckDBPyConnection) -> int:
    """A quality finding about one named internal rater and one ratee (an outlier rating, a pair that
    inflates each other) keeps its code, alias and counts, but not the score: `value`, p, q and confidence
    are withheld, every decimal figure of the explanation (printf %.1f: the composite, the others' median,
    the distance) becomes 「（已隐去）」, and the review queue's `evidence` keeps only its metric and count.
    With one 分管领导 or 科室负责人 per section, the tier alone names the rater, so an alias does not hide
    them."""
    tables = con.execute(
        "select table_schema, table_name, list(column_name) from information_schema.columns "
        "where table_catalog = current_database() group by all"
    ).fetchall()
    changed = 0
    for schema, name, columns in tables:
        cols = set(columns)
        if not {"rater_code", "ratee_code", "rater_tier", "explanation_zh"} <= cols:
            continue
        ref = f'"{schema}"."{name}"'
        sets = ["explanation_zh = regexp_replace(explanation_zh, ?, ?, 'g')"]
        params: list[object] = [DECIMAL_FIGURE, WITHHELD_TEXT]
        if {"evidence", "metric", "n"} <= cols:
            sets.append("evidence = concat_ws('; ', metric || ' = ' || ?, 'n = ' || n)")
            params.append(WITHHELD_TEXT)
        sets += [f"{column} = null" for column in SCORE_COLUMNS if column in cols]
        tied, tied_params = ties_rater_to_ratee(cols)
        changed += con.execute(
            f"update {ref} set {', '.join(sets)} "
            f"where {tied} and rater_tier in (select unnest(?::varchar[]))",
            [*params, *tied_params, list(NAMED_TIERS)],
        ).fetchone()[0]
    return changed


def apply_secondary_suppression(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Apply the rules above to the analyst tables of the current catalog; returns what was withheld."""
    withheld_findings = withhold_rater_scores(con)
    present = _present(con)
    if TIERS not in present:
        return {"finding_scores": withheld_findings}
    con.execute(f"alter table {TIERS} add column if not exists suppression varchar")
    con.execute(f"update {TIERS} set suppression = ? where is_suppressed", [PRIMARY])
    con.execute(
        f"""
        create or replace temp table suppression_counts as
        select quarter, unit_code, person_code,
            count(*) filter (where is_suppressed) as n_withheld,
            count(*) filter (where not is_suppressed) as n_shown
        from {TIERS}
        group by quarter, unit_code, person_code
        """
    )
    # Rule 1: the complementary cell is the published tier with the largest weight (ties: fewest raters,
    # then tier name, so the choice is deterministic).
    con.execute(
        f"""
        create or replace temp table complement as
        select t.quarter, t.unit_code, t.person_code, t.rater_tier
        from {TIERS} as t
        inner join suppression_counts as c
            on t.quarter = c.quarter and t.unit_code = c.unit_code and t.person_code = c.person_code
        where c.n_withheld = 1 and c.n_shown >= 1 and not t.is_suppressed
        qualify row_number() over (
            partition by t.quarter, t.unit_code, t.person_code
            order by t.tier_weight desc, t.n_raters asc, t.rater_tier
        ) = 1
        """
    )
    con.execute(
        f"""
        update {TIERS} as t set tier_mean_score = null, is_suppressed = true, suppression = ?
        from complement as c
        where t.quarter = c.quarter and t.unit_code = c.unit_code and t.person_code = c.person_code
            and t.rater_tier = c.rater_tier
        """,
        [COMPLEMENTARY],
    )
    # Rule 2: the evaluation score is the withheld tier mean itself.
    con.execute(
        "create or replace temp table score_withheld as "
        "select quarter, unit_code, person_code from suppression_counts where n_withheld = 1 and n_shown = 0"
    )
    counts = {
        "complementary_tiers": con.execute("select count(*) from complement").fetchone()[0],
        "scores_withheld": con.execute("select count(*) from score_withheld").fetchone()[0],
        "finding_scores": withheld_findings,
    }
    if PERSON_QUARTER in present:
        con.execute(f"alter table {PERSON_QUARTER} add column if not exists is_score_withheld boolean")
        con.execute(f"update {PERSON_QUARTER} set is_score_withheld = false")
        con.execute(
            f"""
            update {PERSON_QUARTER} as p
            set eval_score = null, quarter_score = null, is_score_withheld = true
            from score_withheld as w
            where p.quarter = w.quarter and p.unit_code = w.unit_code and p.person_code = w.person_code
            """
        )
    if FAIR in present:
        con.execute(
            f"""
            update {FAIR} as f set s_eval = null, s_eval_fair = null, fair_minus_official = null
            from score_withheld as w
            where f.quarter = w.quarter and f.unit_code = w.unit_code and f.ratee_code = w.person_code
            """
        )
    if PERSON_YEAR in present and PERSON_QUARTER in present:
        con.execute(f"alter table {PERSON_YEAR} add column if not exists is_score_withheld boolean")
        con.execute(f"update {PERSON_YEAR} set is_score_withheld = false")
        con.execute(
            f"""
            update {PERSON_YEAR} as y
            set regular_avg = null, annual_score = null, is_score_withheld = true
            where exists (
                select 1 from {PERSON_QUARTER} as p
                where p.is_score_withheld and p.person_key = y.person_key and p.rules_year = y.rules_year
            )
            """
        )
    for name in ("suppression_counts", "complement", "score_withheld"):
        con.execute(f"drop table temp.{name}")
    return counts
