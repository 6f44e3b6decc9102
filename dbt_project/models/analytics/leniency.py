"""quality.leniency: each rater's facets leniency s_r per unit and quarter (pipelines/quality/analytics.py).

Quarter-grain like the incremental SQL models: the quarters the build rebuilds are computed, the other
quarters' rows are kept from the table as it was (pipelines/quality/analytics.rebuilt_table). A table,
not dbt's incremental materialization: dbt-duckdb's incremental Python path loses its temporary table
between connections.
"""

from pipelines.quality.analytics import previous_rows, rebuilt_table


def model(dbt, session):
    dbt.config(materialized="table")
    ratings = dbt.ref("int_quality_analytics_ratings").pl()
    previous = previous_rows(session, dbt.this.schema, dbt.this.identifier)
    return rebuilt_table("leniency", ratings, previous)
