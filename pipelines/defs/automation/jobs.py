"""The quarterly pipeline: one run takes a quarter from the landing folder to the published report."""

import dagster as dg

from pipelines.defs.dbt.assets import WRITER_TAGS

QUARTERLY_JOB = "quarterly_pipeline"

# Every asset: reference data, the quarter's ingestion, findings and warehouse models, the annual
# models (rebuilt from every quarter), publishing and the quarter's report. Unpartitioned assets in a
# run of partition 2025Q3 are rebuilt whole; partitioned ones for 2025Q3 only.
quarterly_pipeline = dg.define_asset_job(
    QUARTERLY_JOB,
    selection=dg.AssetSelection.all(),
    tags=WRITER_TAGS,
    description=(
        "Ingest one quarter's submissions, rebuild its findings and warehouse models and the annual "
        "results, publish the analyst warehouse and county extracts, render the quarter's report."
    ),
)
