"""quality.reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier, and over
all tiers (rater_tier 全部) (pipelines/quality/analytics.py).

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
    return rebuilt_table("reliability", ratings, previous)
