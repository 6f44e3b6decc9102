"""Validation of normalised submissions.

Three layers, each with its own tests:
- cell rules are declarative: the great-expectations suites in expectations/<sheet>.json (type,
  range, allowed values, required cells). Ingestion runs them compiled to polars expressions
  (rules.py, `check_batches`) once per sheet over all new deliveries together, failures mapped back
  to (delivery, Excel row); `validate_batches` runs the same suites with GX itself (the tests compare
  the two, and gx_check.py runs GX over the raw tables as a blocking asset check);
- cross-sheet rules inside one submission are code (`check_submission`, in checks.py with the
  rest of what a parse worker runs, free of polars): national ID check digits, duplicate keys,
  references to persons and sections;
- rules that need the folder or the whole quarter are code too: unit/quarter match and registry
  facts (`check_context`); a person listed by two units in the same quarter is settled by arrival
  order in `conflicts.py`.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.domain.quarters import Quarter
from pipelines.domain.template import SHEETS_BY_NAME, Sheet
from pipelines.ingest import rules

# Re-exported: the worker's checks (checks.py) are known from here too, as they were defined here.
from pipelines.ingest.checks import UnitFacts, check_submission, log_incident  # noqa: F401
from pipelines.ingest.issues import (
    Incident,
    Issue,
    file_issue,
    incident_id,
    issue,
    shown,
)
from pipelines.ingest.lazy_import import lazily
from pipelines.ingest.normalise import CANONICAL_PATTERNS, format_number
from pipelines.ingest.sheets import ROW, ParsedSheet
from pipelines.ingest.suites import (
    NUMERIC_KINDS,
    VALUE_SUFFIX,
    load_suites,
    raise_if_expectation_raised,
    value_column,
)
from pipelines.ingest.tables import FILE

# -- cell rules: the suites, by GX (reference) and by polars (hot path, rules.py) --------------------------

_GX_STATE: dict[str, Any] = {}


def _gx() -> Any:
    """great_expectations, imported on first use: it takes seconds, and a re-run never needs it."""
    # No usage statistics, no network: this runs inside a pipeline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # Before the import: importing logs hundreds of INFO lines (into a Dagster run's log file too).
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # scipy.stats and altair: ~1.7 s of GX's import, for expectations and charts the suites never use
    with lazily(("scipy.stats", "altair")):
        import great_expectations as gx

    return gx


def gx_batch_definition() -> Any:
    """One ephemeral context and in-memory pandas asset, reused for every validation in the process."""
    if "batch_definition" not in _GX_STATE:
        gx = _gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        asset = context.data_sources.add_pandas("submissions").add_dataframe_asset("sheet")
        _GX_STATE["suites"] = {name: gx.ExpectationSuite(**suite) for name, suite in load_suites().items()}
        _GX_STATE["batch_definition"] = asset.add_batch_definition_whole_dataframe("whole")
    return _GX_STATE["batch_definition"]


def gx_suite(suite: dict[str, Any]) -> Any:
    """A suite in GX's JSON shape as a GX ExpectationSuite (imports GX)."""
    return _gx().ExpectationSuite(**suite)


def _range_text(sheet: Sheet, field: str) -> str:
    column = sheet.column(field)
    lo, hi = column.min_value, column.max_value
    if lo is not None and hi is not None:
        return f"（应在{format_number(lo)}至{format_number(hi)}之间）"
    if lo is not None:
        return f"（应不小于{format_number(lo)}）"
    return f"（应不大于{format_number(hi)}）" if hi is not None else ""


_TYPE_TEXT = {
    "type_int": "不是整数",
    "type_number": "不是数字",
    "type_share": "不是比例（应填60%或0.6）",
    "type_date": "不是有效日期（应填2026-10-09、2026/10/9、2026年10月9日或Excel日期）",
    "type_bool": "应填“是”或“否”",
    "type_quarter": "不是季度（应填2026Q3、2026-Q3或2026年第3季度）",
    "type_code": "不是有效编号",
    "type_code_list": "不是有效的人员编号列表",
}


def cell_issue(sheet: Sheet, field: str, rule: str, error_kind: str, row: int, value: Any) -> Issue:
    """The receipt line for one failed expectation on one cell."""
    column = sheet.column(field)
    if isinstance(value, str):
        value = shown(sheet.name, field, value)
    where = {"sheet": sheet.title, "row": row, "header": column.header}
    if rule == "not_null":
        return issue(error_kind, **where)
    if rule == "range":
        # The unit's own spelling when there is one (1e400 rather than inf).
        number = format_number(value) if isinstance(value, int | float) else value
        return issue(error_kind, **where, value=number, detail=_range_text(sheet, field))
    if rule == "allowed":
        return issue(error_kind, **where, value=value, detail=f"（应为：{'、'.join(column.allowed)}）")
    if rule == "length":
        return issue(error_kind, **where, value=value, detail="（内容过长）")
    if rule == "pattern" and error_kind == "invalid_national_id":
        return issue(error_kind, **where, value=value, detail="不是18位身份证号（17位数字加1位数字或X）")
    return issue(error_kind, **where, value=value, detail=_TYPE_TEXT.get(rule, "格式不正确"))


@dataclass(frozen=True)
class CellBatch:
    """One sheet of many deliveries, stacked for a single suite run."""

    sheet: str
    frame: pl.DataFrame  # `_file`, `_row`, every template field (Utf8), numeric `<field>__value` twins
    present: dict[int, frozenset[str]]  # delivery index -> fields the delivery really has


def stack(parts_by_sheet: dict[str, list[tuple[int, ParsedSheet]]]) -> list[CellBatch]:
    """All deliveries' cells of each sheet stacked into one frame, every template column present
    (null where a delivery lacks the column), with `_file` (the delivery index) and `_row`."""
    batches = []
    for name, parts in parts_by_sheet.items():
        if not parts:
            continue
        sheet = SHEETS_BY_NAME[name]
        fields = [c.field for c in sheet.columns]
        # One list per column over every delivery, then one frame: per-delivery frames would cost a
        # polars call each (and a pickled frame each from the workers).
        data: dict[str, list[Any]] = {FILE: [], ROW: [], **{f: [] for f in fields}}
        for index, parsed in parts:
            height = parsed.height
            data[FILE].extend([index] * height)
            for column in (ROW, *fields):
                values = parsed.columns.get(column)
                data[column].extend(values if values is not None else [None] * height)
        schema = {FILE: pl.Int64, ROW: pl.Int64, **{f: pl.Utf8 for f in fields}}
        stacked = pl.DataFrame(data, schema=schema)
        numeric = [c for c in sheet.columns if c.kind in NUMERIC_KINDS]
        # Only a canonical number has a value: "NaN" or "inf" are type errors, not also range errors.
        stacked = stacked.with_columns(
            [
                pl.when(pl.col(c.field).str.contains(CANONICAL_PATTERNS[c.kind]))
                .then(pl.col(c.field).cast(pl.Float64, strict=False))
                .alias(value_column(c.field))
                for c in numeric
            ]
        )
        present = {index: frozenset(parsed.fields) for index, parsed in parts}
        batches.append(CellBatch(name, stacked, present))
    return batches


def validate_batches(batches: list[CellBatch]) -> dict[int, list[Issue]]:
    """Run each sheet's suite once over its stacked frame; issues by delivery index.

    A failure in a column the delivery does not have (an optional column left out, or a required
    one already reported as missing) is dropped: absence is not a hundred blank cells.
    """
    batch_definition = gx_batch_definition()
    suites = _GX_STATE["suites"]
    out: dict[int, list[Issue]] = {}
    for cells in batches:
        sheet = SHEETS_BY_NAME[cells.sheet]
        batch = batch_definition.get_batch(batch_parameters={"dataframe": cells.frame.to_pandas()})
        # The canonical text of numeric fields rides along, so a range failure quotes what the unit wrote.
        texts = [c.field for c in sheet.columns if c.kind in NUMERIC_KINDS]
        result = batch.validate(
            suites[cells.sheet],
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["_file", ROW, *texts],
            },
        )
        for outcome in result.results:
            raise_if_expectation_raised(outcome, cells.sheet)
            if outcome.success:
                continue
            config = outcome.expectation_config
            column = config.kwargs["column"]
            field = column.removesuffix(VALUE_SUFFIX)
            for entry in outcome.result.get("unexpected_index_list") or []:
                index, row = int(entry["_file"]), int(entry[ROW])
                if field not in cells.present[index]:
                    continue
                value = _plain(entry.get(column))
                if column != field and isinstance(entry.get(field), str):
                    value = entry[field]
                out.setdefault(index, []).append(
                    cell_issue(sheet, field, config.meta["rule"], config.meta["error_kind"], row, value)
                )
    return out


def check_batches(batches: list[CellBatch]) -> dict[int, list[Issue]]:
    """The suites' rules as polars expressions (rules.py) over each stacked sheet; issues by delivery
    index, the same lines in the same order as validate_batches gives, without great-expectations."""
    out: dict[int, list[Issue]] = {}
    for cells in batches:
        sheet = SHEETS_BY_NAME[cells.sheet]
        for f in rules.check_frame(cells.sheet, cells.frame, cells.present):
            out.setdefault(f.index, []).append(
                cell_issue(sheet, f.rule.field, f.rule.rule, f.rule.error_kind, f.row, f.value)
            )
    return out


def validate_cells(parts_by_sheet: dict[str, list[tuple[int, ParsedSheet]]]) -> dict[int, list[Issue]]:
    """stack + validate_batches in this process (tests, inline runs)."""
    return validate_batches(stack(parts_by_sheet))


Validator = Callable[[list[CellBatch]], dict[int, list[Issue]]]


def validate_isolated(
    parts_by_sheet: dict[str, list[tuple[int, ParsedSheet]]],
    validator: Validator,
    submission_ids: dict[int, str],
    log: logging.Logger,
    one_by_one: Validator | None = None,
    stacked: list[CellBatch] | None = None,
) -> tuple[dict[int, list[Issue]], dict[int, Incident]]:
    """Validate all deliveries in one suite run per sheet; if that raises, validate each delivery on its
    own, so whatever one file holds, only that file fails (with an incident on its receipt).

    `validator` runs validate_batches (in this process, a thread or the GX process); `one_by_one`, if
    given, runs the per-file retries (in this process: a GX process that died cannot take them, and
    every file would be an incident). `submission_ids` maps delivery index to SHA-256 for the incident
    ids. The retries cost one suite run per sheet and file, paid only when the batched run failed.
    `stacked`: stack(parts_by_sheet) when the caller has it already.
    """
    try:
        return validator(stacked if stacked is not None else stack(parts_by_sheet)), {}
    except Exception:
        log.exception("batched cell validation failed; validating each file on its own")
    retry = one_by_one or validator
    issues: dict[int, list[Issue]] = {}
    incidents: dict[int, Incident] = {}
    indexes = sorted({i for parts in parts_by_sheet.values() for i, _ in parts})
    for index in indexes:
        own = {name: [p for p in parts if p[0] == index] for name, parts in parts_by_sheet.items()}
        try:
            issues.update(retry(stack(own)))
        except Exception:
            incidents[index] = report_incident(submission_ids.get(index, "?"), "validate", log)
    return issues, incidents


def report_incident(submission_id: str, stage: str, log: logging.Logger) -> Incident:
    """Inside an `except` block: the current exception as an incident of one file, logged with its id."""
    detail = traceback.format_exc()
    incident = Incident(incident_id(submission_id, stage, detail), stage, detail)
    log_incident(incident, submission_id, log)
    return incident


# Cell findings of the suites that only restate a cell the parse already explained (a formula with no
# saved result, an Excel error value, both read as an empty cell): one explanation per cell.
_EXPLAINED_CELLS = frozenset({"formula_without_value", "error_value"})


def merge_cell_issues(parse_issues: list[Issue], cell_issues: list[Issue]) -> list[Issue]:
    """The parse's issues plus the suites' findings, minus suite findings on explained cells."""
    explained = {(i.sheet, i.excel_row, i.header) for i in parse_issues if i.kind in _EXPLAINED_CELLS}
    if not explained:
        return parse_issues + cell_issues
    return parse_issues + [i for i in cell_issues if (i.sheet, i.excel_row, i.header) not in explained]


def _plain(value: Any) -> Any:
    """numpy scalars and NaN from pandas back to plain Python."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


# -- context: the folder the file arrived in -------------------------------------------------------------


def checked_context(
    facts: UnitFacts | None,
    folder: str,
    quarter: Quarter,
    registry_unit: dict[str, str] | None,
    submission_id: str,
    log: logging.Logger,
) -> list[Issue]:
    """check_context, with an unexpected exception turned into this file's incident."""
    try:
        return check_context(facts, folder, quarter, registry_unit)
    except Exception:
        return [report_incident(submission_id, "context", log).issue()]


def check_context(
    facts: UnitFacts | None,
    folder: str,
    quarter: Quarter,
    registry_unit: dict[str, str] | None,
) -> list[Issue]:
    """Rules that depend on where the file arrived: its unit folder, the quarter, the registry."""
    if registry_unit is None:
        return [file_issue("unknown_unit", f"“{folder}”")]
    if facts is None:
        return []
    info = SHEETS_BY_NAME["unit_info"]
    out: list[Issue] = []
    at = {"sheet": info.title, "row": facts.info_row}
    if facts.unit_code is not None and facts.unit_code != folder:
        out.append(
            issue(
                "unit_mismatch",
                **at,
                header=info.column("unit_code").header,
                value=facts.unit_code,
                detail=f"（文件夹为{folder}），一个单位只能报送本单位的数据",
            )
        )
    if facts.quarter is not None and facts.quarter != quarter.key:
        out.append(
            issue(
                "quarter_mismatch",
                **at,
                header=info.column("quarter").header,
                value=facts.quarter,
                detail=f"（{quarter.key}）",
            )
        )
    if facts.unit_name is not None and facts.unit_name != registry_unit["unit_name"]:
        out.append(
            issue(
                "unit_name_mismatch",
                **at,
                header=info.column("unit_name").header,
                value=facts.unit_name,
                detail=f"（名册为“{registry_unit['unit_name']}”），以单位代码为准",
            )
        )
    out.extend(_coefficients(facts, registry_unit))
    if quarter.q != 4:
        if facts.regular_share_row is not None:
            out.append(
                issue(
                    "value_ignored",
                    **at,
                    header=info.column("regular_share").header,
                    detail="（平时考核占比只在第四季度填报）",
                )
            )
        if facts.year_end_rows:
            out.append(
                issue(
                    "sheet_ignored",
                    sheet=SHEETS_BY_NAME["year_end"].title,
                    detail="（年度测评只在第四季度填报）",
                )
            )
    return out


def _coefficients(facts: UnitFacts, registry_unit: dict[str, str]) -> list[Issue]:
    """科室系数 is required only of units whose base method uses it."""
    if registry_unit.get("base_method") != "section_coefficient":
        return []
    sheet = SHEETS_BY_NAME["sections"]
    header = sheet.column("section_coefficient").header
    detail = "（本单位按科室系数确定基础分，必须填写）"
    if not facts.has_coefficient_column:
        return [issue("missing_column", sheet=sheet.title, header=header, detail=detail)]
    return [
        issue("missing_value", sheet=sheet.title, row=r, header=header, detail=detail)
        for r in facts.blank_coefficient_rows
    ]
