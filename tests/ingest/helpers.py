"""Small builders for ingestion tests: parsed sheets from plain rows, materialisation of a quarter."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.domain.template import SHEETS_BY_NAME
from pipelines.ingest.sheets import ROW, ParsedSheet


def parsed(sheet_name: str, rows: list[dict[str, Any]], first_row: int = 2) -> ParsedSheet:
    """A ParsedSheet holding `rows` (canonical text), on Excel rows first_row, first_row + 1, ..."""
    sheet = SHEETS_BY_NAME[sheet_name]
    fields = tuple(c.field for c in sheet.columns if any(c.field in r for r in rows)) if rows else ()
    data: dict[str, list[Any]] = {ROW: list(range(first_row, first_row + len(rows)))}
    for f in fields:
        data[f] = [None if r.get(f) is None else str(r.get(f)) for r in rows]
    return ParsedSheet(sheet.name, sheet.title, fields, data)


def materialize(quarter: str, **config: Any) -> dg.ExecuteInProcessResult:
    """Materialise the ingestion assets for one quarter, for real, in this process."""
    from pipelines.defs.ingest.assets import ingest_quarter_assets

    run_config = {"ops": {"ingest_quarter": {"config": config}}} if config else None
    return dg.materialize([ingest_quarter_assets], partition_key=quarter, run_config=run_config)


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}
