"""quality.fair_scores: S_eval and the rater-severity-adjusted S_eval_fair per person and quarter, from the
leniencies quality.leniency fitted (the facets model is fitted once per quarter) (analytics only, never
the official grade; pipelines/quality/analytics.py).

Quarter-grain like the incremental SQL models, and unit-grain within a unit-scoped build (every
statistic here is one unit's): the quarter (units) the build rebuilds are computed, the other rows are
kept from the table as it was (pipelines/quality/analytics.rebuilt_table; the scope decided as
macros/quarters.sql decides it). A table, not dbt's incremental materialization: dbt-duckdb's
incremental Python path loses its temporary table between connections.
"""

from pipelines.quality.analytics import build_scope, previous_rows, rebuilt_table, usable_ratings


def model(dbt, session):
    dbt.config(materialized="table")
    ratings = usable_ratings(dbt.ref("int_rating_composites").pl())
    quarter, units = build_scope(session, dbt.config.meta_get("quarter_by_hand"))
    previous = previous_rows(session, dbt.this.schema, dbt.this.identifier)
    return rebuilt_table("fair_scores", ratings, previous, quarter, units, leniency=dbt.ref("leniency").pl())
