"""Rating-quality analytics as Dagster assets (quality.md; group `quality`, partitioned by quarter).

Per quarter, from the raw ratings Parquet and that year's rules weights, written under
$ASSESSMENT_DATA_DIR/quality/<name>/<quarter>.parquet, which dbt reads as source `quality.<name>`
(asset key quality/<name>, matching the dbt translator):

- quality/reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier
  (`rater_tier` set) and per unit and quarter over all tiers (`rater_tier` = '全部').
- quality/leniency: each rater's facets leniency s_r (and standard error) per unit and quarter.
- quality/fair_scores: S_eval next to the rater-severity-adjusted S_eval_fair per person, from the
  leniencies quality/leniency wrote (the facets model is fitted once per quarter, by quality/leniency).

Self-ratings are excluded throughout. Analytics only: these never change official scores.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.partitions import quarter_partitions
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.rules import load_rules
from pipelines.paths import data_dir, raw_dir
from pipelines.quality.facets import fair_evaluation_scores, fit_facets
from pipelines.quality.reliability import reliability_table

GROUP = "quality"
ALL_TIERS = "全部"
RATINGS_KEY = dg.AssetKey(["raw", "ratings"])
RULES_KEY = dg.AssetKey(["raw", "rules"])
RELIABILITY_KEY = dg.AssetKey(["quality", "reliability"])
LENIENCY_KEY = dg.AssetKey(["quality", "leniency"])
FAIR_KEY = dg.AssetKey(["quality", "fair_scores"])
DIMENSIONS = ("score_intensity", "score_difficulty", "score_quantity", "score_effect", "score_measures")


def quality_dir() -> Path:
    return data_dir() / "quality"


def quarter_ratings(quarter: str) -> pl.DataFrame:
    """The quarter's non-self ratings with the composite (rules §3 dimension weights of the year)."""
    rules = load_rules(parse_quarter(quarter).year)
    path = raw_dir() / "ratings" / f"{quarter}.parquet"
    frame = pl.read_parquet(path) if path.exists() else pl.DataFrame()
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                "quarter": pl.String,
                "unit_code": pl.String,
                "ratee_code": pl.String,
                "rater_tier": pl.String,
                "rater_code": pl.String,
                "composite": pl.Float64,
            }
        )
    weights = rules.evaluation.dimension_weights
    composite = sum(pl.col(d).cast(pl.Float64) * float(weights[d]) for d in DIMENSIONS)
    return frame.filter(pl.col("rater_code") != pl.col("ratee_code")).select(
        pl.col("quarter").cast(pl.String),
        pl.col("unit_code").cast(pl.String),
        pl.col("ratee_code").cast(pl.String),
        pl.col("rater_tier").cast(pl.String),
        pl.col("rater_code").cast(pl.String),
        composite.alias("composite"),
    )


def _write(frame: pl.DataFrame, name: str, quarter: str) -> Path:
    folder = quality_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{quarter}.parquet"
    tmp = folder / f".{quarter}.parquet.tmp"
    frame.write_parquet(tmp)
    tmp.replace(target)
    return target


def reliability_frame(ratings: pl.DataFrame) -> pl.DataFrame:
    by_tier = reliability_table(ratings, by=("quarter", "unit_code", "rater_tier"))
    overall = reliability_table(ratings, by=("quarter", "unit_code")).with_columns(
        pl.lit(ALL_TIERS).alias("rater_tier")
    )
    return pl.concat([by_tier, overall.select(by_tier.columns)], how="vertical_relaxed")


# Every quality asset reads one quarter's raw ratings and the rules, and writes one Parquet file.
QUARTER_ASSET: dict = {
    "deps": [RATINGS_KEY, RULES_KEY],
    "group_name": GROUP,
    "partitions_def": quarter_partitions,
    "kinds": {"parquet", "python"},
}


@dg.asset(
    key=RELIABILITY_KEY,
    **QUARTER_ASSET,
)
def quality_reliability(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """ICC(1,k) and Krippendorff's alpha per unit, quarter and rater tier (and all tiers together)."""
    table = reliability_frame(quarter_ratings(context.partition_key))
    path = _write(table, "reliability", context.partition_key)
    return dg.MaterializeResult(metadata={"path": str(path), "rows": table.height})


@dg.asset(
    key=LENIENCY_KEY,
    **QUARTER_ASSET,
)
def quality_leniency(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Each rater's leniency s_r from the additive facets model, per unit and quarter."""
    raters = leniency_frame(quarter_ratings(context.partition_key))
    path = _write(raters, "leniency", context.partition_key)
    return dg.MaterializeResult(metadata={"path": str(path), "rows": raters.height})


def leniency_frame(ratings: pl.DataFrame) -> pl.DataFrame:
    """Each rater's facets leniency s_r (the quality/leniency table)."""
    return fit_facets(ratings).raters


def fair_scores_frame(ratings: pl.DataFrame, leniency: pl.DataFrame, quarter: str) -> pl.DataFrame:
    """S_eval and S_eval_fair per person from the ratings and the leniencies already fitted."""
    rules = load_rules(parse_quarter(quarter).year)
    return fair_evaluation_scores(
        ratings,
        dict(rules.evaluation.tier_weights),
        rules.evaluation.trim_min_raters,
        leniency=leniency,
    )


@dg.asset(
    key=FAIR_KEY,
    **{**QUARTER_ASSET, "deps": [*QUARTER_ASSET["deps"], LENIENCY_KEY]},
)
def quality_fair_scores(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """S_eval and the rater-severity-adjusted S_eval_fair per person (analytics, not the official grade).

    Reads the leniencies quality/leniency wrote for the quarter instead of fitting the facets model a
    second time; fits it only when that file is missing (the asset materialised on its own).
    """
    quarter = context.partition_key
    ratings = quarter_ratings(quarter)
    path = quality_dir() / "leniency" / f"{quarter}.parquet"
    leniency = pl.read_parquet(path) if path.exists() else leniency_frame(ratings)
    fair = fair_scores_frame(ratings, leniency, quarter)
    path = _write(fair, "fair_scores", quarter)
    return dg.MaterializeResult(metadata={"path": str(path), "rows": fair.height})


quality_job = dg.define_asset_job(
    "quality",
    selection=dg.AssetSelection.assets(quality_reliability, quality_leniency, quality_fair_scores),
    partitions_def=quarter_partitions,
    description="Reliability, rater leniency and fair evaluation scores of one quarter (run after ingest).",
)
