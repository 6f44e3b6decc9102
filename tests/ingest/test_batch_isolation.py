"""The batched steps of ingestion keep the per-file isolation of issue 12.

The cast to typed tables runs once over every new delivery's sheets stacked together (issue 16); if
that raises, each delivery is cast on its own and only the one that makes it raise is rejected, with
an incident. Reading decides blank rows on plain lists: what counts as blank must stay what it was.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.ingest import run as run_module
from pipelines.ingest.read import read_csv_bytes
from tests.ingest.hostile import (
    Base,
    copy_base,
    errors_of,
    every_file_has_a_receipt,
    ingest,
    landing_folder,
    ledger,
    new_submission,
    others_unchanged,
    set_cell,
    unit_unchanged,
)

# The tests read the session's hostile_base or noisy_quarter: keep them on one xdist worker with the
# other readers, so each is built once.
pytestmark = pytest.mark.xdist_group("ingested_quarters")

INCIDENT = re.compile(r"^系统处理本文件时出错（事件编号 (E[0-9A-F]{10})）")
MARKER = "触发类型转换故障"


def _resubmit(base: Base, root: Path, unit: str, submitted_by: str) -> None:
    """The unit's workbook again as 更正.xlsx, with 填报人 changed."""
    target = landing_folder(root, unit) / "更正.xlsx"
    set_cell(base.books[unit], target, "单位信息", 2, "填报人", submitted_by)


def test_when_the_batched_cast_raises_only_the_file_that_causes_it_is_rejected(
    hostile_base: Base, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_base(hostile_base, tmp_path / "data")
    unit, other = hostile_base.units[0], hostile_base.units[1]
    set_cell(
        hostile_base.books[unit], landing_folder(root, unit) / "更正.xlsx", "单位信息", 2, "填报人", MARKER
    )
    # A second new file in the same run, which must come through the per-file retry untouched.
    set_cell(
        hostile_base.books[other], landing_folder(root, other) / "更正.xlsx", "单位信息", 2, "填报人", "李四"
    )
    original = run_module.typed_batch

    def faulty(stacked: dict[str, pl.DataFrame], ids: list[str]) -> Any:
        info = stacked.get("unit_info")
        if info is not None and MARKER in info.get_column("submitted_by").to_list():
            raise ZeroDivisionError("injected cast fault")
        return original(stacked, ids)

    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.ERROR):
        mp.setattr(run_module, "typed_batch", faulty)
        report = ingest(root)
    every_file_has_a_receipt(root, report)
    rows = ledger(root).filter(pl.col("file_name") == "更正.xlsx")
    assert dict(rows.select("unit_code", "accepted").iter_rows()) == {unit: False, other: True}
    rejected = rows.filter(pl.col("unit_code") == unit).item(0, "submission_id")
    (error,) = errors_of(root, rejected)
    incident = INCIDENT.match(error["message"])
    assert incident and incident.group(1) in caplog.text and "injected cast fault" in caplog.text
    unit_unchanged(hostile_base, root, unit)
    # The other unit's correction is its current data now: only the submitter's name changed.
    info = pl.read_parquet(root / "raw" / "unit_info" / "2025Q3.parquet").filter(pl.col("unit_code") == other)
    assert info.get_column("submitted_by").to_list() == ["李四"]
    # Once the fault is gone the rejected file is tried again (an incident is never cached for good).
    ingest(root)
    assert ledger(root).filter(pl.col("submission_id") == rejected).item(0, "accepted")


def test_the_batched_cast_types_a_new_file_like_the_rest(hostile_base: Base, tmp_path: Path) -> None:
    """A resubmission equal in content to the unit's file gives the same typed rows."""
    root = copy_base(hostile_base, tmp_path / "data")
    unit = hostile_base.units[2]
    set_cell(
        hostile_base.books[unit], landing_folder(root, unit) / "更正.xlsx", "单位信息", 2, "填报人", "王五"
    )
    ingest(root)
    row = new_submission(hostile_base, root)
    assert row["accepted"] and row["is_current"]
    others_unchanged(hostile_base, root, unit)
    now = pl.read_parquet(root / "raw" / "ratings" / "2025Q3.parquet").filter(pl.col("unit_code") == unit)
    before = hostile_base.tables["ratings"].filter(pl.col("unit_code") == unit)
    assert (
        now.drop("submission_id")
        .sort(now.drop("submission_id").columns)
        .equals(before.drop("submission_id").sort(before.drop("submission_id").columns))
    )


@pytest.mark.parametrize(
    ("cell", "blank"),
    [
        (" \u3000\t", True),  # spaces, the ideographic space, a tab
        ("\xa0\u2028", True),  # no-break space, line separator: Unicode White_Space
        ("\x1f", False),  # a unit separator is not whitespace: the row is data (reported as a control char)
        ("\u200b", False),  # a zero-width space is not whitespace either
        ("x", False),
    ],
)
def test_a_row_is_blank_only_when_every_cell_is_unicode_whitespace(cell: str, blank: bool) -> None:
    sheet = read_csv_bytes("t", f"a,b\n1,2\n{cell},\n3,4\n".encode())
    assert sheet.excel_rows == ([2, 4] if blank else [2, 3, 4])
    assert sheet.blank_rows == ([3] if blank else [])
