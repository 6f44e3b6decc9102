"""A whole clean city quarter (500 units), then hostile files that must not disturb the other units."""

from __future__ import annotations

import os
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.domain.quarters import TZ, quarter_range
from pipelines.ingest.receiving import LOG_NAME
from pipelines.synthetic.deliver import epoch_ns
from tests.conftest import make_city
from tests.ingest.conftest import Ingested, data_dir, ingest
from tests.ingest.helpers import checks, materialize

# The tests share module-scoped fixtures: keep them on one xdist worker, so each is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(__name__)]

Q = "2025Q3"
LATER = epoch_ns(datetime(2025, 10, 20, 9, 0, tzinfo=TZ))  # after the deadline, after every first file


@pytest.fixture(scope="module")
def full_city(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    root = make_city(
        tmp_path_factory.mktemp("full_city"), seed=3, clean=True, quarters=tuple(quarter_range(Q))
    )
    return ingest(root, (Q,))


def test_a_clean_city_ingests_with_500_accepted_units(full_city: Ingested) -> None:
    result = full_city.results[Q]
    assert result.success
    status = full_city.raw("unit_status", Q)
    assert status.height == 500
    assert status["status"].value_counts().rows() == [("on_time", 500)]
    ledger = full_city.raw("submissions", Q)
    assert ledger.height == 500 and ledger["accepted"].all() and ledger["is_current"].all()
    assert full_city.raw("receipt_items", Q).is_empty()  # clean means no error and no warning either
    found = checks(result)
    for name in (
        "submissions_validated",
        "every_file_accounted_for",
        "every_unit_has_a_status",
        "no_clear_national_ids",
    ):
        assert found[name].passed, name
    persons = pl.read_csv(full_city.root / "ground_truth" / Q / "persons.csv", infer_schema=False)
    assert full_city.raw("roster", Q).height == persons.height
    ratings = full_city.raw("ratings", Q)
    assert ratings.height > 150_000 and ratings["unit_code"].n_unique() == 500


# -- hostile files -------------------------------------------------------------------------------------


def _land(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(LATER, LATER))
    return path


def _zip_bomb() -> bytes:
    from io import BytesIO

    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 * 1024 * 1024))  # 200 MB -> ~200 KB
    return buf.getvalue()


def _header_columns(ws: object) -> dict[str, int]:
    return {cell.value: cell.column for cell in ws[1] if cell.value}  # type: ignore[index]


def _workbook(unit_dir: Path) -> Path:
    (book,) = list(unit_dir.glob("*.xlsx"))
    return book


@pytest.fixture(scope="module")
def attacked(
    full_city: Ingested, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Ingested, dict[str, str]]:
    """A copy of the ingested city into which six bad files arrive after the deadline, re-ingested."""
    root = tmp_path_factory.mktemp("attacked")
    for part in ("landing", "archive", "ingest_cache", "ground_truth"):
        shutil.copytree(full_city.root / part, root / part, symlinks=True)
    landing = root / "landing" / Q
    units = sorted(p.name for p in landing.iterdir() if p.is_dir())
    u = dict(
        zip(
            ("bomb", "cut", "pdf", "mismatch", "intruded", "owner", "claimer", "victim"),
            units[:8],
            strict=True,
        )
    )

    _land(landing / u["bomb"] / "补充材料.xlsx", _zip_bomb())
    own = _workbook(landing / u["cut"]).read_bytes()
    _land(landing / u["cut"] / "修改版.xlsx", own[: len(own) // 2])
    _land(landing / u["pdf"] / "最终版.xlsx", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")

    # A typo in the unit's own code.
    book = openpyxl.load_workbook(_workbook(landing / u["mismatch"]))
    info = book["单位信息"]
    info.cell(2, _header_columns(info)["单位代码"]).value = "371600-S-999"
    book.save(landing / u["mismatch"] / "更正.xlsx")
    os.utime(landing / u["mismatch"] / "更正.xlsx", ns=(LATER, LATER))

    # One unit's valid workbook dropped into another unit's folder.
    _land(landing / u["intruded"] / "代报.xlsx", _workbook(landing / u["owner"]).read_bytes())

    # A unit lists a person the victim unit also lists this quarter.
    victim = openpyxl.load_workbook(_workbook(landing / u["victim"]), read_only=True)
    vroster = victim["人员名册"]
    vcols = _header_columns(vroster)
    person = next(vroster.iter_rows(min_row=2, max_row=2, values_only=True))
    victim.close()
    book = openpyxl.load_workbook(_workbook(landing / u["claimer"]))
    roster = book["人员名册"]
    cols = _header_columns(roster)
    section = roster.cell(2, cols["科室"]).value
    row = roster.max_row + 1
    values = {
        "人员编号": "P999",
        "姓名": person[vcols["姓名"] - 1],
        "身份证号": person[vcols["身份证号"] - 1],
        "科室": section,
        "职务职级": "一级科员",
        "岗位类别": "综合管理",
        "是否科室负责人": "否",
        "是否参加考核": "否",
    }
    for header, value in values.items():
        roster.cell(row, cols[header]).value = value
    book.save(landing / u["claimer"] / "补报.xlsx")
    os.utime(landing / u["claimer"] / "补报.xlsx", ns=(LATER, LATER))

    city = Ingested(root)
    with data_dir(root):
        city.results[Q] = materialize(Q)
    return city, u


def test_hostile_files_are_rejected_with_a_receipt_and_the_others_stand(
    full_city: Ingested, attacked: tuple[Ingested, dict[str, str]]
) -> None:
    city, u = attacked
    result = city.results[Q]
    assert result.success
    meta = {
        m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("ingest_quarter")
    }
    # Only the new files were parsed; the copy of another unit's workbook is known by its hash.
    assert meta["submissions"]["parsed_now"].value == 5

    ledger = city.raw("submissions", Q)
    items = city.raw("receipt_items", Q)
    # The new files: first seen by this run (their own dates are not their arrival).
    new = ledger.join(full_city.raw("submissions", Q), on=["unit_code", "submission_id"], how="anti")
    assert new.height == 6 and not new["accepted"].any()
    dated = pl.lit(datetime.fromtimestamp(LATER / 1e9, tz=TZ)).cast(ledger["arrival_at"].dtype)
    assert new.select((pl.col("arrival_at") > dated).all()).item()  # first seen now, not their own date
    expected = {
        u["bomb"]: "zip_bomb",
        u["cut"]: "unreadable_file",
        u["pdf"]: "not_a_workbook",
        u["mismatch"]: "unit_mismatch",
        u["intruded"]: "unit_mismatch",
        u["claimer"]: "person_in_two_units",
    }
    for row in new.iter_rows(named=True):
        kinds = set(items.filter(pl.col("submission_id") == row["submission_id"])["kind"])
        assert expected[row["unit_code"]] in kinds, (row["unit_code"], kinds)
        page = (city.root / row["receipt_path"]).read_text(encoding="utf-8")
        assert "已退回" in page and row["submission_id"] in page

    # The victim already holds the person: its file stands, only the later claimer's file is refused.
    claims = items.filter(pl.col("kind") == "person_in_two_units")
    assert claims["unit_code"].to_list() == [u["claimer"]] and u["victim"] in claims["message"][0]

    before = full_city.raw("unit_status", Q)
    after = city.raw("unit_status", Q)
    changed = before.join(after, on="unit_code").filter(
        (pl.col("status") != pl.col("status_right"))
        | (pl.col("current_submission_id") != pl.col("current_submission_id_right")).fill_null(True)
    )
    assert changed.is_empty()  # every unit keeps its status and its current file
    assert after.filter(pl.col("status") == "on_time").height == 500
    # The intruder's file changed nothing for the unit it pretended to be.
    owner_rows = city.raw("roster", Q).filter(pl.col("unit_code") == u["owner"])
    assert owner_rows.height == full_city.raw("roster", Q).filter(pl.col("unit_code") == u["owner"]).height


def test_a_parse_that_takes_too_long_is_rejected_and_retried_next_run(
    clean_quarter: Path, tmp_path: Path
) -> None:
    unit = sorted(p for p in (clean_quarter / "landing" / "2025Q3").iterdir() if p.is_dir())[0]
    shutil.copytree(unit, tmp_path / "landing" / "2025Q3" / unit.name)
    # With the receiving log, whose line for this unit dates its file (the others match nothing here).
    shutil.copy(clean_quarter / "landing" / "2025Q3" / LOG_NAME, tmp_path / "landing" / "2025Q3" / LOG_NAME)
    slow = ingest(tmp_path, ("2025Q3",), parse_timeout_seconds=0.0001)
    assert slow.results["2025Q3"].success
    items = slow.raw("receipt_items", "2025Q3")
    assert items["kind"].to_list() == ["parse_timeout"]
    assert slow.raw("unit_status", "2025Q3").filter(pl.col("unit_code") == unit.name)["status"].to_list() == [
        "rejected"
    ]
    # A timeout says more about the machine than the file: the next run parses it again.
    normal = ingest(tmp_path, ("2025Q3",))
    assert normal.raw("unit_status", "2025Q3").filter(pl.col("unit_code") == unit.name)[
        "status"
    ].to_list() == ["on_time"]


def test_a_quarter_whose_landing_folder_is_empty_marks_every_unit_missing(tmp_path: Path) -> None:
    # without the folder at all the run is refused (tests/ingest/test_no_landing_folder.py)
    (tmp_path / "landing" / "2026Q1").mkdir(parents=True)
    empty = ingest(tmp_path, ("2026Q1",))
    assert empty.results["2026Q1"].success
    status = empty.raw("unit_status", "2026Q1")
    assert status.height == 500 and set(status["status"]) == {"missing"}
    for table in ("submissions", "roster", "ratings", "receipt_items"):
        assert empty.raw(table, "2026Q1").is_empty()
