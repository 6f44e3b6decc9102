"""The review register reader on real workbooks written with openpyxl from the shipped template, and
on hostile files: wrong headers, bad cells, a file that is not a workbook."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.deliverables.cells import FORMULA_STARTS, neutralise
from pipelines.ingest.reviews import (
    COLUMNS,
    SCHEMA,
    ingest_reviews,
    parse_date,
    reviews_table_path,
    write_review_template,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "data" / "reference" / "templates" / "复核登记表.xlsx"


def register(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.load_workbook(TEMPLATE)
    sheet = book["复核登记"]
    for i, row in enumerate(rows, start=2):
        for j, value in enumerate(row, start=1):
            sheet.cell(i, j, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_the_committed_template_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = write_review_template(tmp_path / "t.xlsx")
    assert fresh.read_bytes() == TEMPLATE.read_bytes()
    book = openpyxl.load_workbook(TEMPLATE)
    assert [c.value for c in book["复核登记"][1]] == list(COLUMNS)


def test_rows_are_read_checked_archived_and_tabulated(tmp_path: Path) -> None:
    landing, archive, data = tmp_path / "landing", tmp_path / "archive", tmp_path
    register(
        landing / "2025Q4" / "_reviews" / "a.xlsx",
        [
            ["371602-X-001", "P017", "较好", "复核", "部务会", date(2026, 1, 12)],
            ["371602-X-001", 18, "优", "复核", "部务会", "2026/1/12"],  # number code; not a grade
            ["371602-X-001", "P019", "好", "", "部务会", "下周"],  # no reason; unreadable date
        ],
    )
    (landing / "2025Q4" / "_reviews" / "b.xlsx").write_bytes(b"this is not a workbook")
    table = ingest_reviews("2025Q4", landing, archive, data)
    assert table.schema == pl.Schema(SCHEMA)
    rows = table.sort("file_name", "excel_row").to_dicts()
    assert [r["row_problem"] is None for r in rows[:3]] == [True, False, False]
    assert rows[0]["decided_on"] == date(2026, 1, 12) and rows[0]["person_code"] == "P017"
    assert rows[1]["person_code"] == "18" and "「优」不是" in rows[1]["row_problem"]
    assert rows[1]["decided_on"] == date(2026, 1, 12)
    assert "复核理由为空" in rows[2]["row_problem"] and "「下周」无法识别" in rows[2]["row_problem"]
    assert rows[3]["file_name"] == "b.xlsx" and rows[3]["excel_row"] is None
    assert rows[3]["row_problem"].startswith("文件被拒收")
    assert pl.read_parquet(reviews_table_path(data, "2025Q4")).height == 4
    archived = sorted(p.name for p in (archive / "2025Q4" / "_reviews").rglob("*.xlsx"))
    assert archived == ["a.xlsx", "b.xlsx"]


def test_a_register_without_the_template_headers_is_one_refused_row(tmp_path: Path) -> None:
    path = tmp_path / "landing" / "2025Q4" / "_reviews" / "x.xlsx"
    path.parent.mkdir(parents=True)
    book = openpyxl.Workbook()
    book.active.append(["单位", "人员", "等次"])
    book.active.append(["U", "P1", "好"])
    book.save(path)
    table = ingest_reviews("2025Q4", tmp_path / "landing", tmp_path / "archive", tmp_path)
    assert table.height == 1 and table.item(0, "row_problem").startswith("缺少列：单位代码")


def test_no_register_still_writes_an_empty_table(tmp_path: Path) -> None:
    table = ingest_reviews("2025Q3", tmp_path / "landing", tmp_path / "archive", tmp_path)
    assert table.height == 0 and reviews_table_path(tmp_path, "2025Q3").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15", date(2026, 1, 15)),
        ("2026年1月5日", date(2026, 1, 5)),
        ("20260115", date(2026, 1, 15)),
        ("46037", date(2026, 1, 15)),  # an Excel serial typed as a number
        ("2026-02-30", None),
        ("1", None),
        ("", None),
    ],
)
def test_decision_dates(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+86", "-5", "@SUM(A1)", "\t=1", "\r=1", "'=x", " =1", "好", "", "=", "－全角减号", "１"],
)
def test_neutralised_text_never_starts_like_a_formula(text: str) -> None:
    shown = neutralise(text)
    assert not (isinstance(shown, str) and shown.startswith(FORMULA_STARTS))
    assert shown == text or (text.startswith(FORMULA_STARTS) and shown == "'" + text)


def test_a_run_reads_the_registers_of_every_quarter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.defs.deliverables.assets import review_quarters

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    for folder in ("2025Q2/_reviews", "2025Q3/371602-X-001", "notes/_reviews"):
        (tmp_path / "landing" / folder).mkdir(parents=True)
    assert review_quarters("2025Q4") == ["2025Q2", "2025Q4"]


def test_unit_discovery_leaves_the_review_folder_alone(tmp_path: Path) -> None:
    from pipelines.ingest.discover import discover_quarter

    register(tmp_path / "2025Q4" / "_reviews" / "a.xlsx", [["U", "P1", "好", "r", "d", date(2026, 1, 5)]])
    (tmp_path / "2025Q4" / "371602-X-001").mkdir()
    (tmp_path / "2025Q4" / "371602-X-001" / "平时考核.xlsx").write_bytes(b"x")
    found = discover_quarter(tmp_path / "2025Q4", "2025Q4")
    assert [d.unit_code for d in found.deliveries] == ["371602-X-001"] and not found.skipped


def test_a_decision_dated_after_today_or_before_the_quarter_is_refused(tmp_path: Path) -> None:
    """The latest decision about a person wins: a year typed wrong (2099) would override every real one."""
    landing = tmp_path / "landing"
    register(
        landing / "2025Q3" / "_reviews" / "a.xlsx",
        [
            ["371602-X-001", "P005", "较差", "复核", "部务会", date(2099, 10, 20)],
            ["371602-X-001", "P006", "好", "复核", "部务会", date(1990, 1, 2)],
            ["371602-X-001", "P007", "好", "复核", "部务会", date(2025, 11, 5)],
        ],
    )
    rows = ingest_reviews("2025Q3", landing, tmp_path / "archive", tmp_path).sort("excel_row").to_dicts()
    assert "晚于今天" in rows[0]["row_problem"]
    assert "早于本季度开始（2025-07-01）" in rows[1]["row_problem"]
    assert rows[2]["row_problem"] is None


def test_a_register_with_a_column_twice_or_in_another_format_gets_one_refused_row(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    folder = landing / "2025Q3" / "_reviews"
    path = register(folder / "h.xlsx", [["371602-X-001", "P005", "好", "复核", "部务会", date(2025, 11, 5)]])
    book = openpyxl.load_workbook(path)
    book["复核登记"].cell(1, 7, "复核后等次")  # the grade column a second time: which one counts?
    book["复核登记"].cell(2, 7, "较差")
    book.save(path)
    (folder / "e.csv").write_text("单位代码,人员编号\n371602-X-001,P005\n", encoding="utf-8")
    (folder / "~$h.xlsx").write_bytes(b"lock")  # Excel's lock file is not a register
    table = ingest_reviews("2025Q3", landing, tmp_path / "archive", tmp_path)
    by_file = {r["file_name"]: r for r in table.to_dicts()}
    assert sorted(by_file) == ["e.csv", "h.xlsx"]
    assert (
        by_file["h.xlsx"]["excel_row"] is None
        and "「复核后等次」出现不止一次" in by_file["h.xlsx"]["row_problem"]
    )
    assert "不是Excel工作簿" in by_file["e.csv"]["row_problem"]


def test_registers_whose_safe_names_coincide_get_a_receipt_each() -> None:
    from pipelines.deliverables.write import review_receipt_names

    reviews = pl.DataFrame(
        {
            "file_name": ["复核 1.xlsx", "复核_1.xlsx", "复核_1.xlsx", "其他.xlsx"],
            "file_sha256": ["a" * 64, "b" * 64, "b" * 64, "c" * 64],
            "excel_row": [2, 2, 3, 2],
        }
    )
    names = review_receipt_names(reviews)
    assert sorted(names) == ["其他", "复核_1-aaaaaaaa", "复核_1-bbbbbbbb"]
    assert [r["excel_row"] for r in names["复核_1-bbbbbbbb"]] == [2, 3]


def test_codes_and_grades_are_folded_as_in_a_units_workbook(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    register(
        landing / "2025Q3" / "_reviews" / "a.xlsx",
        [["３７１６０２－Ｘ－００１", " Ｐ００５ ", "较\u3000好", "复核", "部务会", date(2025, 11, 5)]],
    )
    (row,) = ingest_reviews("2025Q3", landing, tmp_path / "archive", tmp_path).to_dicts()
    assert (row["unit_code"], row["person_code"], row["new_grade"]) == ("371602-X-001", "P005", "较好")
    assert row["row_problem"] is None
