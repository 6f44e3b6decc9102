"""A run rewrites the files of the quarters outside the command that it changes, through the operator
command (run_quarters) on a copy of the shared published city (2025Q3 and 2025Q4).

Two probes found them stale: a review register for an earlier quarter, applied by the next run of a
later one, changed the warehouse but got no receipt, and that quarter's unit workbook kept the old
grade; the year's cadre list in the other quarters' folders kept the annual results of before.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import openpyxl
import pytest

from tests.conftest import copy_data_dir, pipeline_env
from tests.deliverables.conftest import Decision, write_register

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]

EARLIER, LATER = "2025Q3", "2025Q4"
HEADER_ROW = 3


def _rows(path: Path, sql: str, params: list[object]) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def test_a_review_of_an_earlier_quarter_reaches_that_quarters_files(
    published_city: Path, tmp_path: Path
) -> None:
    from pipelines.cli.runner import run_quarters

    data = copy_data_dir(published_city, tmp_path / "city")
    work = data / "warehouse" / "private" / "work.duckdb"
    ((unit, person),) = _rows(
        work,
        "select unit_code, person_code from marts.fct_person_quarter "
        "where quarter = ? and computed_grade = '好' order by unit_code, person_code limit 1",
        [EARLIER],
    )
    write_register(
        data / "landing" / EARLIER / "_reviews" / "复核登记-补充.xlsx",
        [Decision(unit, person, "较好", "复核后改定")],
    )
    with pipeline_env(data):
        run_quarters([LATER], progress=lambda _m: None, report_quarters=[])
    assert _rows(
        work,
        "select final_grade from results_use.fct_person_record where period = ? and unit_code = ? "
        "and person_code = ?",
        [EARLIER, unit, person],
    ) == [("较好",)]
    earlier = data / "deliverables" / EARLIER
    assert [p.name for p in (earlier / "reviews").glob("*.html")] == ["复核登记-补充-回执.html"]
    (book_path,) = sorted((earlier / "units").glob(f"{unit}-*.xlsx"))
    sheet = openpyxl.load_workbook(book_path)["平时考核结果"]
    headers = [c.value for c in sheet[HEADER_ROW]]
    row = next(r for r in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0] == person)
    assert dict(zip(headers, row, strict=False))["最终等次"] == "较好"
