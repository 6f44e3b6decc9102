"""The quarterly report: the report notebook executed for the quarter, as standalone HTML (group `report`).

It reads the published analyst warehouse read-only, after warehouse/published, so leadership sees
exactly what analysts see. The HTML embeds its charts and scripts and opens without Python or network.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.

import dagster as dg

from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.publish.assets import PUBLISHED_KEY
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.publish.warehouse import layout

REPORT_KEY = dg.AssetKey(["report", "quarterly"])
# The executor of `JobDefinition.execute_in_process` (the operator command's runs, the tests): it runs
# every step of the run in this process, one after the other.
IN_PROCESS_EXECUTOR = "execute_in_process_executor"


@dg.asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    partitions_def=quarter_partitions,
    group_name="report",
    kinds={"html", "jupyter"},
    resource_defs=PATHS_RESOURCES,
)
def quarterly_report(context: dg.AssetExecutionContext, paths: AssessmentPaths) -> dg.MaterializeResult:
    """考核季度报告: the leadership report of the quarter as one standalone HTML file."""
    from pipelines.report.render import render_report  # nbconvert/papermill load only when reporting

    # Kept as it is when the figures it shows and the code are unchanged (pipelines/report/fingerprint.py).
    html = render_report(
        context.partition_key,
        layout(paths.warehouse()).published,
        paths.reports(),
        progress=context.log.info,
    )
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(html)), "size_kb": round(html.stat().st_size / 1024)}
    )


def prestart_report(context: dg.AssetExecutionContext, paths: AssessmentPaths) -> bool:
    """Called by a step that runs before this run's report step (deliverables/quarter): when this run
    renders the quarter's report later in this very process, start executing the report's notebook now
    (pipelines/report/render.py, `prestart`), so that its kernel runs while that step works. Only a
    first render is started early; the report step then waits for it, exports and writes as usual.

    The steps of a run of the operator command run one after the other in one process, and the two
    steps after publishing used only one core during the report (the kernel) while the machine has
    two. A run from the UI or the daemon executes each step in a process of its own: nothing is started
    there, nor when the run does not select the report explicitly. True when it started."""
    if context.job_def.executor_def.name != IN_PROCESS_EXECUTOR:
        return False
    if REPORT_KEY not in (context.run.asset_selection or ()):
        return False
    from pipelines.report.render import prestart

    return prestart(context.partition_key, layout(paths.warehouse()).published, paths.reports())


report_job = dg.define_asset_job(
    "report",
    selection=dg.AssetSelection.assets(quarterly_report),
    description="Render the quarterly HTML report from the published warehouse.",
)
