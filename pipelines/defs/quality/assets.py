"""Rating-quality analytics as Dagster assets (quality.md; group `quality`, partitioned by quarter).

Per quarter, from the rating composites dbt computed (intermediate.int_rating_composites in the run's
build DuckDB: the one place the rules §3 dimension weights are applied), written under
$ASSESSMENT_DATA_DIR/quality/<name>/<quarter>.parquet, which dbt reads as source `quality.<name>`
(asset key quality/<name>, matching the dbt translator). The three tables are one multi-asset,
`quality_findings`, a single step. The graph orders it: the quarter's dbt staging and
int_rating_composites first, then this step, then dbt's quality models that read its tables:

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
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

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


class _Written(NamedTuple):
    name: str
    rows: int
    recomputed: int
    path: Path
    seconds: float


def _rebuild_table(
    name: str,
    quarter: str,
    ratings: pl.DataFrame,
    fingerprints: dict[str, str],
    compute: Callable[[pl.DataFrame, Sequence[str] | None], pl.DataFrame],
    order: Callable[[pl.DataFrame], pl.DataFrame],
) -> _Written:
    """Write quality/<name>/<quarter>.parquet, recomputing only the units whose inputs changed."""
    started = time.perf_counter()
    key = table_key(name, quarter)
    table, recomputed = incremental.rebuild(
        table_path(name, quarter), key, fingerprints, lambda units: compute(ratings, units), order
    )
    path = _write(table, name, quarter, incremental.inputs_metadata(key, fingerprints))
    return _Written(name, table.height, recomputed, path, time.perf_counter() - started)


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


ORDERS = {"reliability": reliability_order, "leniency": leniency_order, "fair_scores": fair_scores_order}
KEYS = {"reliability": RELIABILITY_KEY, "leniency": LENIENCY_KEY, "fair_scores": FAIR_KEY}


# Every quality table reads one quarter's composites (and the rules), and is one Parquet file.
QUARTER_DEPS = [COMPOSITES_KEY, RULES_KEY]
KINDS = {"parquet", "python"}


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


def _fair_scores(quarter: str) -> Callable[[pl.DataFrame, Sequence[str] | None], pl.DataFrame]:
    """quality/fair_scores from the leniencies quality/leniency wrote for the quarter, instead of fitting
    the facets model a second time; fitted here only when that file is missing (fair scores
    materialised without leniency and never before)."""

    def compute(ratings: pl.DataFrame, units: Sequence[str] | None) -> pl.DataFrame:
        mine = _only(ratings, units)
        path = table_path("leniency", quarter)
        leniency = _only(pl.read_parquet(path), units) if path.exists() else leniency_frame(mine)
        return fair_scores_frame(mine, leniency, quarter)

    return compute


def _reliability(ratings: pl.DataFrame, units: Sequence[str] | None) -> pl.DataFrame:
    return reliability_frame(_only(ratings, units))


def _leniency(ratings: pl.DataFrame, units: Sequence[str] | None) -> pl.DataFrame:
    return leniency_frame(_only(ratings, units))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RELIABILITY_KEY,
            deps=QUARTER_DEPS,
            kinds=KINDS,
            description="ICC(1,k) and Krippendorff's alpha per unit, quarter and rater tier (and all tiers).",
        ),
        dg.AssetSpec(
            LENIENCY_KEY,
            deps=QUARTER_DEPS,
            kinds=KINDS,
            description="Each rater's leniency s_r from the additive facets model, per unit and quarter.",
        ),
        dg.AssetSpec(
            FAIR_KEY,
            deps=[*QUARTER_DEPS, LENIENCY_KEY],
            kinds=KINDS,
            description=(
                "S_eval and the rater-severity-adjusted S_eval_fair per person (analytics, not the "
                "official grade), from the leniencies quality/leniency wrote."
            ),
        ),
    ],
    name="quality_findings",
    group_name=GROUP,
    partitions_def=quarter_partitions,
    can_subset=True,
)
def quality_findings(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """The quarter's three tables, from one read of the composites: reliability on one thread while
    leniency and then fair scores (which read the leniency file) run on another.

    They were three assets, run one after the other by the run's in-process executor. The facets fit
    is mostly numpy and Python, reliability mostly polars, which releases the interpreter lock while it
    computes. On the 16-city province the step took 8.5 s against 9.5 s for the three steps (alone on
    the same data, 6.9-8.4 s against 9.0-10.5 s; docs/benchmark.md, fifteenth session).
    """
    quarter = context.partition_key
    selected = context.selected_asset_keys
    ratings = quarter_ratings(run_duckdb_path(context), quarter)
    fingerprints = incremental.unit_fingerprints(ratings)

    written: list[_Written] = []  # appended from both threads (list.append is atomic)

    def rebuild(name: str, compute: Callable[[pl.DataFrame, Sequence[str] | None], pl.DataFrame]) -> None:
        written.append(_rebuild_table(name, quarter, ratings, fingerprints, compute, ORDERS[name]))

    def leniency_then_fair() -> None:
        if LENIENCY_KEY in selected:
            rebuild("leniency", _leniency)
        if FAIR_KEY in selected:
            rebuild("fair_scores", _fair_scores(quarter))

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="quality") as pool:
        chains = [pool.submit(leniency_then_fair)]
        if RELIABILITY_KEY in selected:
            chains.append(pool.submit(rebuild, "reliability", _reliability))
        errors = [chain.exception() for chain in chains]
    # What was written is recorded even when the other thread failed, as with three separate assets.
    for name, rows, recomputed, path, seconds in sorted(written, key=lambda w: list(ORDERS).index(w.name)):
        done = f"{recomputed} of {len(fingerprints)} unit(s) recomputed in {seconds:.1f}s"
        context.log.info(f"quality/{name} {quarter}: {done}")
        yield dg.MaterializeResult(
            asset_key=KEYS[name],
            metadata={"path": str(path), "rows": rows, "units_recomputed": recomputed},
        )
    failed = next((error for error in errors if error is not None), None)
    if failed is not None:
        raise failed


QUALITY_ASSETS = dg.AssetSelection.assets(quality_findings)
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
