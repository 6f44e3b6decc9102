"""quality.leniency: each rater's facets leniency s_r per unit and quarter (pipelines/quality/analytics.py).

Incremental by quarter like the other quarter-grain models: the pre-hook (dbt_project.yml) deletes the
rows of the quarters being rebuilt, these rows are appended. A fresh table is built from every quarter.
"""

import polars as pl

from pipelines.quality.analytics import per_quarter


def model(dbt, session):
    # dbt gives Python models `table` unless the model itself says otherwise (the rest: dbt_project.yml)
    dbt.config(materialized="incremental")
    ratings = dbt.ref("int_quality_analytics_ratings").pl()
    if dbt.is_incremental:
        ratings = ratings.filter(pl.col("is_rebuilt"))
    return per_quarter("leniency", ratings)
