"""quality.reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier, and over
all tiers (rater_tier 全部) (pipelines/quality/analytics.py).

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
    return rebuilt_table("reliability", ratings, previous, quarter, units)
