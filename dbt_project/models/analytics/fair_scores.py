"""quality.fair_scores: S_eval and the rater-severity-adjusted S_eval_fair per person and quarter, from the
leniencies quality.leniency fitted (the facets model is fitted once per quarter) (analytics only, never
the official grade; pipelines/quality/analytics.py).

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
    return rebuilt_table("fair_scores", ratings, previous, leniency=dbt.ref("leniency").pl())
