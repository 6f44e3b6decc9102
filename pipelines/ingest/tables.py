"""Typed tables of one submission, cast from canonical text to the raw-table contract (schema.py).

The cast is driven by the contract's dtypes, not restated here. It runs once per batch of new
deliveries, over the sheets stacked for the suites (a polars call per table, not per table and
delivery); the cache keeps the result per submission, and the quarter's raw tables are assembled
from it (run.py), adding the folder's quarter and unit code and the person_key. The roster keeps
name, national ID and Excel row here: they leave only into the restricted persons table and the
cross-unit check.
"""

from __future__ import annotations

import polars as pl

from pipelines.domain.template import SHEETS_BY_NAME
from pipelines.ingest.issues import Issue, issue
from pipelines.ingest.normalise import CANONICAL_PATTERNS, NO, YES, split_codes
from pipelines.ingest.schema import RAW_TABLES
from pipelines.ingest.sheets import ROW

FILE = "_file"  # the delivery index column of a stacked sheet

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


def _typed_sheet(table: str, stacked: pl.DataFrame | None, ids: list[str]) -> pl.DataFrame:
    """One sheet of every delivery in the batch, cast to the contract; `ids[file]` is its submission."""
    schema = cache_schema(table)
    if stacked is None or stacked.is_empty():
        return pl.DataFrame(schema=schema)
    exprs: list[pl.Expr] = []
    for column, dtype in schema.items():
        if column == "submission_id":
            exprs.append(
                pl.col(FILE).replace_strict(dict(enumerate(ids)), return_dtype=pl.Utf8).alias(column)
            )
        elif column == "excel_row":
            exprs.append(pl.col(ROW).cast(pl.Int64).alias(column))
        elif column == "item_no":  # 1, 2, … within each delivery, in row order
            exprs.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(FILE).alias(column))
        elif column in stacked.columns:
            exprs.append(_cast(column, dtype).cast(dtype).alias(column))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(column))
    return stacked.select(exprs)


def _failed_casts(table: str, stacked: pl.DataFrame) -> list[tuple[int, Issue]]:
    """Values that look right to the suites but do not cast (2025-02-30): the last line of defence.
    By delivery, then column in template order, then row, as a receipt lists them."""
    schema = cache_schema(table)
    sheet = SHEETS_BY_NAME[table]
    found: list[tuple[int, int, int, Issue]] = []
    for k, column in enumerate(sheet.columns):
        pattern = CANONICAL_PATTERNS.get(column.kind)
        field = column.field
        if pattern is None or field not in schema or field not in stacked.columns:
            continue
        bad = stacked.filter(
            pl.col(field).is_not_null()
            & pl.col(field).str.contains(pattern)
            & _cast(field, schema[field]).is_null()
        )
        for i, (file, row, value) in enumerate(bad.select(FILE, ROW, field).iter_rows()):
            found.append(
                (
                    file,
                    k,
                    i,
                    issue(
                        "wrong_type",
                        sheet=sheet.title,
                        row=row,
                        header=column.header,
                        value=value,
                        detail="不是有效的值",
                    ),
                )
            )
    found.sort(key=lambda f: f[:3])
    return [(file, item) for file, _, _, item in found]


def _task_assignments(tasks: pl.DataFrame | None, names: list[str]) -> pl.DataFrame:
    """One row per (task, person) of each delivery: the lead, then the assistants in the order listed."""
    schema = cache_schema("task_assignments")
    if tasks is None or tasks.is_empty():
        return pl.DataFrame(schema=schema)
    rows: list[tuple[str, str, str, str]] = []
    seen: set[tuple[int, str, str, str]] = set()
    columns = tasks.select(FILE, "task_code", "lead_code", "assist_codes").iter_rows()
    for file, task, lead, assist in columns:
        if task is None:
            continue
        for person, role in [(lead, "lead"), *((c, "assist") for c in split_codes(assist))]:
            if person and (file, task, person, role) not in seen:
                seen.add((file, task, person, role))
                rows.append((names[file], task, person, role))
    return pl.DataFrame(rows, schema=schema, orient="row")


def typed_batch(
    stacked: dict[str, pl.DataFrame], submission_ids: list[str]
) -> tuple[dict[str, pl.DataFrame], dict[int, list[Issue]]]:
    """Every table of the contract for a batch of deliveries, and the cells that failed to cast.

    `stacked`: sheet name -> the sheet of every delivery that has it, one frame with `_file` (index
    into `submission_ids`), `_row` and every template field as canonical text (null where a delivery
    lacks the column): what the suites run on. One cast per table and batch instead of per delivery.
    """
    ids = list(submission_ids)
    out: dict[str, pl.DataFrame] = {}
    issues: dict[int, list[Issue]] = {}
    for table in SHEET_TABLES:
        frame = stacked.get(table)
        out[table] = _typed_sheet(table, frame, ids)
        if frame is not None and not frame.is_empty():
            for file, item in _failed_casts(table, frame):
                issues.setdefault(file, []).append(item)
    out["task_assignments"] = _task_assignments(stacked.get("tasks"), ids)
    return out, issues
