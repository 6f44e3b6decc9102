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

Each table is rebuilt per unit (pipelines/quality/incremental.py): the rows of units whose ratings and
code are those the existing file records are kept, the other units recomputed, so a one-unit
resubmission recomputes one unit.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
import threading
from collections.abc import Callable, Sequence
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
from pipelines.quality import facets, incremental, reliability
from pipelines.quality.facets import RATEE_KEY, RATER_KEY, UNIT_KEY, fair_evaluation_scores, fit_facets
from pipelines.quality.reliability import RELIABILITY_GROUP, reliability_table

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
    fingerprints: dict[str, str] | None = None
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


def shared_quarter_inputs(database: Path, quarter: str, run_id: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """quarter_ratings and its per-unit fingerprints (incremental.unit_fingerprints), read once for
    the three assets of one run, which run one after the other in its process: each read the same
    composites before (~0.3 s each on the 4-city province). The frame is let go when the third asset
    has it, so it never outlives the quality step; a run that
    materialises fewer of them keeps it until its process ends or asks for another file or quarter.
    The key holds the file's (and its WAL's) modification time and size: a build written in between
    is read again."""
    key = (run_id, str(database), quarter, _file_state(database), _file_state(Path(f"{database}.wal")))
    with _SHARED_LOCK:  # an executor running the assets in threads would otherwise read twice
        if _SHARED.key != key or _SHARED.frame is None:
            frame = quarter_ratings(database, quarter)
            _SHARED.key, _SHARED.frame = key, frame
            _SHARED.fingerprints = incremental.unit_fingerprints(frame)
            _SHARED.readers_left = READERS
        frame, fingerprints = _SHARED.frame, _SHARED.fingerprints
        _SHARED.readers_left -= 1
        if _SHARED.readers_left <= 0:
            _SHARED.key, _SHARED.frame, _SHARED.fingerprints = None, None, None
    assert fingerprints is not None  # set with the frame
    return frame, fingerprints


def _inputs(context: dg.AssetExecutionContext) -> tuple[pl.DataFrame, dict[str, str]]:
    return shared_quarter_inputs(run_duckdb_path(context), context.partition_key, context.run.run_id)


def table_path(name: str, quarter: str) -> Path:
    return quality_dir() / name / f"{quarter}.parquet"


def _write(frame: pl.DataFrame, name: str, quarter: str, metadata: dict[str, str]) -> Path:
    target = table_path(name, quarter)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{quarter}.parquet.tmp"
    frame.write_parquet(tmp, metadata=metadata)
    tmp.replace(target)
    return target


# What every table's rows depend on besides the unit's ratings: the code that computes them (this
# module holds the composites' query) and, for fair scores, the rules (table_key).
SOURCES = (*(Path(str(module.__file__)) for module in (facets, reliability, incremental)), Path(__file__))


def table_key(name: str, quarter: str) -> str:
    extra: dict[str, object] = {"table": name}
    if name == "fair_scores":
        evaluation = load_rules(parse_quarter(quarter).year).evaluation
        extra["tier_weights"] = dict(evaluation.tier_weights)
        extra["trim_min_raters"] = evaluation.trim_min_raters
    return incremental.code_key(SOURCES, extra)


def _only(ratings: pl.DataFrame, units: Sequence[str] | None) -> pl.DataFrame:
    return ratings if units is None else ratings.filter(pl.col("unit_code").is_in(list(units)))


def _materialize(
    context: dg.AssetExecutionContext,
    name: str,
    compute: Callable[[pl.DataFrame, Sequence[str] | None], pl.DataFrame],
    order: Callable[[pl.DataFrame], pl.DataFrame],
) -> dg.MaterializeResult:
    """Write quality/<name>/<quarter>.parquet, recomputing only the units whose inputs changed."""
    quarter = context.partition_key
    ratings, fingerprints = _inputs(context)
    key = table_key(name, quarter)
    table, recomputed = incremental.rebuild(
        table_path(name, quarter), key, fingerprints, lambda units: compute(ratings, units), order
    )
    path = _write(table, name, quarter, incremental.inputs_metadata(key, fingerprints))
    context.log.info(f"quality/{name} {quarter}: {recomputed} of {len(fingerprints)} unit(s) recomputed")
    return dg.MaterializeResult(
        metadata={"path": str(path), "rows": table.height, "units_recomputed": recomputed}
    )


def reliability_frame(ratings: pl.DataFrame) -> pl.DataFrame:
    by_tier = reliability_table(ratings, by=RELIABILITY_GROUP)
    overall = reliability_table(ratings, by=UNIT_KEY).with_columns(pl.lit(ALL_TIERS).alias("rater_tier"))
    return pl.concat([by_tier, overall.select(by_tier.columns)], how="vertical_relaxed")


def reliability_order(table: pl.DataFrame) -> pl.DataFrame:
    """reliability_frame's order: the per-tier rows by unit and tier, then the all-tier rows by unit."""
    overall = pl.col("rater_tier") == ALL_TIERS
    return pl.concat(
        [table.filter(~overall).sort(RELIABILITY_GROUP), table.filter(overall).sort(UNIT_KEY)],
        how="vertical",
    )


def leniency_order(table: pl.DataFrame) -> pl.DataFrame:
    return table.sort(RATER_KEY)


def fair_scores_order(table: pl.DataFrame) -> pl.DataFrame:
    return table.sort(RATEE_KEY)


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
    return _materialize(
        context,
        "reliability",
        lambda ratings, units: reliability_frame(_only(ratings, units)),
        reliability_order,
    )


@dg.asset(
    key=LENIENCY_KEY,
    **QUARTER_ASSET,
)
def quality_leniency(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Each rater's leniency s_r from the additive facets model, per unit and quarter."""
    return _materialize(
        context, "leniency", lambda ratings, units: leniency_frame(_only(ratings, units)), leniency_order
    )


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

    def compute(ratings: pl.DataFrame, units: Sequence[str] | None) -> pl.DataFrame:
        mine = _only(ratings, units)
        path = table_path("leniency", quarter)
        leniency = _only(pl.read_parquet(path), units) if path.exists() else leniency_frame(mine)
        return fair_scores_frame(mine, leniency, quarter)

    return _materialize(context, "fair_scores", compute, fair_scores_order)


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
