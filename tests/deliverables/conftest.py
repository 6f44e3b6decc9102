"""A published city with review registers, run again through the real quarterly pipeline.

The shared published city (tests/conftest.py: 16 units, 2025Q3..Q4, published by the real Dagster
jobs) is copied; a review register made from the shipped template is dropped into
landing/2025Q4/_reviews/ with three decisions chosen from the warehouse:

- a 好 person downgraded to 较好 (applied: frees a place, changes the grade; its reason is formula-like
  and carries HTML, to check neutralising and escaping);
- an upgrade to 好 in a unit already at its 好 cap (refused: over the cap);
- a person code the unit never submitted (refused).

Then `quarterly_pipeline` runs 2025Q4 again, as the next scheduled run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest

from tests.conftest import copy_data_dir, pipeline_env

QUARTER = "2025Q4"
TEMPLATE = Path(__file__).resolve().parents[2] / "data" / "reference" / "templates" / "复核登记表.xlsx"
HOSTILE_REASON = '=HYPERLINK("http://example.invalid","x")<script>alert(1)</script>'


@dataclass(frozen=True)
class Decision:
    unit_code: str
    person_code: str
    new_grade: str
    reason: str


@dataclass(frozen=True)
class ReviewedCity:
    root: Path
    applied: Decision
    over_cap: Decision
    unknown: Decision
    before_n_good: int  # fct_person_year.n_good of the downgraded person before the review

    @property
    def work(self) -> Path:
        return self.root / "warehouse" / "private" / "work.duckdb"

    @property
    def out(self) -> Path:
        return self.root / "deliverables" / QUARTER


def choose_decisions(work: Path) -> tuple[Decision, Decision, Decision, int]:
    with duckdb.connect(str(work), read_only=True) as con:
        good = con.execute(
            """
            select p.unit_code, p.person_code, y.n_good
            from marts.fct_person_quarter p
            join marts.fct_person_year y on y.person_key = p.person_key and y.rules_year = 2025
            where p.quarter = ? and p.computed_grade = '好'
            order by p.unit_code, p.person_code limit 1
            """,
            [QUARTER],
        ).fetchone()
        at_cap = con.execute(
            """
            select p.unit_code, p.person_code
            from marts.fct_person_quarter p
            join marts.fct_unit_quarter u on u.quarter = p.quarter and u.unit_code = p.unit_code
            where p.quarter = ? and u.n_computed_good >= u.top_quota_cap and p.is_scored
              and p.computed_grade <> '好' and p.unit_code <> ?
            order by p.unit_code, p.person_code limit 1
            """,
            [QUARTER, good[0]],
        ).fetchone()
    assert good is not None and at_cap is not None, "the generated city has no unit to review"
    applied = Decision(good[0], good[1], "较好", HOSTILE_REASON)
    over_cap = Decision(at_cap[0], at_cap[1], "好", "补充材料后申请改定")
    unknown = Decision(good[0], "ZZ999", "一般", "编号有误")
    return applied, over_cap, unknown, int(good[2])


def write_register(path: Path, decisions: list[Decision]) -> Path:
    """Fill the shipped template as the Organization Department would (openpyxl, not our writer)."""
    book = openpyxl.load_workbook(TEMPLATE)
    sheet = book["复核登记"]
    for i, d in enumerate(decisions, start=2):
        sheet.cell(i, 1, d.unit_code)
        sheet.cell(i, 2, d.person_code)
        sheet.cell(i, 3, d.new_grade)
        reason = sheet.cell(i, 4, d.reason)
        reason.data_type = "s"  # typed text, as Excel stores a cell entered with a leading apostrophe
        sheet.cell(i, 5, "市委组织部部务会")
        sheet.cell(i, 6, date(2026, 1, 10 + i))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


@pytest.fixture(scope="session")
def reviewed_city(published_city: Path, tmp_path_factory: pytest.TempPathFactory) -> ReviewedCity:
    from pipelines.definitions import defs
    from pipelines.ops import project_instance

    root = copy_data_dir(published_city, tmp_path_factory.mktemp("reviewed") / "city")
    applied, over_cap, unknown, before = choose_decisions(root / "warehouse" / "private" / "work.duckdb")
    write_register(
        root / "landing" / QUARTER / "_reviews" / "复核登记-第一批.xlsx", [applied, over_cap, unknown]
    )
    with pipeline_env(root):
        job = defs().resolve_job_def("quarterly_pipeline")
        result = job.execute_in_process(
            instance=project_instance(), partition_key=QUARTER, raise_on_error=True
        )
        assert result.success
    return ReviewedCity(root, applied, over_cap, unknown, before)
