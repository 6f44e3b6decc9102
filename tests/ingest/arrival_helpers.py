"""A small generated quarter copied into a fresh data directory per test, and ways to land files in it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.domain.quarters import TZ, parse_quarter
from pipelines.ingest.run import IngestReport, IngestSettings, ingest_quarter
from pipelines.synthetic.rates import MessRates, zero
from tests.conftest import make_city

Q = "2025Q3"
KEY = "h12-test-key-7f3a9c21d04e8b65a1f2c3d4e5f60718"  # a test key (not the public demo key)
FUTURE_NS = int(datetime(2099, 1, 1, tzinfo=TZ).timestamp()) * 10**9
EARLY_NS = int(datetime(2025, 10, 1, 9, 0, tzinfo=TZ).timestamp()) * 10**9  # before the deadline


def template(root: Path, units: int = 6, late: float = 0.0, seed: int = 21) -> Path:
    """One clean quarter; `late` of the units deliver after the deadline (per the receiving log)."""
    mess = replace(zero(MessRates()), late=late)
    return make_city(root, seed=seed, units=units, quarters=(parse_quarter(Q),), mess=mess, clean=late == 0.0)


def fresh(template_root: Path, target: Path) -> Path:
    """A copy of the generated landing area and ground truth: a data directory nothing has run in."""
    for part in ("landing", "ground_truth", "registry"):
        if (template_root / part).exists():
            shutil.copytree(template_root / part, target / part, symlinks=True)
    return target


@contextmanager
def data_dir(root: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSESSMENT_DATA_DIR", str(root))
        mp.setenv("ASSESSMENT_PSEUDONYM_KEY", KEY)
        mp.delenv("ASSESSMENT_REGISTRY_CSV", raising=False)
        yield root


def run(root: Path) -> IngestReport:
    with data_dir(root):
        return ingest_quarter(Q, IngestSettings(workers=1))


def ledger(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "raw" / "submissions" / f"{Q}.parquet")


def status(root: Path) -> dict[str, str]:
    frame = pl.read_parquet(root / "raw" / "unit_status" / f"{Q}.parquet")
    return dict(frame.filter(pl.col("status") != "missing").select("unit_code", "status").iter_rows())


def units(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "landing" / Q).iterdir() if p.is_dir())


def workbook(root: Path, unit: str) -> Path:
    """The unit's generated workbook (not the files a test landed beside it)."""
    (book,) = sorted((root / "landing" / Q / unit).glob("*平时考核.xlsx"))
    return book


def variant(source: Path, target: Path, submitted_by: str, mtime_ns: int | None = None) -> Path:
    """A valid copy of a workbook with another 填报人 (so other bytes: a new submission)."""
    book = openpyxl.load_workbook(source)
    info = book["单位信息"]
    cols = {c.value: c.column for c in info[1] if c.value}
    info.cell(2, cols["填报人"]).value = submitted_by
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    if mtime_ns is not None:
        os.utime(target, ns=(mtime_ns, mtime_ns))
    return target


def current_file(root: Path, unit: str) -> str:
    frame = ledger(root).filter((pl.col("unit_code") == unit) & pl.col("is_current"))
    (name,) = frame["file_name"].to_list()
    return name


def roster_person(book_path: Path, row: int = 2) -> dict[str, object]:
    """One roster row of a workbook, by header."""
    book = openpyxl.load_workbook(book_path, read_only=True)
    sheet = book["人员名册"]
    headers = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]
    values = next(sheet.iter_rows(min_row=row, max_row=row, values_only=True))
    book.close()
    return dict(zip(headers, values, strict=False))


def with_person(source: Path, target: Path, name: object, national_id: str) -> Path:
    """A copy of a workbook whose roster lists one more (non-participating) person."""
    book = openpyxl.load_workbook(source)
    roster = book["人员名册"]
    cols = {c.value: c.column for c in roster[1] if c.value}
    section = roster.cell(2, cols["科室"]).value
    row = roster.max_row + 1
    values = {
        "人员编号": "P999",
        "姓名": name,
        "身份证号": national_id,
        "科室": section,
        "职务职级": "一级科员",
        "岗位类别": "综合管理",
        "是否科室负责人": "否",
        "是否参加考核": "否",
    }
    for header, value in values.items():
        roster.cell(row, cols[header]).value = value
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return target
