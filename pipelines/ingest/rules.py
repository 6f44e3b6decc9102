"""The cell rules on the hot path: the committed suites (expectations/<sheet>.json) as polars expressions.

The suites stay the one declaration of what a cell must satisfy: they are generated from the template
(suites.py) and committed, and this module compiles each expectation of them into a polars expression
over the stacked sheet (validate.stack), with the semantics great-expectations gives it on pandas:

    expect_column_values_to_not_be_null          the cell is null
    expect_column_values_to_match_regex          a non-null cell `re.search` finds no match in (GX runs
                                                 pandas `str.contains`, i.e. Python's `re`; evaluated once
                                                 per distinct value, so `$`, `\\d`, `\\s` mean what GX means)
    expect_column_value_lengths_to_be_between    a non-null cell whose length in characters is out of bounds
    expect_column_values_to_be_in_set            a non-null cell not in the set
    expect_column_values_to_be_between           a non-null value out of [min, max] (bounds inclusive)

A finding becomes the same receipt line GX's finding became (validate.cell_issue), in the same order:
sheet by sheet, expectation by expectation in suite order, rows in stacked order. An expectation type
this module does not know makes loading fail, so a suite cannot silently outgrow it.

Why not GX itself on the hot path: importing it costs ~3.5 s of CPU and a validation of a city's stacked
sheets ~3 s, more than everything else in ingestion together; these expressions take milliseconds. GX
still runs the same JSON, as a blocking Dagster asset check over the quarter's raw tables
(pipelines/defs/ingest/assets.py, `gx_suites_hold`), and tests compare the two on the same batches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from pipelines.ingest.sheets import ROW
from pipelines.ingest.suites import VALUE_SUFFIX, load_suites
from pipelines.ingest.tables import FILE

NOT_NULL = "expect_column_values_to_not_be_null"
MATCH_REGEX = "expect_column_values_to_match_regex"
LENGTHS_BETWEEN = "expect_column_value_lengths_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
SUPPORTED = frozenset({NOT_NULL, MATCH_REGEX, LENGTHS_BETWEEN, IN_SET, BETWEEN})


@dataclass(frozen=True)
class CellRule:
    """One expectation of a suite: which column, what it checks, which receipt line a failure gets."""

    type: str
    column: str  # the frame column: the field, or its `__value` twin for ranges
    field: str  # the template field (what the receipt names)
    rule: str  # meta.rule: picks the Chinese wording
    error_kind: str  # meta.error_kind: the receipt's error kind
    kwargs: Mapping[str, Any]


class UnsupportedExpectationError(ValueError):
    pass


def compile_suite(suite: Mapping[str, Any]) -> tuple[CellRule, ...]:
    """The suite's expectations, in order, as rules; an unknown expectation type raises."""
    rules = []
    for expectation in suite["expectations"]:
        kind = expectation["type"]
        if kind not in SUPPORTED:
            raise UnsupportedExpectationError(f"{suite['name']}: {kind} has no polars form in rules.py")
        kwargs = dict(expectation["kwargs"])
        column = kwargs.pop("column")
        meta = expectation["meta"]
        field = column.removesuffix(VALUE_SUFFIX)
        rules.append(CellRule(kind, column, field, meta["rule"], meta["error_kind"], kwargs))
    return tuple(rules)


@cache
def suite_rules() -> dict[str, tuple[CellRule, ...]]:
    """Every committed suite, compiled once per process."""
    return {name: compile_suite(suite) for name, suite in load_suites().items()}


def _regex_misses(series: pl.Series, pattern: str) -> list[str]:
    """The distinct non-null values `re.search(pattern, value)` finds nothing in (GX's pandas semantics)."""
    search = re.compile(pattern).search
    return [v for v in series.drop_nulls().unique().to_list() if search(v) is None]


def failing(rule: CellRule, frame: pl.DataFrame) -> pl.Expr:
    """True on the rows of `frame` that fail `rule`; false on the rows it does not judge (null cells,
    except for the not-null rule)."""
    col = pl.col(rule.column)
    kw = rule.kwargs
    if rule.type == NOT_NULL:
        return col.is_null()
    if rule.type == MATCH_REGEX:
        return col.is_in(_regex_misses(frame.get_column(rule.column), kw["regex"])).fill_null(False)
    if rule.type == IN_SET:
        return (col.is_not_null() & ~col.is_in(list(kw["value_set"]))).fill_null(False)
    measured = col.str.len_chars() if rule.type == LENGTHS_BETWEEN else col
    outside = pl.lit(False)
    if kw.get("min_value") is not None:
        outside = outside | (measured < kw["min_value"])
    if kw.get("max_value") is not None:
        outside = outside | (measured > kw["max_value"])
    return (col.is_not_null() & outside).fill_null(False)


@dataclass(frozen=True)
class Finding:
    """One cell failing one rule: the delivery (index into the batch), its Excel row, the cell's text."""

    index: int
    rule: CellRule
    row: int
    value: str | None


def check_frame(sheet_name: str, frame: pl.DataFrame, present: Mapping[int, frozenset[str]]) -> list[Finding]:
    """The findings of one stacked sheet (`_file`, `_row`, fields, `__value` twins), in suite order.

    A finding in a column the delivery does not have is dropped (an optional column left out, or a
    required one reported as missing already): absence is not a hundred blank cells."""
    rules = [r for r in suite_rules()[sheet_name] if r.column in frame.columns]
    if not rules or frame.is_empty():
        return []
    masks = frame.select(failing(r, frame).alias(str(k)) for k, r in enumerate(rules))
    counts = masks.sum().row(0)
    out: list[Finding] = []
    for k, rule in enumerate(rules):
        if not counts[k]:
            continue
        bad = frame.filter(masks.get_column(str(k))).select(FILE, ROW, rule.field)
        for index, row, value in bad.iter_rows():
            if rule.field in present[index]:
                # A range is checked on the float twin but quotes the unit's canonical text.
                out.append(Finding(index, rule, row, None if rule.type == NOT_NULL else value))
    return out
