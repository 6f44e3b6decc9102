"""The quarterly report: the report notebook executed for the quarter, as standalone HTML (group `report`).

It reads the published analyst warehouse read-only, after warehouse/published, so leadership sees
exactly what analysts see. The HTML embeds its charts and scripts and opens without Python or network.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
from pathlib import Path

import dagster as dg

from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.publish.assets import PUBLISHED_KEY
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.paths import data_dir
from pipelines.publish.warehouse import layout

REPORT_KEY = dg.AssetKey(["report", "quarterly"])


def reports_dir() -> Path:
    return data_dir() / "reports"


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


report_job = dg.define_asset_job(
    "report",
    selection=dg.AssetSelection.assets(quarterly_report),
    description="Render the quarterly HTML report from the published warehouse.",
)
