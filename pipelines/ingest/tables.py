"""Typed tables of one submission, cast from canonical text to the raw-table contract (schema.py).

The cast is driven by the contract's dtypes, not restated here. These frames are what the parse
cache keeps per submission; the quarter's raw tables are assembled from them (run.py), adding the
folder's quarter and unit code and the person_key. The roster keeps name, national ID and Excel row
here: they leave only into the restricted persons table and the cross-unit check.
"""

from __future__ import annotations

import polars as pl

from pipelines.domain.template import SHEETS_BY_NAME, Column
from pipelines.ingest.issues import Issue, issue
from pipelines.ingest.normalise import CANONICAL_PATTERNS, NO, YES, split_codes
from pipelines.ingest.schema import RAW_TABLES
from pipelines.ingest.sheets import ROW, ParsedSheet

# Added when a quarter is assembled, from the folder (quarter, unit_code) or the key (person_key).
ASSEMBLY_COLUMNS = ("quarter", "unit_code", "person_key")
ROSTER_RESTRICTED = {"name": pl.Utf8, "national_id": pl.Utf8, "excel_row": pl.Int64}
SHEET_TABLES = ("unit_info", "roster", "sections", "tasks", "ratings", "adjustments", "year_end")
TABLES = (*SHEET_TABLES, "task_assignments")


def cache_schema(table: str) -> dict[str, pl.DataType]:
    """The contract's columns minus those added at assembly; the roster adds its restricted ones."""
    schema = {c: t for c, t in RAW_TABLES[table].items() if c not in ASSEMBLY_COLUMNS}
    if table == "roster":
        schema.update(ROSTER_RESTRICTED)
    return schema


def _cast(field: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(field)
    if dtype == pl.Utf8:
        return col
    if dtype == pl.Boolean:
        return pl.when(col == YES).then(True).when(col == NO).then(False).otherwise(None)
    if dtype == pl.Date:
        return col.str.to_date("%Y-%m-%d", strict=False)
    return col.cast(dtype, strict=False)


def _sheet_table(
    table: str, parsed: ParsedSheet | None, submission_id: str
) -> tuple[pl.DataFrame, list[Issue]]:
    schema = cache_schema(table)
    if parsed is None:
        return pl.DataFrame(schema=schema), []
    frame = parsed.frame
    exprs: list[pl.Expr] = []
    for column, dtype in schema.items():
        if column == "submission_id":
            exprs.append(pl.lit(submission_id, dtype=pl.Utf8).alias(column))
        elif column == "excel_row":
            exprs.append(pl.col(ROW).cast(pl.Int64).alias(column))
        elif column == "item_no":
            exprs.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(column))
        elif column in parsed.fields:
            exprs.append(_cast(column, dtype).cast(dtype).alias(column))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(column))
    typed = frame.select(exprs)
    # A cast can only lose values, so equal null counts mean every present value was cast.
    lost = [
        c
        for c in parsed.fields
        if c in schema and typed.get_column(c).null_count() > frame.get_column(c).null_count()
    ]
    sheet = SHEETS_BY_NAME[table]
    issues = [i for c in lost for i in _failed_casts(sheet.title, sheet.column(c), frame, schema[c])]
    return typed, issues


def _failed_casts(title: str, column: Column, frame: pl.DataFrame, dtype: pl.DataType) -> list[Issue]:
    """Values that look right to the suites but do not cast (2025-02-30): the last line of defence."""
    pattern = CANONICAL_PATTERNS.get(column.kind)
    if pattern is None:
        return []
    field = column.field
    bad = frame.filter(
        pl.col(field).is_not_null() & pl.col(field).str.contains(pattern) & _cast(field, dtype).is_null()
    )
    return [
        issue(
            "wrong_type", sheet=title, row=r[ROW], header=column.header, value=r[field], detail="不是有效的值"
        )
        for r in bad.iter_rows(named=True)
    ]


def task_assignments(tasks: ParsedSheet | None, submission_id: str) -> pl.DataFrame:
    """One row per (task, person): the lead, then the assistants in the order listed."""
    schema = cache_schema("task_assignments")
    if tasks is None or "task_code" not in tasks.fields:
        return pl.DataFrame(schema=schema)
    frame = tasks.frame
    leads = frame.get_column("lead_code").to_list() if "lead_code" in tasks.fields else [None] * frame.height
    assists = (
        frame.get_column("assist_codes").to_list()
        if "assist_codes" in tasks.fields
        else [None] * frame.height
    )
    seen: set[tuple[str, str, str]] = set()
    rows: list[tuple[str, str, str]] = []
    for task, lead, assist in zip(frame.get_column("task_code").to_list(), leads, assists, strict=True):
        if task is None:
            continue
        for person, role in [(lead, "lead"), *((c, "assist") for c in split_codes(assist))]:
            if person and (task, person, role) not in seen:
                seen.add((task, person, role))
                rows.append((task, person, role))
    data = {
        "submission_id": [submission_id] * len(rows),
        "task_code": [r[0] for r in rows],
        "person_code": [r[1] for r in rows],
        "role": [r[2] for r in rows],
    }
    return pl.DataFrame(data, schema=schema)


def typed_tables(
    sheets: dict[str, ParsedSheet], submission_id: str
) -> tuple[dict[str, pl.DataFrame], list[Issue]]:
    """Every table of the contract for one submission, and the cells that failed to cast."""
    out: dict[str, pl.DataFrame] = {}
    issues: list[Issue] = []
    for table in SHEET_TABLES:
        out[table], failed = _sheet_table(table, sheets.get(table), submission_id)
        issues.extend(failed)
    out["task_assignments"] = task_assignments(sheets.get("tasks"), submission_id)
    return out, issues
