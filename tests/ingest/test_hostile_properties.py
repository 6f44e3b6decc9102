"""Property: whatever one cell of one submission holds, ingestion completes and fails only that file.

Hypothesis picks a unit of a clean generated quarter, any cell of any sheet of its workbook (the
header row and one row and column past the data included) and any value: out-of-range and negative
integers, huge, tiny and non-finite floats, text of every kind, dates, booleans, Excel error values,
formulas saved without a result, very long strings, control characters, emoji, an empty cell. The
mutated workbook is written by openpyxl as a real .xlsx, lands as the unit's resubmission, and the
real ingestion runs. Then:
- the run completes and every file has a receipt;
- the mutated file is accepted, and then everything it brought in is finite, within the template's
  range and free of control characters; or it is rejected, with reasons that are all plain Chinese
  (no library's English) and none of them an incident (an incident is a bug of ours), and the unit
  keeps its previous data;
- every other unit's raw rows are exactly what they were.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.ingest.hostile import (
    Base,
    Text,
    accepted_rows_are_sane,
    copy_base,
    errors_of,
    every_file_has_a_receipt,
    ingest,
    landing_folder,
    new_submission,
    others_unchanged,
    plain_chinese,
    set_cell,
    unit_unchanged,
)

# The tests share a module-scoped fixture and read the session's hostile_base: keep them on one xdist
# worker with hostile_base's and noisy_quarter's other readers, so each is built once.
pytestmark = pytest.mark.xdist_group("ingested_quarters")

ERROR_VALUES = ("#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!")
FORMULAS = ("=1/0", "=A1+1", "=SUM(A1:A3)", '=HYPERLINK("http://x.example","点")', "=NOW()", "=B2")
TRICKY_TEXT = (
    "85",
    "８５",
    " 85 ",
    "85.5",
    "1e400",
    "-1e400",
    "NaN",
    "inf",
    "-0",
    "0x1F",
    "1_000",
    "６",
    "2026-10-09",
    "2026/2/30",
    "2026年10月9日",
    "45000",
    "是",
    "否",
    "TRUE",
    "√",
    "60%",
    "1e308%",
    "P001",
    "P001、P002",
    "2025Q3",
    "2025-Q9",
    "371602199001011234",
    "37160219900101123X",
    "=1+1",
    "@SUM(1)",
    "+1",
    "-加强监管",
    "市委重点任务",
    "已完成",
    "分管领导",
)
CONTROL = [chr(c) for c in range(0x20) if c not in (9, 10, 13)] + [
    "\x7f",
    "\x85",
    "\u200b",
    "\u202e",
    "\ufeff",
]

VALUES = st.one_of(
    st.none(),
    st.integers(-10, 10),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((1.7e308, -1.7e308, 5e-324, 1e-300, 1000.0000001, 1001.0, 0.0009, 100.0001, -0.0)),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(TRICKY_TEXT),
    st.sampled_from(TRICKY_TEXT).map(Text),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1)),
    st.booleans(),
    st.sampled_from(ERROR_VALUES),
    st.sampled_from(FORMULAS),
    st.integers(100, 40_000).map(lambda n: "长" * n),
    st.text(st.sampled_from(CONTROL), min_size=1, max_size=4).map(lambda t: f"P0{t}1"),
    st.sampled_from(("😀", "P0😀17", "👨\u200d👩\u200d👧", "𠀀", "\u3000", " ")),
)


@pytest.fixture(scope="module")
def shapes(hostile_base: Base) -> dict[str, dict[str, tuple[int, int]]]:
    """unit -> sheet -> (rows, columns) of its clean workbook."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for unit, book in hostile_base.books.items():
        wb = openpyxl.load_workbook(book, read_only=True)
        out[unit] = {ws.title: (ws.max_row, ws.max_column) for ws in wb.worksheets}
        wb.close()
    return out


def _run(base: Base, unit: str, sheet: str, row: int, column: int, value: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        root = copy_base(base, Path(tmp) / "data")
        set_cell(base.books[unit], landing_folder(root, unit) / "更正.xlsx", sheet, row, column, value)
        report = ingest(root)
        every_file_has_a_receipt(root, report)
        submission = new_submission(base, root)
        if submission["accepted"]:
            event("accepted")
            accepted_rows_are_sane(root, unit)
        else:
            errors = errors_of(root, submission["submission_id"])
            event("rejected: " + ", ".join(sorted({e["kind"] for e in errors})))
            assert errors, "rejected without a reason"
            assert all(plain_chinese(e) for e in errors), errors
            assert not any(e["kind"] == "internal_error" for e in errors), errors
            unit_unchanged(base, root, unit)
        others_unchanged(base, root, unit)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_value_in_any_cell_fails_only_its_own_file(
    hostile_base: Base, shapes: dict[str, dict[str, tuple[int, int]]], data: st.DataObject
) -> None:
    unit = data.draw(st.sampled_from(hostile_base.units), label="unit")
    sheet = data.draw(st.sampled_from(sorted(shapes[unit])), label="sheet")
    rows, columns = shapes[unit][sheet]
    # Mostly a data row (or the one past the data); the header row now and then (hypothesis would
    # otherwise favour the boundary, row 1, and spend half its examples on missing columns).
    header = data.draw(st.sampled_from((False,) * 7 + (True,)), label="header")
    row = 1 if header else data.draw(st.integers(2, rows + 1), label="row")
    column = data.draw(st.integers(1, columns + 1), label="column")
    value = data.draw(VALUES, label="value")
    _run(hostile_base, unit, sheet, row, column, value)


def test_an_unchanged_cell_written_back_is_accepted_and_changes_nothing(hostile_base: Base) -> None:
    """The ground the property stands on: openpyxl's rewrite of a clean workbook is itself clean, so a
    rejection in the property is the mutation's doing."""
    unit = hostile_base.units[0]
    wb = openpyxl.load_workbook(hostile_base.books[unit])
    value = wb["评议打分"].cell(row=2, column=4).value
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        root = copy_base(hostile_base, Path(tmp) / "data")
        set_cell(hostile_base.books[unit], landing_folder(root, unit) / "更正.xlsx", "评议打分", 2, 4, value)
        report = ingest(root)
        submission = new_submission(hostile_base, root)
        assert submission["accepted"], errors_of(root, submission["submission_id"])
        assert report.rejected == 0
        tables = {t: pl.read_parquet(root / "raw" / t / "2025Q3.parquet") for t in ("ratings", "tasks")}
        for name, frame in tables.items():
            mine = frame.filter(pl.col("unit_code") == unit).drop("submission_id")
            before = hostile_base.tables[name].filter(pl.col("unit_code") == unit).drop("submission_id")
            assert mine.equals(before), name
