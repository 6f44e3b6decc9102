"""Results in use as assets (group `deliverables`, partitioned by quarter).

reviews/register       the quarter's review registers (landing/<quarter>/_reviews/*.xlsx) read, archived
                       and tabulated; dbt's source `reviews.register`, so the warehouse models that apply
                       review decisions run after it
deliverables/quarter   after warehouse/published: the units', counties' and cadre division's files under
                       data/deliverables/<quarter>/ (pipelines/deliverables/), read from the pipeline's
                       warehouse (the promoted build, or the file ASSESSMENT_DUCKDB pins); only the files
                       whose content changed are written again; on a first render of the quarter's
                       report in the same run (the operator command), the report's notebook is started
                       first and runs meanwhile (pipelines/defs/report/assets.py, prestart_report)
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
import dagster as dg

from pipelines.defs.dbt.assets import warehouse_annual_models
from pipelines.defs.dbt.resources import pinned_duckdb
from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.publish.assets import PUBLISHED_KEY
from pipelines.defs.report.assets import prestart_report
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.deliverables.write import write_deliverables
from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.reviews import REVIEWS_FOLDER, ingest_reviews, reviews_table_path
from pipelines.paths import archive_dir, data_dir, landing_dir
from pipelines.publish.warehouse import layout

GROUP = "deliverables"
REVIEWS_KEY = dg.AssetKey(["reviews", "register"])
DELIVERABLES_KEY = dg.AssetKey(["deliverables", "quarter"])
RESULTS_USE_MODELS = (
    "fct_person_quarter_final",
    "fct_person_record",
    "fct_commendation_candidates",
    "fct_excellent_streaks",
)


def _results_use_keys() -> list[dg.AssetKey]:
    """The dbt models the deliverables read besides the published marts."""
    return sorted(
        (k for k in warehouse_annual_models.keys if k.path[-1] in RESULTS_USE_MODELS),
        key=lambda k: k.to_user_string(),
    )


def review_quarters(partition: str) -> list[str]:
    """The partition's quarter and every other quarter with a _reviews folder in landing: a decision about
    an earlier quarter is applied by the next run, whichever quarter that run is for."""
    found = {partition}
    for folder in landing_dir().glob(f"*/{REVIEWS_FOLDER}"):
        try:
            found.add(parse_quarter(folder.parent.name).key)
        except ValueError:
            continue  # not a quarter folder; nothing of ours
    return sorted(found)


@dg.asset(key=REVIEWS_KEY, partitions_def=quarter_partitions, group_name=GROUP, kinds={"parquet"})
def review_register(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """复核登记: review decisions as reviews/<quarter>.parquet (zero rows when none), for the partition's
    quarter and every quarter whose landing folder holds registers."""
    counts: dict[str, int] = {}
    problems = 0
    for quarter in review_quarters(context.partition_key):
        table = ingest_reviews(quarter, landing_dir(), archive_dir(), data_dir())
        counts[quarter] = table.height
        problems += table.filter(table.get_column("row_problem").is_not_null()).height
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(reviews_table_path(data_dir(), context.partition_key))),
            "rows_by_quarter": counts,
            "rows_with_problems": problems,
        }
    )


@dg.asset(
    key=DELIVERABLES_KEY,
    deps=[PUBLISHED_KEY, *_results_use_keys()],
    partitions_def=quarter_partitions,
    group_name=GROUP,
    kinds={"excel", "html"},
    resource_defs=PATHS_RESOURCES,
)
def quarter_deliverables(context: dg.AssetExecutionContext, paths: AssessmentPaths) -> dg.MaterializeResult:
    """成果文件: per-unit workbooks and notices, per-county workbooks, the cadre division's lists."""
    # The report step comes next in the operator command's runs: its kernel runs while these files are
    # written (on a first render; see prestart_report).
    if prestart_report(context, paths):
        context.log.info("report notebook started; the report step takes it")
    summary = write_deliverables(context.partition_key, work=pinned_duckdb() or layout().work)
    for line in summary.lines():
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(summary.root)),
            "units": len(summary.units),
            "notices": len(summary.notices),
            "counties": len(summary.counties),
            "review_receipts": len(summary.review_receipts),
            "files_written": summary.written,
            "files_unchanged": summary.unchanged,
            "reviews_applied": summary.reviews_applied,
            "reviews_refused": summary.reviews_refused,
        }
    )


deliverables_job = dg.define_asset_job(
    "deliverables",
    selection=dg.AssetSelection.assets(quarter_deliverables),
    description="Write the quarter's deliverables (units, counties, cadre division) from the warehouse.",
)
