"""The submissions ledger: which file is each unit's current submission, and each unit's status.

- The current submission of a unit is its newest accepted file: by arrival time as the receiving
  side recorded it (never a file's modification time), equal times by the order of first sight
  (`seq`); a later rejected file leaves it in place.
- Status per unit and quarter: on_time (its first accepted file arrived by the deadline), late (it
  arrived after), rejected (files arrived, none accepted), missing (nothing arrived). The first
  accepted arrival decides, as the compliance metrics define on-time submission (rules.md §6).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.ingest.schema import TZ_TIMESTAMP


def mark_current(submissions: pl.DataFrame) -> pl.DataFrame:
    """Add `is_current` to rows with unit_code, submission_id, arrival_at, accepted and seq (the order
    of first sight; without it, equal arrival times fall back to the id, as in older archives)."""
    order = (
        ["arrival_at", "seq", "submission_id"]
        if "seq" in submissions.columns
        else ["arrival_at", "submission_id"]
    )
    newest = (
        submissions.filter(pl.col("accepted"))
        .sort(order, descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", pl.col("submission_id").alias("_current"))
    )
    return (
        submissions.join(newest, on="unit_code", how="left", maintain_order="left")
        .with_columns(
            (pl.col("accepted") & (pl.col("submission_id") == pl.col("_current")))
            .fill_null(False)
            .alias("is_current")
        )
        .drop("_current")
    )


def current_ids(submissions: pl.DataFrame) -> dict[str, str]:
    """unit_code -> submission_id of its current submission (units with one only)."""
    current = mark_current(submissions).filter(pl.col("is_current"))
    return dict(zip(current["unit_code"].to_list(), current["submission_id"].to_list(), strict=True))


def unit_status(
    submissions: pl.DataFrame, unit_codes: list[str], quarter: str, deadline: datetime
) -> pl.DataFrame:
    """One row per registry unit: status, current submission, first accepted arrival, deadline."""
    if "is_current" in submissions.columns:  # the ledger as built: its choice stands
        marked = submissions
    elif submissions.height:
        marked = mark_current(submissions)
    else:
        marked = submissions.with_columns(pl.lit(False).alias("is_current"))
    per_unit = marked.group_by("unit_code").agg(
        pl.len().cast(pl.Int64).alias("files_seen"),
        pl.col("arrival_at").filter(pl.col("accepted")).min().alias("first_accepted_at"),
        pl.col("submission_id").filter(pl.col("is_current")).first().alias("current_submission_id"),
    )
    units = pl.DataFrame({"unit_code": unit_codes}, schema={"unit_code": pl.Utf8})
    cutoff = pl.lit(deadline).cast(TZ_TIMESTAMP)
    return (
        units.join(per_unit, on="unit_code", how="left", maintain_order="left")
        .with_columns(
            pl.lit(quarter).alias("quarter"),
            pl.col("files_seen").fill_null(0),
            cutoff.alias("deadline"),
        )
        .with_columns(
            pl.when(pl.col("files_seen") == 0)
            .then(pl.lit("missing"))
            .when(pl.col("first_accepted_at").is_null())
            .then(pl.lit("rejected"))
            .when(pl.col("first_accepted_at") <= pl.col("deadline"))
            .then(pl.lit("on_time"))
            .otherwise(pl.lit("late"))
            .alias("status")
        )
        .select(
            "quarter",
            "unit_code",
            "status",
            "current_submission_id",
            "first_accepted_at",
            "deadline",
            "files_seen",
        )
    )
