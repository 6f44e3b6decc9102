"""Rating-quality analytics as Dagster assets (quality.md; group `quality`, partitioned by quarter).

Per quarter, from the rating composites dbt computed (intermediate.int_rating_composites in the run's
build DuckDB: the one place the rules §3 dimension weights are applied), written under
$ASSESSMENT_DATA_DIR/quality/<name>/<quarter>.parquet, which dbt reads as source `quality.<name>`
(asset key quality/<name>, matching the dbt translator). The graph orders it: the quarter's dbt staging
and int_rating_composites first, then these assets, then dbt's quality models that read them (Dagster
runs the dbt multi-asset twice for the partition, once on each side):

- quality/reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier
  (`rater_tier` set) and per unit and quarter over all tiers (`rater_tier` = '全部').
- quality/leniency: each rater's facets leniency s_r (and standard error) per unit and quarter.
- quality/fair_scores: S_eval next to the rater-severity-adjusted S_eval_fair per person, from the
  leniencies quality/leniency wrote (the facets model is fitted once per quarter, by quality/leniency).

Self-ratings are excluded throughout. Analytics only: these never change official scores.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
import threading
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from pipelines.defs.dbt.assets import warehouse_quarter_models
from pipelines.defs.dbt.resources import run_duckdb_path
from pipelines.defs.partitions import quarter_partitions
from pipelines.domain.constants import ALL_TIERS
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.rules import load_rules
from pipelines.paths import data_dir
from pipelines.quality.facets import fair_evaluation_scores, fit_facets
from pipelines.quality.reliability import reliability_table

GROUP = "quality"
COMPOSITES_KEY = dg.AssetKey(["intermediate", "int_rating_composites"])
RULES_KEY = dg.AssetKey(["raw", "rules"])
RELIABILITY_KEY = dg.AssetKey(["quality", "reliability"])
LENIENCY_KEY = dg.AssetKey(["quality", "leniency"])
FAIR_KEY = dg.AssetKey(["quality", "fair_scores"])
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
COMPOSITES_SQL = """
    select quarter, unit_code, ratee_code, rater_tier, rater_code, composite_score as composite
    from intermediate.int_rating_composites
    where quarter = ? and is_usable
"""


def quality_dir() -> Path:
    return data_dir() / "quality"


def quarter_ratings(database: Path, quarter: str) -> pl.DataFrame:
    """The quarter's non-self ratings with their composite, as dbt's int_rating_composites has them."""
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.sql(COMPOSITES_SQL, params=[quarter]).pl()
    return frame.cast(RATINGS_SCHEMA) if frame.height else pl.DataFrame(schema=RATINGS_SCHEMA)


@dataclass
class _Shared:
    key: tuple[object, ...] | None = None
    frame: pl.DataFrame | None = None
    readers_left: int = 0


_SHARED = _Shared()
_SHARED_LOCK = threading.Lock()
READERS = 3  # quality/reliability, quality/leniency and quality/fair_scores


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def shared_quarter_ratings(database: Path, quarter: str, run_id: str) -> pl.DataFrame:
    """quarter_ratings read once for the three assets of one run, which run one after the other in
    its process: each read the same composites before (~0.3 s each on the 4-city province). The frame
    is let go when the third asset has it, so it never outlives the quality step; a run that
    materialises fewer of them keeps it until its process ends or asks for another file or quarter.
    The key holds the file's (and its WAL's) modification time and size: a build written in between
    is read again."""
    key = (run_id, str(database), quarter, _file_state(database), _file_state(Path(f"{database}.wal")))
    with _SHARED_LOCK:  # an executor running the assets in threads would otherwise read twice
        if _SHARED.key != key or _SHARED.frame is None:
            _SHARED.key, _SHARED.frame = key, quarter_ratings(database, quarter)
            _SHARED.readers_left = READERS
        frame = _SHARED.frame
        _SHARED.readers_left -= 1
        if _SHARED.readers_left <= 0:
            _SHARED.key, _SHARED.frame = None, None
    return frame


def _ratings(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return shared_quarter_ratings(run_duckdb_path(context), context.partition_key, context.run.run_id)


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


# Every quality asset reads one quarter's composites (and the rules), and writes one Parquet file.
QUARTER_ASSET: dict = {
    "deps": [COMPOSITES_KEY, RULES_KEY],
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
    table = reliability_frame(_ratings(context))
    path = _write(table, "reliability", context.partition_key)
    return dg.MaterializeResult(metadata={"path": str(path), "rows": table.height})


@dg.asset(
    key=LENIENCY_KEY,
    **QUARTER_ASSET,
)
def quality_leniency(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Each rater's leniency s_r from the additive facets model, per unit and quarter."""
    raters = leniency_frame(_ratings(context))
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
    ratings = _ratings(context)
    path = quality_dir() / "leniency" / f"{quarter}.parquet"
    leniency = pl.read_parquet(path) if path.exists() else leniency_frame(ratings)
    fair = fair_scores_frame(ratings, leniency, quarter)
    path = _write(fair, "fair_scores", quarter)
    return dg.MaterializeResult(metadata={"path": str(path), "rows": fair.height})


QUALITY_ASSETS = dg.AssetSelection.assets(quality_reliability, quality_leniency, quality_fair_scores)
# The job builds what the assets read first: the quarter's dbt models upstream of int_rating_composites.
quality_job = dg.define_asset_job(
    "quality",
    selection=QUALITY_ASSETS
    | (QUALITY_ASSETS.upstream() & dg.AssetSelection.assets(warehouse_quarter_models)),
    description=(
        "Reliability, rater leniency and fair evaluation scores of one quarter, from the rating "
        "composites dbt builds for it (run after ingest)."
    ),
)
