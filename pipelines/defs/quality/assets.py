"""Rating-quality analytics (quality.md; group `quality`): where they are built, and their asset keys.

Since issue 16 the three analytics tables are dbt Python models (dbt_project/models/analytics) built in
the same `dbt build` as the rating composites they read (intermediate.int_rating_composites, the one
place the rules §3 dimension weights are applied) and the quality marts that read them; the tables are
computed by pipelines/quality/analytics.py (re-exported here), stored in the build's schema `quality`
and keep their asset keys:

- quality/reliability: ICC(1,1), ICC(1,k0) and interval alpha per unit, quarter and rater tier
  (`rater_tier` set) and per unit and quarter over all tiers (`rater_tier` = '全部').
- quality/leniency: each rater's facets leniency s_r (and standard error) per unit and quarter.
- quality/fair_scores: S_eval next to the rater-severity-adjusted S_eval_fair per person, from the
  leniencies quality/leniency fitted (the facets model is fitted once per quarter).

Before, they were Dagster assets between two dbt steps writing quality/<name>/<quarter>.parquet: every
run then started dbt twice. Self-ratings are excluded throughout. Analytics only: these never change
official scores.
"""

import dagster as dg

from pipelines.domain.constants import ALL_TIERS
from pipelines.quality.analytics import (
    COMPOSITES_SQL,
    RATINGS_SCHEMA,
    fair_scores_frame,
    leniency_frame,
    per_quarter,
    quarter_ratings,
    rebuilt_table,
    reliability_frame,
    usable_ratings,
)

__all__ = [
    "ALL_TIERS",
    "COMPOSITES_KEY",
    "COMPOSITES_SQL",
    "FAIR_KEY",
    "LENIENCY_KEY",
    "RATINGS_SCHEMA",
    "RELIABILITY_KEY",
    "fair_scores_frame",
    "leniency_frame",
    "per_quarter",
    "quarter_ratings",
    "rebuilt_table",
    "reliability_frame",
    "usable_ratings",
]

GROUP = "quality"
COMPOSITES_KEY = dg.AssetKey(["intermediate", "int_rating_composites"])
RELIABILITY_KEY = dg.AssetKey(["quality", "reliability"])
LENIENCY_KEY = dg.AssetKey(["quality", "leniency"])
FAIR_KEY = dg.AssetKey(["quality", "fair_scores"])
