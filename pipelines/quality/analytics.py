"""The rating-quality analytics tables (quality.md) as pure functions of the ratings, per quarter.

They run inside the one `dbt build` of a run as dbt Python models (dbt_project/models/analytics: tables
quality.reliability, quality.leniency and quality.fair_scores, read by the annual quality marts through
the macro quality_analytics). Before issue 16 they were Dagster assets between two dbt steps; inside dbt
the quarter's models, these tables and the annual models are one invocation. This module imports no
Dagster and no dbt: dbt's process imports it.

- reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier, and per unit and
  quarter over all tiers (`rater_tier` = '全部').
- leniency: each rater's facets leniency s_r (and standard error) per unit and quarter.
- fair_scores: S_eval next to the rater-severity-adjusted S_eval_fair per person, from the leniencies
  fitted once per quarter by the leniency table.

Self-ratings are excluded throughout. Analytics only: these never change official scores.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from pipelines.domain.constants import ALL_TIERS
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.rules import load_rules
from pipelines.quality.facets import fair_evaluation_scores, fit_facets
from pipelines.quality.reliability import reliability_table

RATINGS_SCHEMA = {
    "quarter": pl.String,
    "unit_code": pl.String,
    "ratee_code": pl.String,
    "rater_tier": pl.String,
    "rater_code": pl.String,
    "composite": pl.Float64,
}
# Self-ratings never count (rules §3); trimming is a scoring rule, not a property of a rating, so the
# analytics see every other rating.
EMPTY_QUARTER = "2025Q1"  # any quarter with committed rules: only the columns of an empty table come from it
COMPOSITES_SQL = """
    select quarter, unit_code, ratee_code, rater_tier, rater_code, composite_score as composite
    from intermediate.int_rating_composites
    where quarter = ? and is_usable
"""


def typed_ratings(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the ratings' columns and types (an empty frame keeps them too)."""
    if frame.is_empty():
        return pl.DataFrame(schema=RATINGS_SCHEMA)
    return frame.select(list(RATINGS_SCHEMA)).cast(RATINGS_SCHEMA)


def quarter_ratings(database: Path, quarter: str) -> pl.DataFrame:
    """The quarter's non-self ratings with their composite, as dbt's int_rating_composites has them."""
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.sql(COMPOSITES_SQL, params=[quarter]).pl()
    return typed_ratings(frame)


def reliability_frame(ratings: pl.DataFrame) -> pl.DataFrame:
    by_tier = reliability_table(ratings, by=("quarter", "unit_code", "rater_tier"))
    overall = reliability_table(ratings, by=("quarter", "unit_code")).with_columns(
        pl.lit(ALL_TIERS).alias("rater_tier")
    )
    return pl.concat([by_tier, overall.select(by_tier.columns)], how="vertical_relaxed")


def leniency_frame(ratings: pl.DataFrame) -> pl.DataFrame:
    """Each rater's facets leniency s_r (the leniency table)."""
    return fit_facets(ratings).raters


def fair_scores_frame(ratings: pl.DataFrame, leniency: pl.DataFrame, quarter: str) -> pl.DataFrame:
    """S_eval and S_eval_fair per person of one quarter from its ratings and the leniencies already
    fitted (the year's rules give the tier weights and the trimming threshold)."""
    rules = load_rules(parse_quarter(quarter).year)
    return fair_evaluation_scores(
        ratings,
        dict(rules.evaluation.tier_weights),
        rules.evaluation.trim_min_raters,
        leniency=leniency,
    )


def _table(name: str, ratings: pl.DataFrame, quarter: str, leniency: pl.DataFrame | None) -> pl.DataFrame:
    if name == "reliability":
        return reliability_frame(ratings)
    if name == "leniency":
        return leniency_frame(ratings)
    if name == "fair_scores":
        # the leniencies fitted for the quarter, refitted only when there are none (fitting is the cost)
        fitted = leniency.filter(pl.col("quarter") == quarter) if leniency is not None else None
        if fitted is None or fitted.is_empty():
            fitted = leniency_frame(ratings)
        return fair_scores_frame(ratings, fitted, quarter)
    raise ValueError(f"unknown analytics table {name!r}")


def per_quarter(name: str, ratings: pl.DataFrame, leniency: pl.DataFrame | None = None) -> pl.DataFrame:
    """The analytics table `name` over every quarter in `ratings`, computed quarter by quarter (the fits
    and the rules are per quarter); `leniency` (for fair_scores) may hold other quarters too. No
    ratings give the table's columns with no rows."""
    ratings = typed_ratings(ratings)
    if ratings.is_empty():
        return _table(name, ratings, EMPTY_QUARTER, None)
    quarters = sorted(ratings.get_column("quarter").unique().to_list())
    frames = [_table(name, ratings.filter(pl.col("quarter") == q), q, leniency) for q in quarters]
    return pl.concat(frames, how="vertical_relaxed")


def previous_rows(session: duckdb.DuckDBPyConnection, schema: str, name: str) -> pl.DataFrame | None:
    """The rows the table held before this build (None: there is no such table yet)."""
    # fetchall: a result left unread blocks the connection for the next statement
    found = session.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    if not found or not found[0][0]:
        return None
    return session.table(f"{schema}.{name}").pl()


QUARTER_KEY = re.compile(r"[0-9]{4}Q[1-4]")


def usable_ratings(composites: pl.DataFrame) -> pl.DataFrame:
    """int_rating_composites as the analytics read it: usable non-self ratings, `composite` named so."""
    return typed_ratings(composites.filter(pl.col("is_usable")).rename({"composite_score": "composite"}))


def build_scope(
    session: duckdb.DuckDBPyConnection, quarter_by_hand: str | None = None
) -> tuple[str | None, list[str] | None]:
    """(the quarter the running build rebuilds, None: every quarter; the units it rebuilds within it,
    None: every unit), as the SQL models decide it (macros/quarters.sql): a quarter given by hand as a
    dbt var wins and rebuilds every unit of it; else the build file's scope table, written by the Dagster
    dbt step (pipelines/defs/dbt/scope.py) and dropped after a successful build."""
    given = (quarter_by_hand or "").strip().upper()
    if given and given != "NONE":
        if not QUARTER_KEY.fullmatch(given):
            raise ValueError(f"var quarter must look like 2025Q3, got {quarter_by_hand!r}")
        return given, None
    # fetchall: a result left unread blocks the connection for the next statement
    found = session.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'main' and table_name = '_build_scope'"
    ).fetchall()
    if not found or not found[0][0]:
        return None, None
    rows = session.execute("select quarter, units from main._build_scope").fetchall()
    if not rows or rows[0][0] is None:
        return None, None
    quarter, units = rows[0]
    return str(quarter), None if units is None else [str(u) for u in units]


def rebuilt_table(
    name: str,
    ratings: pl.DataFrame,
    previous: pl.DataFrame | None,
    quarter: str | None = None,
    units: list[str] | None = None,
    leniency: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The whole analytics table `name` after a build. The quarter the build rebuilds (`quarter`; None:
    every quarter) and any quarter the table lacks are computed; the other quarters' rows are kept from
    `previous` (quarter-grain like the incremental SQL models: a build of one quarter fits that quarter
    only). Every statistic here is one unit's (ICC and alpha per unit and tier, the facets model fitted
    per unit, fair scores from the unit's leniencies), so with `units` (the build's unit scope) a rebuilt
    quarter the table already has is computed again for those units only, its other units' rows kept.
    Quarters and units without usable ratings have no rows."""
    quarters = ratings.get_column("quarter")
    present = set(quarters.unique().to_list()) if ratings.height else set()
    rebuilt = present if quarter is None else {quarter}
    have: set[str] = set()
    if previous is not None and {"quarter", "unit_code"} <= set(previous.columns):
        have = set(previous.get_column("quarter").unique().to_list())
    kept_quarters = sorted((have & present) - rebuilt)
    scoped_quarters = sorted(have & rebuilt) if units is not None else []
    changed = sorted(units or [])

    def kept() -> pl.Expr:
        return pl.col("quarter").is_in(kept_quarters) | (
            pl.col("quarter").is_in(scoped_quarters) & ~pl.col("unit_code").is_in(changed)
        )

    fresh = per_quarter(name, ratings.filter(~kept()), leniency)
    if previous is None or not have:
        return fresh
    old = previous.filter(kept())
    if set(old.columns) != set(fresh.columns):  # the table's columns changed: compute everything
        return per_quarter(name, ratings, leniency)
    return pl.concat([old.select(fresh.columns).cast(fresh.schema), fresh], how="vertical_relaxed")
