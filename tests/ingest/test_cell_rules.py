"""The cell rules on the hot path (rules.py, polars) say exactly what great-expectations says with the
same committed suites: the same receipt lines, in the same order, on any text in any cell.

GX is the declared contract (expectations/*.json); rules.py is its compilation to polars expressions.
Each sheet is stacked from several deliveries whose cells are drawn from canonical values, values just
outside every bound, spellings that only look canonical, and random text (seeded), then both engines
run on the same batches.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from pipelines.domain.template import SHEETS, Column
from pipelines.ingest.rules import SUPPORTED, UnsupportedExpectationError, compile_suite, suite_rules
from pipelines.ingest.suites import build_suites, load_suites
from pipelines.ingest.validate import check_batches, stack, validate_batches
from tests.ingest.helpers import parsed

TEXTS = (
    "85",
    "85.5",
    "-0",
    "0",
    "1",
    "5",
    "6",
    "100",
    "100.0001",
    "-10",
    "-10.5",
    "0.001",
    "0.0009",
    "1000",
    "1000.5",
    "0.8",
    "1.2",
    "1.21",
    "1e400",
    "1e-400",
    "1E2",
    "NaN",
    "inf",
    "-inf",
    "八十五",
    "85\n",  # `$` before a trailing newline: what Python's re (and so GX) accepts
    "٨٥",  # Arabic-Indic digits: \d in Python's re
    "８５",
    " 85",
    "2025-09-30",
    "2025-02-30",
    "2025-13-01",
    "2025/9/30",
    "是",
    "否",
    "Y",
    "2025Q3",
    "2025Q5",
    "P001",
    "P 001",
    "=P001",
    "+1",
    "@x",
    "-x",
    "P001、P002",
    "P001、",
    "、P001",
    "P001,P002",
    "371602199001011234",
    "37160219900101123X",
    "37160219900101123x",
    "3716021990010112345",
    "371602199001011234\n",
    "市委重点任务",
    '"83"工程',
    "已完成",
    "分管领导",
    "P" * 50,
    "P" * 51,
    "长" * 500,
    "长" * 501,
    "",
    " ",
    "\u3000",
    "😀",
    "𠀀",
)
_POOL = "0123456789.-eE+XPQ年月日是否、 \n\t８٣长=@"


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_POOL) for _ in range(rng.randint(1, 8)))


def _cell(column: Column, rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.25 and column.allowed:
        return rng.choice(column.allowed)
    if roll < 0.85:
        return rng.choice(TEXTS)
    return _random_text(rng)


def _deliveries(rng: random.Random, n_files: int, rows: int) -> dict[str, list[tuple[int, Any]]]:
    by_sheet: dict[str, list[tuple[int, Any]]] = {}
    for sheet in SHEETS:
        parts = []
        for index in range(n_files):
            # Some deliveries leave an optional (or a required) column out altogether.
            kept = [c for c in sheet.columns if rng.random() > 0.1]
            cells = [{c.field: _cell(c, rng) for c in kept} for _ in range(rows)]
            parts.append((index, parsed(sheet.name, cells, first_row=2 + index)))
        by_sheet[sheet.name] = parts
    return by_sheet


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_polars_rules_find_what_the_gx_suites_find(seed: int) -> None:
    rng = random.Random(seed)
    batches = stack(_deliveries(rng, n_files=6, rows=60))
    gx = validate_batches(batches)
    ours = check_batches(batches)
    assert sum(len(v) for v in gx.values()) > 100  # the draw does exercise the rules
    kinds = {i.kind for found in gx.values() for i in found}
    assert {"missing_value", "wrong_type", "out_of_range", "invalid_value", "invalid_national_id"} <= kinds
    assert ours.keys() == gx.keys()
    for index, found in gx.items():
        assert ours[index] == found, index


def test_every_expectation_of_the_committed_suites_has_a_polars_form() -> None:
    compiled = suite_rules()
    for name, suite in load_suites().items():
        assert len(compiled[name]) == len(suite["expectations"])
        assert {e["type"] for e in suite["expectations"]} <= SUPPORTED
    assert load_suites() == build_suites()  # one source of truth: the template, through the JSON


def test_an_expectation_without_a_polars_form_is_refused() -> None:
    mean = {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "a"}, "meta": {}}
    suite = {"name": "x", "expectations": [mean]}
    with pytest.raises(UnsupportedExpectationError):
        compile_suite(suite)


def test_a_range_failure_quotes_the_units_text_and_a_blank_is_not_quoted() -> None:
    tasks = parsed("tasks", [{"task_code": "T1", "quantity": "1e3", "intensity": None}])
    found = check_batches(stack({"tasks": [(0, tasks)]}))[0]
    by_header = {(i.kind, i.header): i for i in found}
    assert by_header[("missing_value", "工作强度")].value is None
    assert ("out_of_range", "任务数量") not in by_header  # 1e3 = 1000 is within range
    tasks = parsed("tasks", [{"task_code": "T1", "quantity": "1.5e3"}])
    (over,) = [i for i in check_batches(stack({"tasks": [(0, tasks)]}))[0] if i.kind == "out_of_range"]
    assert over.value == "1.5e3"
