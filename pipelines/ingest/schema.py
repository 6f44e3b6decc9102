"""The raw tables ingestion writes and dbt reads: one Parquet file per table and quarter.

This module is the contract between the two halves of the pipeline. Every raw table carries
`quarter` and `unit_code`; analytic tables hold only each unit's *current* submission (its newest
accepted file); the ledger, receipts and unit status hold every file. National IDs and names never
appear here: persons are identified by `person_key`, a keyed HMAC of the national ID, and the clear
values live only in the restricted persons table.
"""

from __future__ import annotations

import polars as pl

TZ_TIMESTAMP = pl.Datetime("us", "Asia/Shanghai")

RAW_TABLES: dict[str, dict[str, pl.DataType]] = {
    # Every file ever seen, accepted or not (the submissions ledger).
    "submissions": {
        "submission_id": pl.Utf8,  # SHA-256 of the file bytes (CSV folder: of its files, by name)
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "file_name": pl.Utf8,
        "archive_path": pl.Utf8,  # relative to the data directory
        "size_bytes": pl.Int64,
        "arrival_at": TZ_TIMESTAMP,  # file mtime when first seen
        "format": pl.Utf8,  # xlsx / csv / unknown
        "encoding": pl.Utf8,  # CSV: utf-8 / utf-8-sig / gb18030; else null
        "accepted": pl.Boolean,
        "is_current": pl.Boolean,  # the unit's newest accepted file for the quarter
        "n_errors": pl.Int64,
        "n_warnings": pl.Int64,
        "receipt_path": pl.Utf8,  # the HTML receipt sent to the unit, relative to the data directory
    },
    # One row per registry unit and quarter.
    "unit_status": {
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "status": pl.Utf8,  # on_time / late / rejected / missing
        "current_submission_id": pl.Utf8,
        "first_accepted_at": TZ_TIMESTAMP,
        "deadline": TZ_TIMESTAMP,
        "files_seen": pl.Int64,
    },
    # Every error and warning of every receipt.
    "receipt_items": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "severity": pl.Utf8,  # error / warning
        "kind": pl.Utf8,  # e.g. invalid_national_id, fullwidth_normalised
        "sheet": pl.Utf8,  # Chinese sheet name, null for file-level items
        "excel_row": pl.Int64,  # the row number the unit sees in Excel (header = 1)
        "column_header": pl.Utf8,
        "value": pl.Utf8,
        "message": pl.Utf8,  # Chinese, for the unit
    },
    "unit_info": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "unit_name": pl.Utf8,
        "submitted_by": pl.Utf8,
        "submitted_on": pl.Date,
        "regular_share": pl.Float64,
    },
    "roster": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "person_code": pl.Utf8,
        "person_key": pl.Utf8,  # HMAC-SHA256 of the national ID, hex, first 32 chars
        "section": pl.Utf8,
        "rank": pl.Utf8,
        "post_category": pl.Utf8,
        "is_section_head": pl.Boolean,
        "participates": pl.Boolean,
        "proposed_grade": pl.Utf8,
    },
    "sections": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "section": pl.Utf8,
        "section_coefficient": pl.Float64,
        "leader_code": pl.Utf8,
    },
    "tasks": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "task_code": pl.Utf8,
        "task_name": pl.Utf8,
        "task_source": pl.Utf8,
        "target": pl.Utf8,
        "deadline": pl.Date,
        "lead_code": pl.Utf8,
        "intensity": pl.Int64,
        "difficulty": pl.Int64,
        "quantity": pl.Float64,
        "status": pl.Utf8,
    },
    # Lead/assist codes exploded: one row per (task, person).
    "task_assignments": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "task_code": pl.Utf8,
        "person_code": pl.Utf8,
        "role": pl.Utf8,  # lead / assist
    },
    "ratings": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "ratee_code": pl.Utf8,
        "rater_tier": pl.Utf8,
        "rater_code": pl.Utf8,
        "score_intensity": pl.Float64,
        "score_difficulty": pl.Float64,
        "score_quantity": pl.Float64,
        "score_effect": pl.Float64,
        "score_measures": pl.Float64,
    },
    "adjustments": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "item_no": pl.Int64,  # row order within the sheet
        "person_code": pl.Utf8,
        "points": pl.Float64,
        "reason": pl.Utf8,
    },
    "year_end": {
        "submission_id": pl.Utf8,
        "quarter": pl.Utf8,
        "unit_code": pl.Utf8,
        "person_code": pl.Utf8,
        "year_end_score": pl.Float64,
    },
}

# Clear-text identities: written under data/restricted/, never read by dbt models analysts see.
RESTRICTED_PERSONS: dict[str, pl.DataType] = {
    "person_key": pl.Utf8,
    "national_id": pl.Utf8,
    "name": pl.Utf8,
    "quarter": pl.Utf8,
    "unit_code": pl.Utf8,
    "person_code": pl.Utf8,
}


def empty(table: str) -> pl.DataFrame:
    """A zero-row frame with the table's exact schema."""
    return pl.DataFrame(schema=RAW_TABLES[table])


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast `frame` to the table's schema, in contract order; missing columns are an error."""
    schema = RAW_TABLES[table]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"raw table {table} is missing columns {missing}")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
