"""The synthetic writer: real files read back with independent readers (openpyxl, the csv module)."""

from __future__ import annotations

import math
import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest

from pipelines.domain import national_id
from pipelines.domain.quarters import Quarter
from pipelines.domain.template import (
    DIMENSIONS,
    POST_CATEGORIES,
    RATER_TIERS,
    SHEETS,
    SHEETS_BY_NAME,
    SHEETS_BY_TITLE,
    TASK_SOURCES,
    TASK_STATUSES,
    Column,
    Kind,
)
from pipelines.synthetic.breakage import BREAKAGES, break_workbook, csv_breakages
from pipelines.synthetic.deliver import deliver, epoch_ns
from pipelines.synthetic.noise import (
    CELL_KINDS,
    NoiseRates,
    NoiseReport,
    apply_noise,
    cell_kinds,
    is_eligible,
    noisy_cell,
    quarter_spelling,
    unit_name_variant,
)
from pipelines.synthetic.workbook import Delivery, UnitWorkbook
from pipelines.synthetic.writer import FULL_LAYOUT, render_tables, write_csv_folder, write_xlsx
from tests.support.readback import (
    CJK,
    FOLD,
    canonical,
    normalise,
    read_csv_folder,
    read_xlsx,
    same,
    table_records,
)

CLEAN = NoiseRates.clean()
# Loud enough that every kind shows up in a small workbook.
LOUD = NoiseRates(
    fullwidth=0.1,
    stray_space=0.1,
    number_as_text=0.1,
    list_separator=0.5,
    date_variant=0.5,
    bool_variant=0.5,
    quarter_variant=1.0,
    unit_name_variant=1.0,
    extra_column=1.0,
    column_order=1.0,
    trailing_blank_rows=1.0,
)
UNIT = "371602-X-017"
Q4 = Quarter(2026, 4)
ARRIVAL = datetime(2027, 1, 12, 16, 45, 30, 123456, tzinfo=timezone(timedelta(hours=8)))


# -- fixtures -----------------------------------------------------------------------------------------


def make_workbook(n_persons: int = 8, seed: int = 0, quarter: Quarter = Q4) -> UnitWorkbook:
    """A small but complete canonical workbook, built by hand from the template's vocabulary."""
    rng = np.random.default_rng(seed)
    sections = ["办公室", "预算科", "国库科", "政府采购监督管理科"]
    codes = [f"P{i + 1:03d}" for i in range(n_persons)]
    roster = []
    for i, code in enumerate(codes):
        roster.append(
            {
                "person_code": code,
                "name": ["张三", "李四", "王小明", "欧阳娜娜", "赵敏", "钱多多", "孙立", "周芷若"][i % 8],
                "national_id": national_id.make("371602", f"19{70 + i % 25}0{1 + i % 9}1{i % 10}", 100 + i),
                "section": sections[i % len(sections)],
                "rank": ["一级科员", "四级主任科员", "科长", "二级主任科员"][i % 4],
                "post_category": POST_CATEGORIES[i % 3],
                "is_section_head": i < len(sections),
                "participates": i % 7 != 6,
                "proposed_grade": ["好", "较好", None, "一般"][i % 4],
            }
        )
    participants = [r["person_code"] for r in roster if r["participates"]]
    ratings = []
    for ratee in participants:
        raters = [(t, c) for t in RATER_TIERS[:3] for c in codes[:3] if c != ratee]
        raters += [("服务对象", f"F{k:02d}") for k in range(1, 3)] + [("亮晒评", "L01")]
        for tier, rater in raters:
            row = {"ratee_code": ratee, "rater_tier": tier, "rater_code": rater}
            row.update({d: float(rng.integers(120, 201)) / 2 for d in DIMENSIONS})
            ratings.append(row)
    tasks = []
    for k in range(max(3, n_persons // 2)):
        tasks.append(
            {
                "task_code": f"T{k + 1:02d}",
                "task_name": f"重点任务{k + 1}号推进 project update",
                "task_source": TASK_SOURCES[k % 4],
                "target": "年底前完成",
                "deadline": date(2026, 10 + k % 3, 1 + 3 * k % 28),
                "lead_code": None if k == 1 else codes[k % n_persons],
                "assist_codes": [codes[(k + j) % n_persons] for j in range(1, 1 + k % 4)],
                "intensity": 1 + k % 5,
                "difficulty": 1 + (k * 2) % 5,
                "quantity": [1, 2.5, 4, 0.5][k % 4],
                "status": TASK_STATUSES[k % 4],
            }
        )
    sheets: dict[str, list[dict[str, Any]]] = {
        "unit_info": [
            {
                "unit_code": UNIT,
                "unit_name": "滨城区财政局",
                "quarter": quarter.key,
                "submitted_by": "王丽",
                "submitted_on": quarter.last_day + timedelta(days=9),
                "regular_share": 0.6 if quarter.q == 4 else None,
            }
        ],
        "roster": roster,
        "sections": [
            {"section": s, "section_coefficient": [1.0, 1.1, 0.95, 0.85][i], "leader_code": codes[0]}
            for i, s in enumerate(sections)
        ],
        "tasks": tasks,
        "ratings": ratings,
        "adjustments": [
            {"person_code": codes[1], "points": 2.0, "reason": "获市级表彰"},
            {"person_code": codes[2], "points": -1.5, "reason": "信息报送迟报"},
        ],
    }
    if quarter.q == 4:
        sheets["year_end"] = [{"person_code": c, "year_end_score": 88.5} for c in participants]
    return UnitWorkbook(UNIT, "滨城区财政局", quarter, sheets)


@pytest.fixture
def wb() -> UnitWorkbook:
    return make_workbook()


def assert_normalises_back(read: dict[str, list[list[Any]]], wb: UnitWorkbook, report: NoiseReport) -> None:
    renamed = any(kind == "unit_name_variant" for kind, *_ in report.events)
    for title, rows in read.items():
        sheet = SHEETS_BY_TITLE[title]
        got = table_records(rows, sheet.name)
        want = wb.sheets[sheet.name]
        assert len(got) == len(want), title
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            for f, value in g.items():
                column = sheet.column(f)
                if f == "unit_name" and renamed:
                    continue
                n, c = normalise(value, column), canonical(w.get(f), column)
                assert same(n, c), f"{title} row {i + 2} {column.header}: {value!r} -> {n!r} != {c!r}"


# -- layout ---------------------------------------------------------------------------------------------


def expected_titles(wb: UnitWorkbook) -> list[str]:
    return [s.title for s in SHEETS if s.required or wb.sheets.get(s.name)]


def test_xlsx_sheets_and_headers_match_template(tmp_path: Path, wb: UnitWorkbook) -> None:
    path = tmp_path / "a.xlsx"
    write_xlsx(path, wb, np.random.default_rng(1), CLEAN)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == expected_titles(wb) == [s.title for s in SHEETS]
    for ws in book.worksheets:
        sheet = SHEETS_BY_TITLE[ws.title]
        header = [c.value for c in ws[1]]
        assert header == list(sheet.headers), ws.title  # the fixture fills every optional column
        assert all(c.font.b for c in ws[1])


def test_optional_sheets_and_columns_only_when_filled(tmp_path: Path) -> None:
    wb = make_workbook(quarter=Quarter(2026, 3))
    del wb.sheets["adjustments"]
    for r in wb.sheets["roster"]:
        r["proposed_grade"] = None
    for r in wb.sheets["sections"]:
        r.pop("section_coefficient")
    path = tmp_path / "q3.xlsx"
    write_xlsx(path, wb, np.random.default_rng(1), CLEAN)
    read = read_xlsx(path)
    assert list(read) == ["单位信息", "人员名册", "科室", "重点任务", "评议打分"]
    assert "平时考核占比" not in read["单位信息"][0]
    assert "拟定等次" not in read["人员名册"][0]
    assert "科室系数" not in read["科室"][0]
    assert read["人员名册"][0] == [c.header for c in SHEETS_BY_NAME["roster"].columns if c.required]


def _xlsx_expected(v: Any, column: Column) -> Any:
    """What openpyxl gives back for a clean cell."""
    if column.kind == Kind.DATE:
        return datetime(v.year, v.month, v.day)
    if column.kind == Kind.BOOL:
        return "是" if v else "否"
    if column.kind == Kind.CODE_LIST:
        return "、".join(v) if v else None
    return v


def test_clean_xlsx_cells_equal_canonical(tmp_path: Path, wb: UnitWorkbook) -> None:
    path = tmp_path / "clean.xlsx"
    report = write_xlsx(path, wb, np.random.default_rng(2), CLEAN)
    assert sum(report.applied.values()) == 0 and not report.events
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        sheet = SHEETS_BY_TITLE[ws.title]
        rows = list(ws.iter_rows(min_row=2))
        assert len(rows) == len(wb.sheets[sheet.name])
        for cells, want in zip(rows, wb.sheets[sheet.name], strict=True):
            for cell, column in zip(cells, sheet.columns, strict=True):
                expected = _xlsx_expected(want.get(column.field), column)
                assert cell.value == expected, (ws.title, cell.coordinate, cell.value, expected)
                if column.kind in (Kind.INT, Kind.NUMBER, Kind.SHARE) and expected is not None:
                    assert isinstance(cell.value, int | float)  # a real number, not text
                if column.kind == Kind.DATE:
                    assert cell.is_date and cell.number_format == "yyyy-mm-dd"
                if column.kind == Kind.SHARE and expected is not None:
                    assert cell.number_format == "0%"
    assert book.properties.created == datetime(2027, 1, 1, 9, 0)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_clean_csv_equals_canonical(tmp_path: Path, wb: UnitWorkbook, encoding: str) -> None:
    report = write_csv_folder(tmp_path, wb, np.random.default_rng(3), CLEAN, encoding)
    assert sorted(p.name for p in report.paths) == sorted(f"{t}.csv" for t in expected_titles(wb))
    read = read_csv_folder(tmp_path, encoding)
    assert set(read) == set(expected_titles(wb))
    for title, rows in read.items():
        assert rows[0] == list(SHEETS_BY_TITLE[title].headers)
    assert read["人员名册"][1][6] == "是"  # booleans and dates are plain text
    assert read["重点任务"][1][4] == wb.sheets["tasks"][0]["deadline"].isoformat()
    assert read["单位信息"][1][5] == "60%"
    assert_normalises_back(read, wb, report)


def test_csv_encodings(tmp_path: Path, wb: UnitWorkbook) -> None:
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        write_csv_folder(tmp_path / encoding, wb, np.random.default_rng(4), LOUD, encoding)
    gb = (tmp_path / "gb18030" / "人员名册.csv").read_bytes()
    assert gb.decode("gb18030").startswith("人员编号")
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    assert (
        (tmp_path / "utf-8-sig" / "人员名册.csv")
        .read_bytes()
        .startswith(b"\xef\xbb\xbf" + "人员编号".encode())
    )
    assert (tmp_path / "utf-8" / "人员名册.csv").read_bytes().startswith("人员编号".encode())
    with pytest.raises(ValueError, match="encoding"):
        write_csv_folder(tmp_path / "x", wb, np.random.default_rng(4), CLEAN, "latin-1")


# -- noise --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_noisy_xlsx_normalises_back(tmp_path: Path, seed: int) -> None:
    wb = make_workbook(n_persons=12, seed=seed)
    path = tmp_path / "noisy.xlsx"
    report = write_xlsx(path, wb, np.random.default_rng(seed), LOUD)
    assert all(report.applied[k] > 0 for k in ("fullwidth", "stray_space", "number_as_text", "date_variant"))
    kinds = {k for k, *_ in report.events}
    assert kinds == {
        "quarter_variant",
        "unit_name_variant",
        "extra_column",
        "column_order",
        "trailing_blank_rows",
    }
    assert_normalises_back(read_xlsx(path), wb, report)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("seed", range(3))
def test_noisy_csv_normalises_back(tmp_path: Path, seed: int, encoding: str) -> None:
    wb = make_workbook(n_persons=12, seed=seed)
    report = write_csv_folder(tmp_path, wb, np.random.default_rng(seed), LOUD, encoding)
    assert report.eligible["number_as_text"] == 0  # everything in a CSV is text already
    assert report.applied["fullwidth"] > 0 and report.applied["bool_variant"] > 0
    assert_normalises_back(read_csv_folder(tmp_path, encoding), wb, report)


def test_every_noise_kind_normalises_back() -> None:
    """Each cell kind on each eligible column, many draws, both targets."""
    wb = make_workbook()
    rng = np.random.default_rng(5)
    seen: set[str] = set()
    for sheet in SHEETS:
        for row in wb.sheets.get(sheet.name, []):
            for column in sheet.columns:
                value = row.get(column.field)
                if not is_eligible(value, column):
                    continue
                for target in ("xlsx", "csv"):
                    for kind in cell_kinds(column, target):
                        for _ in range(5):
                            cell = noisy_cell(value, column, kind, rng, target)
                            assert same(normalise(cell, column), canonical(value, column)), (
                                kind,
                                value,
                                cell,
                            )
                            seen.add(kind)
    assert seen == set(CELL_KINDS)


def test_apply_noise_reports_kind() -> None:
    column = SHEETS_BY_NAME["ratings"].column("score_effect")
    rng = np.random.default_rng(6)
    only_text = NoiseRates(**{**{k: 0.0 for k in NoiseRates.__dataclass_fields__}, "number_as_text": 1.0})
    assert apply_noise(85.5, column, rng, only_text) == ("85.5", "number_as_text")
    assert apply_noise(85.5, column, rng, CLEAN) == (85.5, None)
    assert apply_noise("优", column, rng, only_text) == ("优", None)  # a wrong type is never touched


def test_workbook_level_variants_are_accepted_spellings() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        spelled = quarter_spelling(Quarter(2026, 3), rng)
        assert spelled in ("2026年第3季度", "2026-Q3")
    for name in (
        "市委组织部",
        "市发改委",
        "滨城区人民政府办公室",
        "沾化区委政法委",
        "邹平市台子镇人民政府",
        "阳信县信城街道办事处",
    ):
        for _ in range(5):
            assert unit_name_variant(name, rng) != name


def _classify(value: Any, column: Column) -> str | None:
    """Which cell noise a read-back xlsx value shows, judged from the value alone."""
    if not isinstance(value, str):
        return None
    if column.kind == Kind.CODE and re.search(r"\s", value):
        return "stray_space"
    if column.kind in (Kind.TEXT, Kind.ENUM) and (
        value != value.strip() or re.search(rf"[{CJK}]\s+[{CJK}]", value)
    ):
        return "stray_space"
    if re.search("[\uff01-\uff5e]", value):
        return "fullwidth"
    if column.kind in (Kind.INT, Kind.NUMBER):
        return "number_as_text"
    if column.kind == Kind.BOOL and value not in ("是", "否"):
        return "bool_variant"
    if column.kind == Kind.CODE_LIST and not re.fullmatch(r"[^\s，,;]*", value):
        return "list_separator"
    return None


def test_measured_rates_match_settings(tmp_path: Path) -> None:
    rates = NoiseRates(fullwidth=0.01, stray_space=0.02, number_as_text=0.03, bool_variant=0.1)
    wb = make_workbook(n_persons=500, seed=8)
    path = tmp_path / "big.xlsx"
    report = write_xlsx(path, wb, np.random.default_rng(8), rates)
    counted: dict[str, int] = dict.fromkeys(CELL_KINDS, 0)
    for title, rows in read_xlsx(path).items():
        sheet = SHEETS_BY_TITLE[title]
        by_header = {c.header: c for c in sheet.columns}
        for row in rows[1:]:
            for h, v in zip(rows[0], row, strict=True):
                kind = _classify(v, by_header[h]) if h in by_header else None
                if kind:
                    counted[kind] += 1
    assert report.cells > 40_000
    for kind in ("fullwidth", "stray_space", "number_as_text", "bool_variant"):
        n, p = report.eligible[kind], getattr(rates, kind)
        assert n >= 1000
        assert counted[kind] == report.applied[kind], kind  # the file shows exactly what the report says
        assert abs(report.applied[kind] - n * p) <= 5 * math.sqrt(n * p * (1 - p)), (
            kind,
            report.rate(kind),
            p,
        )


def test_workbook_level_rates_match_settings() -> None:
    rates = NoiseRates(quarter_variant=0.2, unit_name_variant=0.05, extra_column=0.1, column_order=0.05)
    wb = make_workbook(n_persons=3)
    rng = np.random.default_rng(9)
    total = NoiseReport()
    for _ in range(2000):
        report = NoiseReport()
        render_tables(wb, rng, rates, "csv", FULL_LAYOUT, report)
        total.merge(report)
    for kind in (
        "quarter_variant",
        "unit_name_variant",
        "extra_column",
        "column_order",
        "trailing_blank_rows",
    ):
        n, p = total.eligible[kind], getattr(rates, kind)
        assert n == 2000
        assert abs(total.applied[kind] - n * p) <= 5 * math.sqrt(n * p * (1 - p)), (kind, total.rate(kind))


def test_noise_rates_validation() -> None:
    with pytest.raises(ValueError):
        NoiseRates(fullwidth=1.5)
    with pytest.raises(ValueError):
        NoiseRates(fullwidth=0.6, stray_space=0.6)
    assert NoiseRates().scaled(0.0) == CLEAN
    assert NoiseRates().scaled(1000.0).date_variant == 1.0


# -- determinism ----------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path, wb: UnitWorkbook) -> None:
    a, b, c = tmp_path / "a.xlsx", tmp_path / "b.xlsx", tmp_path / "c.xlsx"
    write_xlsx(a, wb, np.random.default_rng(10), LOUD)
    write_xlsx(b, wb, np.random.default_rng(10), LOUD)
    write_xlsx(c, wb, np.random.default_rng(11), LOUD)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    for name in ("x", "y"):
        write_csv_folder(tmp_path / name, wb, np.random.default_rng(10), LOUD, "gb18030")
    for path in (tmp_path / "x").iterdir():
        assert path.read_bytes() == (tmp_path / "y" / path.name).read_bytes()


def test_writer_does_not_mutate_canonical(tmp_path: Path, wb: UnitWorkbook) -> None:
    before = repr(wb)
    write_xlsx(tmp_path / "a.xlsx", wb, np.random.default_rng(12), LOUD)
    write_csv_folder(tmp_path, wb, np.random.default_rng(12), LOUD, "utf-8")
    for key in BREAKAGES:
        if BREAKAGES[key].content is not None:
            break_workbook(key, wb, np.random.default_rng(12))
    assert repr(wb) == before


# -- breakage and delivery -----------------------------------------------------------------------------


def _deliver(tmp_path: Path, wb: UnitWorkbook, breakage: str | None, fmt: str = "xlsx", seed: int = 13):
    unit_dir = tmp_path / "landing" / "2026Q4" / UNIT
    delivery = Delivery("2026Q4_平时考核.xlsx", ARRIVAL, fmt, "gb18030", breakage)
    report = deliver(unit_dir, wb, delivery, np.random.default_rng(seed), NoiseRates())
    return unit_dir, report


def _records(read: dict[str, list[list[Any]]], sheet_name: str) -> list[dict[str, Any]]:
    sheet = SHEETS_BY_NAME[sheet_name]
    return [
        {f: normalise(v, sheet.column(f)) for f, v in r.items()}
        for r in table_records(read[sheet.title], sheet_name)
    ]


def _read(unit_dir: Path, fmt: str) -> dict[str, list[list[Any]]]:
    return (
        read_xlsx(unit_dir / "2026Q4_平时考核.xlsx")
        if fmt == "xlsx"
        else read_csv_folder(unit_dir, "gb18030")
    )


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_valid_delivery_sets_mtime(tmp_path: Path, wb: UnitWorkbook, fmt: str) -> None:
    unit_dir, report = _deliver(tmp_path, wb, None, fmt)
    assert report.defect is None and report.paths
    for path in report.paths:
        assert path.parent == unit_dir
        assert path.stat().st_mtime_ns == epoch_ns(ARRIVAL)
        assert datetime.fromtimestamp(path.stat().st_mtime, UTC) == ARRIVAL
    if fmt == "csv":
        assert {p.name for p in unit_dir.iterdir()} == {f"{t}.csv" for t in expected_titles(wb)}


def test_naive_arrival_is_refused(tmp_path: Path, wb: UnitWorkbook) -> None:
    delivery = Delivery("a.xlsx", datetime(2027, 1, 12), "xlsx")
    with pytest.raises(ValueError, match="timezone"):
        deliver(tmp_path, wb, delivery, np.random.default_rng(0), CLEAN)


def test_file_breakage_refused_for_csv(tmp_path: Path, wb: UnitWorkbook) -> None:
    assert set(csv_breakages()) == set(BREAKAGES) - {"truncated_file", "not_a_workbook"}
    with pytest.raises(ValueError, match="cannot be delivered"):
        _deliver(tmp_path, wb, "truncated_file", "csv")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("key", csv_breakages())
def test_content_breakage_produces_its_defect(tmp_path: Path, wb: UnitWorkbook, key: str, fmt: str) -> None:
    unit_dir, report = _deliver(tmp_path, wb, key, fmt)
    defect = report.defect
    assert defect is not None and defect.breakage == key and defect.error_kind == BREAKAGES[key].error_kind
    for path in report.paths:
        assert path.stat().st_mtime_ns == epoch_ns(ARRIVAL)
    read = _read(unit_dir, fmt)
    if key == "missing_sheet":
        assert "评议打分" not in read and defect.sheet == "评议打分"
        return
    if key == "missing_column":
        assert defect.header not in read[defect.sheet][0]
        assert set(read[defect.sheet][0]) >= set(SHEETS_BY_TITLE[defect.sheet].headers) - {defect.header}
        return
    roster = _records(read, "roster")
    codes = {r["person_code"] for r in roster}
    row = table_records(read[defect.sheet], SHEETS_BY_TITLE[defect.sheet].name)[defect.excel_row - 2]
    cell = row[SHEETS_BY_TITLE[defect.sheet].column(_field(defect)).field]
    if key == "invalid_national_id":
        ids = [r["national_id"] for r in roster]
        assert [national_id.is_valid(i) for i in ids].count(False) == 1
        assert normalise(cell, SHEETS_BY_NAME["roster"].column("national_id")) == defect.value
        assert not national_id.is_valid(defect.value)
    elif key == "unknown_section":
        sections = {r["section"] for r in _records(read, "sections")}
        assert [r["section"] in sections for r in roster].count(False) == 1
        assert defect.value not in sections
    elif key == "unknown_person_ref":
        assert normalise(cell, SHEETS_BY_NAME["roster"].column("person_code")) == defect.value not in codes
    elif key == "duplicate_rating":
        keys = [(r["ratee_code"], r["rater_tier"], r["rater_code"]) for r in _records(read, "ratings")]
        assert len(keys) - len(set(keys)) == 1
        assert "/".join(keys[defect.excel_row - 2]) == defect.value
    elif key == "score_out_of_range":
        scores = [r[d] for r in _records(read, "ratings") for d in DIMENSIONS]
        assert [0 <= s <= 100 for s in scores].count(False) == 1
        assert not 0 <= float(str(cell).translate(FOLD)) <= 100
    elif key == "wrong_type":
        assert cell == defect.value and isinstance(cell, str)
        with pytest.raises(ValueError):
            float(cell)
    else:
        raise AssertionError(key)


def _field(defect: Any) -> str:
    sheet = SHEETS_BY_TITLE[defect.sheet]
    return next(c.field for c in sheet.columns if c.header == defect.header)


def test_missing_column_choices_cover_id(tmp_path: Path, wb: UnitWorkbook) -> None:
    headers = {
        break_workbook("missing_column", wb, np.random.default_rng(s)).defect.header for s in range(40)
    }
    assert "身份证号" in headers and len(headers) > 2


def test_truncated_file_is_not_a_zip(tmp_path: Path, wb: UnitWorkbook) -> None:
    full = tmp_path / "full.xlsx"
    write_xlsx(full, wb, np.random.default_rng(13), NoiseRates())
    unit_dir, report = _deliver(tmp_path, wb, "truncated_file")
    path = unit_dir / "2026Q4_平时考核.xlsx"
    assert report.defect is not None and report.defect.error_kind == "unreadable_file"
    assert path.stat().st_size == full.stat().st_size // 2
    assert full.read_bytes().startswith(path.read_bytes())
    assert not zipfile.is_zipfile(path)
    with pytest.raises(Exception):  # noqa: B017 - any failure to open will do
        openpyxl.load_workbook(path)
    assert path.stat().st_mtime_ns == epoch_ns(ARRIVAL)


def test_not_a_workbook_variants(tmp_path: Path, wb: UnitWorkbook) -> None:
    seen = set()
    for seed in range(30):
        unit_dir, report = _deliver(tmp_path / str(seed), wb, "not_a_workbook", seed=seed)
        path = unit_dir / "2026Q4_平时考核.xlsx"
        assert report.defect is not None and report.defect.error_kind == "not_a_workbook"
        seen.add(report.defect.note)
        with pytest.raises(Exception):  # noqa: B017 - any failure to open will do
            openpyxl.load_workbook(path)
        assert path.stat().st_mtime_ns == epoch_ns(ARRIVAL)
    assert seen == {"docx", "pdf", "text", "html"}


def test_breakage_registry_is_described() -> None:
    expected = {
        "invalid_national_id",
        "unknown_section",
        "unknown_person_ref",
        "duplicate_rating",
        "score_out_of_range",
        "missing_column",
        "missing_sheet",
        "wrong_type",
        "truncated_file",
        "not_a_workbook",
    }
    assert set(BREAKAGES) == expected
    for key, b in BREAKAGES.items():
        assert b.key == key and b.zh and b.en and b.error_kind
        assert (b.content is None) != (b.file is None)
