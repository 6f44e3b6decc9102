"""great-expectations over a quarter's raw tables: the declared suites checked on what was accepted.

Ingestion enforces the cell rules with polars expressions compiled from the committed suites
(rules.py). This is the other half of that split: the suites themselves, run by GX 1.x on pandas over
the rows the quarter's raw tables hold, as a blocking Dagster asset check (pipelines/defs/ingest/
checks.py). A row GX rejects is one the polars rules let through, so dbt must not build on it.

The raw tables are typed; the suites judge canonical text. Each typed value is turned back into its
canonical spelling (integers as digits, numbers as normalise.format_number writes them, dates ISO,
booleans 是/否) with the `__value` twin for ranges; the roster's names and national IDs come from the
restricted persons table. A suite column no raw table keeps (tasks.assist_codes, exploded into
task_assignments) is left out and named in the result.

GX costs seconds to import, so what passed once is remembered per quarter under the parse cache's
namespace (which hashes the suites): the submissions whose rows passed, and every distinct value each
suite column held in them. A re-run with nothing new does not import GX, and a resubmission validates
only the new file's rows; when a sheet's suite judges one cell at a time and every value of those rows
(per column) already passed GX under the same suite, the verdict is known without running GX again.
A corrected workbook repeats its unit's names, codes and all but a few scores, so one unit's
resubmission is usually decided without importing GX at all. The values hold names and national IDs,
like the rest of the cache: restricted data (cache.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.domain.template import SHEETS, SHEETS_BY_NAME, Kind
from pipelines.ingest.load import persons_path, raw_path
from pipelines.ingest.normalise import NO, YES, format_number
from pipelines.ingest.rules import SUPPORTED as PER_CELL
from pipelines.ingest.suites import NUMERIC_KINDS, load_suites, raise_if_expectation_raised, value_column

SUBMISSION = "submission_id"
ROW = "_row"  # position of the row in its raw table
VALUES_SCHEMA: dict[str, pl.DataType] = {"sheet": pl.Utf8(), "column": pl.Utf8(), "value": pl.Utf8()}


@dataclass
class SuiteFailure:
    """Cells of one raw table failing one expectation (counts and where; never the values: PII)."""

    sheet: str
    column: str
    expectation: str
    rule: str
    cells: int
    submissions: list[str]


@dataclass
class GxOutcome:
    checked_submissions: int = 0  # validated now
    skipped_submissions: int = 0  # passed in an earlier run with the same suites
    rows: dict[str, int] = field(default_factory=dict)
    failures: list[SuiteFailure] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # suite columns no raw table keeps
    # sheets whose new rows held only values that passed GX before under the same suite
    decided_by_earlier_passes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def canonical(values: pl.Series, kind: Kind) -> pl.Series:
    """Typed raw values back to the canonical text the suites judge (null stays null)."""
    dtype = values.dtype
    if dtype == pl.Utf8:
        return values
    if dtype == pl.Boolean:
        return pl.select(pl.when(values).then(pl.lit(YES)).when(~values).then(pl.lit(NO))).to_series()
    if dtype == pl.Date:
        return values.dt.strftime("%Y-%m-%d")
    if dtype.is_float() and kind in NUMERIC_KINDS:
        spelled = {v: format_number(v) for v in values.drop_nulls().unique().to_list()}
        return values.replace_strict(spelled, return_dtype=pl.Utf8, default=None)
    return values.cast(pl.Utf8)


def suite_frame(sheet_name: str, raw: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The frame a suite runs on, built from a raw table; and the suite columns it cannot have."""
    sheet = SHEETS_BY_NAME[sheet_name]
    columns: list[pl.Series] = [raw.get_column(SUBMISSION), pl.Series(ROW, range(raw.height), pl.Int64)]
    missing = []
    for column in sheet.columns:
        if column.field not in raw.columns:
            missing.append(f"{sheet_name}.{column.field}")
            continue
        typed = raw.get_column(column.field)
        columns.append(canonical(typed, column.kind).alias(column.field))
        if column.kind in NUMERIC_KINDS:
            columns.append(typed.cast(pl.Float64).alias(value_column(column.field)))
    return pl.DataFrame(columns), missing


def quarter_ids(raw_root: Path, quarter: str) -> set[str]:
    """Every submission id in the quarter's sheet tables (their id column alone is read)."""
    ids: set[str] = set()
    for s in SHEETS:
        column = pl.read_parquet(raw_path(raw_root, s.name, quarter), columns=[SUBMISSION])
        # Distinct in polars first: a city's ratings alone hold ~200,000 copies of ~500 ids.
        ids.update(column.get_column(SUBMISSION).unique().to_list())
    return ids


def quarter_frames(
    raw_root: Path, restricted_root: Path, quarter: str, skip: set[str] | None = None
) -> dict[str, pl.DataFrame]:
    """Each template sheet's raw table of the quarter, without the rows of the submissions in `skip`
    (left out as the file is read: a resubmission's check decodes one unit's rows, not the city's);
    the roster with its restricted columns back."""
    skipped = sorted(skip or ())
    frames = {
        s.name: pl.scan_parquet(raw_path(raw_root, s.name, quarter))
        .filter(~pl.col(SUBMISSION).is_in(skipped))
        .collect()
        for s in SHEETS
    }
    persons = persons_path(restricted_root, quarter)
    if persons.exists():
        clear = pl.read_parquet(persons, columns=["unit_code", "person_code", "national_id", "name"])
        frames["roster"] = frames["roster"].join(
            clear, on=["unit_code", "person_code"], how="left", maintain_order="left"
        )
    return frames


def distinct_cells(frame: pl.DataFrame) -> pl.DataFrame:
    """Every distinct value of every suite column (null included when present), each column cycled
    through its own values to a common length: the same verdict as the full frame for expectations
    that judge one cell at a time (every type rules.py knows), on a few thousand rows instead of
    hundreds of thousands. A failure is then located on the full frame."""
    columns = {
        c: frame.get_column(c).unique(maintain_order=True)
        for c in frame.columns
        if c not in (SUBMISSION, ROW)
    }
    height = max((len(v) for v in columns.values()), default=0)
    out = [pl.Series(SUBMISSION, [""] * height, pl.Utf8), pl.Series(ROW, range(height), pl.Int64)]
    for name, values in columns.items():
        repeats = -(-height // max(len(values), 1))
        out.append(pl.concat([values] * repeats)[:height].alias(name))
    return pl.DataFrame(out)


def _per_cell(sheet_name: str) -> bool:
    # `mostly` would make a verdict depend on the share of failing cells, not on each cell alone.
    expectations = load_suites()[sheet_name]["expectations"]
    return all(e["type"] in PER_CELL and "mostly" not in e["kwargs"] for e in expectations)


def column_values(sheet_name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Every distinct (column, value) of a suite frame, values as text (null kept): what a per-cell
    verdict depends on."""
    parts = [
        frame.select(
            pl.lit(sheet_name).alias("sheet"),
            pl.lit(c).alias("column"),
            pl.col(c).cast(pl.Utf8).alias("value"),
        ).unique()
        for c in frame.columns
        if c not in (SUBMISSION, ROW)
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=VALUES_SCHEMA)


def all_passed_before(values: pl.DataFrame, passed: pl.DataFrame) -> bool:
    """Whether every (sheet, column, value) of `values` is among those that passed GX before."""
    return values.join(passed, on=["sheet", "column", "value"], how="anti", nulls_equal=True).is_empty()


def _run_suite(sheet_name: str, frame: pl.DataFrame, locate: bool = True) -> list[SuiteFailure]:
    """The suite's failing expectations on `frame`. `locate=False` asks GX for the verdicts only (its
    BOOLEAN_ONLY result format: about half the CPU of a complete result on a city's distinct cells);
    a failure then comes back without its cells, for a caller that locates them with a second run."""
    from pipelines.ingest.validate import gx_batch_definition, gx_suite

    suite = load_suites()[sheet_name]
    kept = [e for e in suite["expectations"] if e["kwargs"]["column"] in frame.columns]
    batch = gx_batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    result = batch.validate(
        gx_suite({**suite, "expectations": kept}),
        result_format=(
            {"result_format": "COMPLETE", "unexpected_index_column_names": [SUBMISSION, ROW]}
            if locate
            else {"result_format": "BOOLEAN_ONLY"}
        ),
    )
    out = []
    for outcome in result.results:
        raise_if_expectation_raised(outcome, f"raw {sheet_name}")
        if outcome.success:
            continue
        config = outcome.expectation_config
        entries = outcome.result.get("unexpected_index_list") or []
        out.append(
            SuiteFailure(
                sheet=sheet_name,
                column=config.kwargs["column"],
                expectation=config.type,
                rule=config.meta["rule"],
                cells=len(entries),
                submissions=sorted({str(e[SUBMISSION]) for e in entries}),
            )
        )
    return out


def _verified_path(cache_root: Path, quarter: str) -> Path:
    return cache_root / "gx_verified" / f"{quarter}.json"


def _values_path(cache_root: Path, quarter: str) -> Path:
    return cache_root / "gx_verified" / f"{quarter}.values.parquet"


def _read_values(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path).select(list(VALUES_SCHEMA)).cast(VALUES_SCHEMA)
    except (OSError, pl.exceptions.PolarsError):
        return pl.DataFrame(schema=VALUES_SCHEMA)  # none yet, or damaged: GX judges the rows


def _read_verified(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return set()  # a damaged note only costs a full validation


def check_quarter(raw_root: Path, restricted_root: Path, cache_root: Path, quarter: str) -> GxOutcome:
    """Run every suite over the quarter's raw rows not verified before; remember them when they pass."""
    ids = quarter_ids(raw_root, quarter)
    path = _verified_path(cache_root, quarter)
    verified = _read_verified(path) & ids
    frames = quarter_frames(raw_root, restricted_root, quarter, verified)
    outcome = GxOutcome(checked_submissions=len(ids - verified), skipped_submissions=len(verified))
    values_path = _values_path(cache_root, quarter)
    passed_values = _read_values(values_path) if ids - verified else pl.DataFrame(schema=VALUES_SCHEMA)
    new_values = [passed_values]
    for sheet in SHEETS:
        frame, missing = suite_frame(sheet.name, frames[sheet.name])
        outcome.not_checked += missing
        outcome.rows[sheet.name] = frame.height
        if not frame.height:
            continue
        # Expectations judging one cell at a time see every distinct value in a few thousand rows;
        # only a failing sheet (or a suite with another kind of expectation) is run row by row.
        if _per_cell(sheet.name):
            cells = distinct_cells(frame)
            values = column_values(sheet.name, cells)
            new_values.append(values)
            if all_passed_before(values, passed_values):
                outcome.decided_by_earlier_passes.append(sheet.name)
                continue
            if not _run_suite(sheet.name, cells, locate=False):
                continue
        outcome.failures += _run_suite(sheet.name, frame)
    if outcome.passed:
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(new_values) > 1:
            tmp = values_path.with_name(f".{values_path.name}.partial")
            pl.concat(new_values).unique().write_parquet(tmp)
            tmp.replace(values_path)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(json.dumps(sorted(ids)), encoding="utf-8")
        tmp.replace(path)
    return outcome


def never_validated(cache_root: Path, quarter: str) -> bool:
    """Whether no value of the quarter has passed GX under the current suites yet (a first run: the
    check will import GX and run every sheet)."""
    return not _values_path(cache_root, quarter).exists() and not _verified_path(cache_root, quarter).exists()


def outcome_to_json(outcome: GxOutcome) -> dict[str, Any]:
    return asdict(outcome)


def outcome_from_json(data: dict[str, Any]) -> GxOutcome:
    """Raises TypeError or KeyError on data `outcome_to_json` did not make."""
    failures = [SuiteFailure(**f) for f in data["failures"]]
    return GxOutcome(**{**data, "failures": failures})


def describe(outcome: GxOutcome) -> dict[str, Any]:
    """Asset-check metadata: what was checked, what failed (columns, counts, submissions)."""
    return {
        "submissions_checked_now": outcome.checked_submissions,
        "submissions_verified_before": outcome.skipped_submissions,
        "rows_checked": outcome.rows,
        "columns_not_in_raw_tables": ", ".join(outcome.not_checked) or "none",
        "sheets_of_values_passed_before": ", ".join(outcome.decided_by_earlier_passes) or "none",
        "failures": [
            f"{f.sheet}.{f.column} {f.expectation} ({f.rule}): {f.cells} cells in {len(f.submissions)} "
            f"submissions, e.g. {', '.join(s[:12] for s in f.submissions[:3])}"
            for f in outcome.failures
        ]
        or "none",
    }
