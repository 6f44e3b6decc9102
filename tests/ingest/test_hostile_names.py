"""File names and sheet names no generator writes: each can only fail (or name) its own file.

Found by an independent probe (2026-12-07): a 245-byte file name and a GBK-encoded one each stopped the
whole quarter's ingestion (the archive's staging name overflowed, the manifest could not be encoded);
a look-alike sheet `评议打分 ` in front of the real one replaced it silently; dot- and `~$`-named files
vanished without a trace.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.ingest.discover import MAX_NAME_BYTES, shown_name
from tests.ingest.hostile import (
    Base,
    copy_base,
    errors_of,
    every_file_has_a_receipt,
    ingest,
    landing_folder,
    ledger,
    set_cell,
    unit_unchanged,
    write_csv_set,
)

pytestmark = pytest.mark.xdist_group("ingested_quarters")

RATINGS = "评议打分"
LONG_NAME = "长" * 80 + ".xlsx"  # 245 bytes of UTF-8: a legal name, too long for name + staging suffix
GBK_NAME = os.fsdecode("更正".encode("gbk") + b".xlsx")  # as a Windows zip unpacked on Linux leaves it
BROKEN_NAME = os.fsdecode(b"\xff\xfe\x80.xlsx")  # neither UTF-8 nor GB18030


def test_shown_name_decodes_gbk_and_spells_out_what_no_encoding_explains() -> None:
    assert shown_name("更正.xlsx") == "更正.xlsx"
    assert shown_name(GBK_NAME) == "更正.xlsx"
    assert shown_name(BROKEN_NAME) == "\\xff\\xfe\\x80.xlsx"
    # 127 GBK characters (254 bytes on disk) are 381 bytes of UTF-8: shortened, the suffix kept
    long_gbk = os.fsdecode(("长" * 125).encode("gbk") + b".xlsx")
    shown = shown_name(long_gbk)
    assert (
        len(shown.encode("utf-8")) <= MAX_NAME_BYTES and shown.endswith("….xlsx") and shown.startswith("长")
    )


def _corrected_copy(book: Path, target: Path) -> None:
    """The unit's workbook with one task renamed: new bytes, a new submission, still valid."""
    set_cell(book, target, "重点任务", 2, "任务名称", "更正后的任务名称")


def test_odd_file_names_fail_nothing_and_each_file_gets_its_receipt(
    hostile_base: Base, tmp_path: Path
) -> None:
    root = copy_base(hostile_base, tmp_path / "data")
    units = hostile_base.units
    placed = {units[0]: LONG_NAME, units[1]: GBK_NAME, units[2]: BROKEN_NAME}
    for unit, name in placed.items():
        _corrected_copy(hostile_base.books[unit], landing_folder(root, unit) / name)
    (landing_folder(root, units[3]) / "~$锁定.xlsx").write_bytes(b"lock")
    hidden = landing_folder(root, units[3]) / ".更正"
    hidden.mkdir()
    shutil.copyfile(hostile_base.books[units[3]], hidden / "更正.xlsx")

    report = ingest(root)

    every_file_has_a_receipt(root, report)
    rows = ledger(root)
    for unit, name in placed.items():
        mine = rows.filter((pl.col("unit_code") == unit) & (pl.col("file_name") == shown_name(name)))
        assert mine.height == 1, (unit, shown_name(name), rows.filter(pl.col("unit_code") == unit))
        record = mine.row(0, named=True)
        assert record["accepted"] and record["is_current"], errors_of(root, record["submission_id"])
    archived = {p.name for p in (root / "archive").rglob("*.xlsx")}
    assert {LONG_NAME, "更正.xlsx", "\\xff\\xfe\\x80.xlsx"} <= archived
    skipped = "\n".join(report.skipped)
    assert "~$锁定.xlsx" in skipped and ".更正" in skipped  # listed, not silently dropped
    for unit in units[3:]:  # a skipped lock file and hidden folder change nothing; nor do the others' files
        unit_unchanged(hostile_base, root, unit)


def _with_lookalike_sheet(book: Path, target: Path, rows: int) -> None:
    """The workbook with a sheet `评议打分 ` (trailing space) in front of the real one, holding the
    header and the first `rows` rating rows of the real sheet."""
    wb = openpyxl.load_workbook(book)
    real = wb[RATINGS]
    fake = wb.create_sheet(f"{RATINGS} ", index=wb.sheetnames.index(RATINGS))
    if rows >= 0:
        for row in real.iter_rows(min_row=1, max_row=1 + rows, values_only=True):
            fake.append(list(row))
    wb.save(target)


def test_two_sheets_standing_for_one_template_sheet_reject_the_file(
    hostile_base: Base, tmp_path: Path
) -> None:
    root = copy_base(hostile_base, tmp_path / "data")
    unit, csv_unit, blank_unit = hostile_base.units[:3]
    _with_lookalike_sheet(hostile_base.books[unit], landing_folder(root, unit) / "更正.xlsx", rows=1)
    write_csv_set(hostile_base.books[csv_unit], landing_folder(root, csv_unit))
    shutil.copyfile(
        landing_folder(root, csv_unit) / f"{RATINGS}.csv", landing_folder(root, csv_unit) / f"{RATINGS} .csv"
    )
    # an empty look-alike sheet is no rival: the real sheet is read
    _with_lookalike_sheet(hostile_base.books[blank_unit], landing_folder(root, blank_unit) / "更正.xlsx", -1)

    report = ingest(root)

    every_file_has_a_receipt(root, report)
    rows = ledger(root)
    for u, fmt in ((unit, "xlsx"), (csv_unit, "csv")):
        new = rows.filter((pl.col("unit_code") == u) & (pl.col("format") == fmt))
        new = new.filter(pl.col("file_name").str.contains("更正") | (pl.col("format") == "csv"))
        assert new.height == 1, new
        errors = errors_of(root, new.item(0, "submission_id"))
        assert [e["kind"] for e in errors] == ["duplicate_sheet"], errors
        assert f"「{RATINGS}」表对应的工作表不止一个" in errors[0]["message"]
        assert f"「{RATINGS} 」" in errors[0]["message"]
    blank = rows.filter((pl.col("unit_code") == blank_unit) & pl.col("file_name").str.contains("更正"))
    assert blank.item(0, "accepted"), errors_of(root, blank.item(0, "submission_id"))
    ratings = pl.read_parquet(root / "raw" / "ratings" / "2025Q3.parquet")
    before = hostile_base.tables["ratings"]
    for u in (unit, csv_unit, blank_unit):  # nobody's ratings shrank to the look-alike's one row
        assert (
            ratings.filter(pl.col("unit_code") == u).height == before.filter(pl.col("unit_code") == u).height
        )


def test_a_file_too_large_to_receive_is_listed_not_hashed_or_archived(
    hostile_base: Base, tmp_path: Path
) -> None:
    """A sparse file costs nothing to make; hashing and copying 2 GB of it cost every unit's run ~20 s."""
    from pipelines.ingest.discover import MAX_RECEIVED_BYTES

    root = copy_base(hostile_base, tmp_path / "data")
    unit = hostile_base.units[0]
    huge = landing_folder(root, unit) / "更正.xlsx"
    with huge.open("wb") as fh:
        fh.truncate(MAX_RECEIVED_BYTES + 1)  # sparse: no disk used
    report = ingest(root)
    every_file_has_a_receipt(root, report)
    assert any("更正.xlsx" in line and "不予接收" in line for line in report.skipped), report.skipped
    assert not list((root / "archive").rglob("更正.xlsx"))
    unit_unchanged(hostile_base, root, unit)
