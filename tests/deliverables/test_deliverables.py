"""Every deliverable read back with openpyxl (and the notices as HTML) and checked against the warehouse
of a real run, after a review register with one applied and two refused decisions."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.deliverables.cells import FORMULA_STARTS, display_width
from tests.conftest import copy_data_dir
from tests.deliverables.conftest import HOSTILE_REASON, QUARTER, ReviewedCity

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
HEADER_ROW = 3  # title, subtitle, header
NATIONAL_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


# Sheet header -> fct_person_quarter column. Numbers are stored unrounded (shown as 0.00); a workbook keeps
# 15-17 significant digits, so the comparison allows the last bit.
NUMBERS = {
    "季度得分": "quarter_score",
    "基础分": "task_score",
    "评议得分": "eval_score",
    "加减分": "adjustment_points",
    "任务量（计划分值）": "planned_points",
    "完成率": "completion_rate",
}


def same_number(cell: object, value: float | None) -> bool:
    if value is None:
        return cell is None
    return isinstance(cell, int | float) and cell == pytest.approx(value, rel=1e-14, abs=1e-12)


def query(work: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(work), read_only=True) as con:
        return con.sql(sql, params=params or []).pl().to_dicts()


def table(sheet: Any) -> list[dict[str, Any]]:
    """Rows under the header row as dicts keyed by header, up to the first blank first cell."""
    headers = [c.value for c in sheet[HEADER_ROW]]
    out = []
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
        if row[0] is None:
            break
        out.append(dict(zip(headers, row, strict=False)))
    return out


def unit_book(city: ReviewedCity, unit_code: str) -> Path:
    found = sorted((city.out / "units").glob(f"{unit_code}-*.xlsx"))
    assert len(found) == 1, found
    return found[0]


def all_strings(city: ReviewedCity) -> list[tuple[str, str]]:
    """(file, text) for every string cell of every workbook and every HTML file of the quarter."""
    out: list[tuple[str, str]] = []
    for path in sorted(city.out.rglob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                out += [(f"{path.name}:{c.coordinate}", c.value) for c in row if isinstance(c.value, str)]
    for path in sorted(city.out.rglob("*.html")):
        out.append((path.name, path.read_text(encoding="utf-8")))
    return out


def test_unit_workbooks_hold_the_warehouse_figures(reviewed_city: ReviewedCity) -> None:
    city = reviewed_city
    people = query(
        city.work,
        """
        select p.*, f.final_grade, f.is_reviewed from marts.fct_person_quarter p
        join results_use.fct_person_quarter_final f using (quarter, unit_code, person_code)
        where quarter = ?
        """,
        [QUARTER],
    )
    names = pl.read_parquet(city.root / "restricted" / "persons" / f"{QUARTER}.parquet")
    name_of = {(r["unit_code"], r["person_code"]): r["name"] for r in names.to_dicts()}
    units = query(
        city.work, "select * from marts.fct_unit_quarter where quarter = ? and files_seen > 0", [QUARTER]
    )
    assert len(units) == len(list((city.out / "units").glob("*.xlsx"))) > 0
    checked = 0
    for unit in units:
        book = openpyxl.load_workbook(unit_book(city, unit["unit_code"]))
        rows = {r["人员编号"]: r for r in table(book["平时考核结果"])}
        expected = [p for p in people if p["unit_code"] == unit["unit_code"]]
        assert set(rows) == {p["person_code"] for p in expected}
        for p in expected:
            row = rows[p["person_code"]]
            assert row["姓名"] == name_of[(p["unit_code"], p["person_code"])]
            for header, column in NUMBERS.items():
                assert same_number(row[header], p[column]), (p["unit_code"], p["person_code"], header)
            assert row["核定等次"] == p["computed_grade"] and row["最终等次"] == p["final_grade"]
            assert row["单位拟定等次"] == p["proposed_grade"]
            assert row["参加考核"] == ("是" if p["is_participant"] else "否")
            checked += 1
        good = [r["人员编号"] for r in table(book["好等次名单"])]
        assert sorted(good) == sorted(p["person_code"] for p in expected if p["final_grade"] == "好")
        quota = {r["项目"]: r["人数/结果"] for r in table(book["等次比例"])}
        assert quota["「好」等次比例上限人数"] == unit["top_quota_cap"]
        assert quota["核定「好」等次人数"] == unit["n_computed_good"]
        receipts = table(book["报送回执"])
        assert len(receipts) == unit["files_seen"]
    assert checked == len([p for p in people if any(u["unit_code"] == p["unit_code"] for u in units)])


def test_unit_workbooks_are_print_ready(reviewed_city: ReviewedCity) -> None:
    for path in sorted((reviewed_city.out / "units").glob("*.xlsx"))[:3]:
        book = openpyxl.load_workbook(path)
        sheet = book["平时考核结果"]
        assert sheet.page_setup.paperSize == 9 and sheet.page_setup.orientation == "landscape"
        assert sheet.print_title_rows == "$3:$3"  # the header row repeats on every printed page
        assert sheet.freeze_panes == "C4"  # header and the code and name columns stay in view
        # one page wide (fitToWidth absent means its default, 1), as many pages tall as needed
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0
        assert sheet["A1"].value.endswith("平时考核结果（公示）")
        assert sheet.cell(HEADER_ROW + 1, 10).number_format == "0.00"  # 季度得分 at display precision
        for cell in sheet[HEADER_ROW]:
            width = sheet.column_dimensions[cell.column_letter].width
            assert width >= display_width(cell.value), (path.name, cell.value, width)
        longest_name = max(display_width(r["姓名"] or "") for r in table(sheet))
        assert sheet.column_dimensions["B"].width >= longest_name


def test_an_applied_review_changes_the_final_grade_and_is_marked(reviewed_city: ReviewedCity) -> None:
    city, d = reviewed_city, reviewed_city.applied
    official = query(
        city.work,
        "select computed_grade from marts.fct_person_quarter "
        "where quarter = ? and unit_code = ? and person_code = ?",
        [QUARTER, d.unit_code, d.person_code],
    )
    assert official == [{"computed_grade": "好"}]  # the official computed grade is untouched
    record = query(
        city.work,
        "select * from results_use.fct_person_record where period = ? and unit_code = ? and person_code = ?",
        [QUARTER, d.unit_code, d.person_code],
    )[0]
    assert record["final_grade"] == "较好" and record["computed_grade"] == "好" and record["is_grade_changed"]
    year = query(
        city.work,
        "select n_good, n_fairly_good from marts.fct_person_year where rules_year = 2025 and person_key = ?",
        [record["person_key"]],
    )[0]
    assert year["n_good"] == city.before_n_good - 1  # the annual counts use the final grade
    book = openpyxl.load_workbook(unit_book(city, d.unit_code))
    sheet = book["平时考核结果"]
    row = next(r for r in sheet.iter_rows(min_row=HEADER_ROW + 1) if r[0].value == d.person_code)
    values = {sheet.cell(HEADER_ROW, c.column).value: c.value for c in row}
    assert values["核定等次"] == "好" and values["最终等次"] == "较好"
    assert values["复核标记"].startswith("※复核改定")
    assert row[0].fill.fgColor.rgb.endswith("FFF2CC")  # the reviewed row is shaded
    assert d.person_code not in [r["人员编号"] for r in table(book["好等次名单"])]
    decisions = table(book["复核决定"])
    mine = next(r for r in decisions if r["人员编号"] == d.person_code)
    assert mine["处理结果"] == "已执行" and mine["复核理由"] == "'" + HOSTILE_REASON


def test_a_review_over_the_cap_is_refused_with_a_receipt(reviewed_city: ReviewedCity) -> None:
    city, d = reviewed_city, reviewed_city.over_cap
    outcome = query(
        city.work,
        "select * from results_use.int_quarter_grade_reviews "
        "where quarter = ? and person_code = ? and unit_code = ?",
        [QUARTER, d.person_code, d.unit_code],
    )[0]
    assert outcome["review_status"] == "refused" and "超过比例上限" in outcome["review_note_zh"]
    final = query(
        city.work,
        "select final_grade, computed_grade, is_reviewed from results_use.fct_person_quarter_final "
        "where quarter = ? and unit_code = ? and person_code = ?",
        [QUARTER, d.unit_code, d.person_code],
    )[0]
    assert final["final_grade"] == final["computed_grade"] != "好" and not final["is_reviewed"]
    n_good = query(
        city.work,
        "select count(*) as n from results_use.fct_person_quarter_final "
        "where quarter = ? and unit_code = ? and final_grade = '好'",
        [QUARTER, d.unit_code],
    )[0]["n"]
    cap = query(
        city.work,
        "select top_quota_cap from marts.fct_unit_quarter where quarter = ? and unit_code = ?",
        [QUARTER, d.unit_code],
    )[0]["top_quota_cap"]
    assert n_good <= cap
    receipts = list((city.out / "reviews").glob("*.html"))
    assert len(receipts) == 1
    text = receipts[0].read_text(encoding="utf-8")
    assert "不予执行 2 条" in text and "执行 1 条" in text and d.person_code in text
    beside = city.root / "receipts" / QUARTER / "_reviews" / receipts[0].name
    assert beside.read_text(encoding="utf-8") == text  # where the units' receipts are
    book = openpyxl.load_workbook(unit_book(city, d.unit_code))
    mine = next(r for r in table(book["复核决定"]) if r["人员编号"] == d.person_code)
    assert mine["处理结果"] == "不予执行" and "超过比例上限" in mine["说明"]


def test_a_review_of_an_unknown_person_is_refused(reviewed_city: ReviewedCity) -> None:
    d = reviewed_city.unknown
    outcome = query(
        reviewed_city.work,
        "select review_status, review_note_zh from results_use.int_quarter_grade_reviews "
        "where person_code = ?",
        [d.person_code],
    )
    assert outcome == [
        {"review_status": "refused", "review_note_zh": "该单位本季度报送的人员名册中没有此人员编号"}
    ]


def test_no_national_id_in_any_deliverable(reviewed_city: ReviewedCity) -> None:
    ids = set()
    for path in (reviewed_city.root / "restricted" / "persons").glob("*.parquet"):
        ids |= set(pl.read_parquet(path, columns=["national_id"]).get_column("national_id").drop_nulls())
    assert ids
    texts = all_strings(reviewed_city)
    assert len(texts) > 1000
    leaks = [
        (where, t[:40]) for where, t in texts if NATIONAL_ID.search(t) or any(i in t for i in ids if i in t)
    ]
    assert not leaks[:5]


def test_formula_like_text_is_neutralised_and_html_escaped(reviewed_city: ReviewedCity) -> None:
    for path in sorted(reviewed_city.out.rglob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, cell.coordinate)
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(FORMULA_STARTS), (
                            path.name,
                            cell.coordinate,
                            cell.value,
                        )
    notices = (reviewed_city.out / "notices").glob(f"{reviewed_city.applied.unit_code}-*.html")
    text = next(notices).read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_notices_one_page_per_participant(reviewed_city: ReviewedCity) -> None:
    city = reviewed_city
    participants = query(
        city.work,
        "select unit_code, count(*) as n from marts.fct_person_quarter where quarter = ? and is_participant "
        "group by unit_code",
        [QUARTER],
    )
    assert participants
    for unit in participants:
        path = next((city.out / "notices").glob(f"{unit['unit_code']}-*.html"))
        text = path.read_text(encoding="utf-8")
        assert text.count('<section class="notice">') == unit["n"]
        assert "@page { size: A4 portrait" in text and "page-break-after: always" in text
    changed = next((city.out / "notices").glob(f"{city.applied.unit_code}-*.html")).read_text(
        encoding="utf-8"
    )
    assert "经复核改定（原核定好）" in changed


def test_county_workbooks_hold_their_units_only(reviewed_city: ReviewedCity) -> None:
    city = reviewed_city
    units = query(
        city.work,
        "select d.unit_code, d.county_code, d.county_name from marts.dim_unit d "
        "join marts.fct_unit_quarter u on u.unit_code = d.unit_code and u.quarter = ?",
        [QUARTER],
    )
    compliance = {
        r["county_code"]: r
        for r in query(city.work, "select * from marts.fct_county_compliance where quarter = ?", [QUARTER])
    }
    counties = sorted({(u["county_code"], u["county_name"]) for u in units})
    assert len(list((city.out / "counties").glob("*.xlsx"))) == len(counties)
    n_findings_seen = 0
    for code, name in counties:
        book = openpyxl.load_workbook(city.out / "counties" / f"{code}-{name}.xlsx")
        status = table(book["报送情况"])
        # deadlines are 23:59:59 local time (rules [calendar]); the sheet shows local time, not UTC
        assert {r["截止时间"].strftime("%H:%M:%S") for r in status} == {"23:59:59"}
        listed = {r["单位代码"] for r in status}
        assert listed == {u["unit_code"] for u in units if u["county_code"] == code}
        assert {r["单位代码"] for r in table(book["等次分布"])} == listed
        metrics = {r["指标"]: r["数值"] for r in table(book["合规指标"])}
        row = compliance[code]
        assert same_number(metrics["按时报送率"], row["on_time_rate"])
        assert same_number(metrics["合规指数"], row["compliance_index"])
        if row["county_rank"] is None:
            assert metrics["全市排名"].startswith("不参与排名")
        else:
            assert metrics["全市排名"].startswith(f"第 {row['county_rank']} 名")
        findings = table(book["问题明细"])
        assert all(r["单位代码"] in listed for r in findings)
        for r in findings:
            n_findings_seen += 1
            if r["评议主体"] in ("科室工作人员", "科室负责人", "分管领导") and r["被评议人"]:
                # the analyst file's keyed alias, never the rater's own code
                assert r["评议人"].startswith("R#") or r["评议人"] == r["被评议人"], r
        extract = city.root / "warehouse" / "counties" / f"{code}.duckdb"
        published = query(
            extract,
            "select finding_id, rater_code from quality.fct_rating_findings where quarter = ? or "
            "(quarter is null and year = 2025)",
            [QUARTER],
        )
        assert {(f["finding_id"], f["rater_code"]) for f in published} == {
            (r["编号"], r["评议人"]) for r in findings
        }
    assert n_findings_seen > 0


def test_cadre_division_record_and_lists(reviewed_city: ReviewedCity) -> None:
    city = reviewed_city
    quarters = query(city.work, "select count(*) as n from marts.fct_person_quarter")[0]["n"]
    record = query(
        city.work,
        "select period_type, count(*) as n, count(distinct person_key) as k "
        "from results_use.fct_person_record group by period_type order by period_type",
    )
    assert record[0]["period_type"] == "quarter" and record[0]["n"] == quarters
    years = query(city.work, "select count(*) as n from marts.fct_person_year")[0]["n"]
    assert record[1] == {"period_type": "year", "n": years, "k": years}
    # Only the private warehouse holds them: the release exports marts and quality only.
    analyst = city.root / "warehouse" / "assessment.duckdb"
    assert not query(analyst, "select * from information_schema.tables where table_schema = 'results_use'")
    book = openpyxl.load_workbook(city.out / "restricted" / "2025-结果运用名单.xlsx")
    candidates = table(book["表扬候选人"])
    expected = query(
        city.work, "select * from results_use.fct_commendation_candidates where rules_year = 2025"
    )
    assert len(candidates) == len(expected)
    assert {r["加密编号"] for r in candidates} == {r["person_key"] for r in expected}


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_the_pipeline_rerun_rewrote_only_the_reviewed_units(
    reviewed_city: ReviewedCity, published_city: Path
) -> None:
    """The reviewed city is the published city run again with a review register: the units the register
    concerns get new files, every other unit's workbook and notices are the published run's, untouched."""
    before = published_city / "deliverables" / QUARTER
    reviewed = {reviewed_city.applied.unit_code, reviewed_city.over_cap.unit_code}
    kept = 0
    for path in sorted((reviewed_city.out / "units").glob("*.xlsx")):
        old = before / "units" / path.name
        if any(path.name.startswith(f"{code}-") for code in reviewed):
            assert old.read_bytes() != path.read_bytes(), path.name  # the 复核决定 sheet is new
        else:
            assert old.read_bytes() == path.read_bytes(), path.name
            assert old.stat().st_mtime_ns == path.stat().st_mtime_ns, path.name
            kept += 1
    assert kept > 0


def test_a_rerun_writes_only_the_files_whose_content_changed(
    reviewed_city: ReviewedCity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.deliverables import write
    from pipelines.deliverables.write import write_deliverables

    root = copy_data_dir(reviewed_city.root, tmp_path / "city")
    out = root / "deliverables" / QUARTER
    same = write_deliverables(QUARTER, data_root=root)
    assert same.written == 0 and same.unchanged == len(_mtimes(out)) - 1  # all but the fingerprint file
    # One person's score corrected in the warehouse of a unit nobody reviewed: its grade stays, so its
    # county's workbook (grade counts) stays too.
    reviewed = {reviewed_city.applied.unit_code, reviewed_city.over_cap.unit_code}
    work = root / "warehouse" / "private" / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        scored = con.execute(
            "select unit_code, person_code from marts.fct_person_quarter where quarter = ? and is_scored "
            "order by unit_code, person_code",
            [QUARTER],
        ).fetchall()
        unit, person = next(r for r in scored if r[0] not in reviewed)
        con.execute(
            "update marts.fct_person_quarter set quarter_score = quarter_score + 0.01 "
            "where quarter = ? and unit_code = ? and person_code = ?",
            [QUARTER, unit, person],
        )
    before = _mtimes(out)
    summary = write_deliverables(QUARTER, data_root=root)
    after = _mtimes(out)
    changed = {rel for rel, mtime in after.items() if before.get(rel) != mtime}
    workbook = next((out / "units").glob(f"{unit}-*.xlsx"))
    notices = next((out / "notices").glob(f"{unit}-*.html"))
    assert changed == {f"units/{workbook.name}", f"notices/{notices.name}", ".fingerprints.json"}
    assert summary.written == 2
    book = openpyxl.load_workbook(workbook)
    row = next(r for r in table(book["平时考核结果"]) if r["人员编号"] == person)
    score = query(
        work,
        "select quarter_score from marts.fct_person_quarter where quarter = ? and unit_code = ? "
        "and person_code = ?",
        [QUARTER, unit, person],
    )[0]["quarter_score"]
    assert same_number(row["季度得分"], score)
    # force writes every file again, here on two processes (the test city is below the pool's threshold)
    monkeypatch.setattr(write, "POOL_MIN_FILES", 1)
    forced = write_deliverables(QUARTER, data_root=root, force=True, workers=2)
    assert forced.unchanged == 0 and forced.written == len(after) - 1
    assert _mtimes(out).keys() == after.keys()  # the same files, no worker leftovers
    for path in sorted(out.rglob("*.xlsx")):
        book = openpyxl.load_workbook(path)  # every file the workers wrote opens
        assert book.worksheets, path.name
    book = openpyxl.load_workbook(workbook)
    row = next(r for r in table(book["平时考核结果"]) if r["人员编号"] == person)
    assert same_number(row["季度得分"], score)


def test_shares_split_each_writer_evenly(tmp_path: Path) -> None:
    """The plan lists each unit's workbook and then its notices; every process gets half of the
    workbooks and half of the notices (dealing the whole list gave one process all the workbooks)."""
    from pipelines.deliverables.unit import write_unit_workbook
    from pipelines.deliverables.write import _write_notices, balanced_shares

    jobs = []
    for k in range(7):
        jobs.append((tmp_path / f"u{k}.xlsx", write_unit_workbook, (k,)))
        jobs.append((tmp_path / f"n{k}.html", _write_notices, (k,)))
    shares = balanced_shares(jobs, 2)
    assert sorted(job for share in shares for job in share) == sorted(jobs)
    for share in shares:
        writers = [job[1] for job in share]
        assert writers.count(write_unit_workbook) in (3, 4) and writers.count(_write_notices) in (3, 4)
    assert abs(len(shares[0]) - len(shares[1])) <= 1


def test_a_first_set_split_between_two_processes_is_the_set_one_process_writes(
    reviewed_city: ReviewedCity, tmp_path: Path
) -> None:
    """On a first set each process plans and writes its own share of the units and counties
    (write._write_split); the parent keeps the cadre lists and the review receipts. The files, their
    bytes and the fingerprints are those of the same set written by one process."""
    from datetime import UTC, datetime

    from pipelines.deliverables.fingerprint import MANIFEST
    from pipelines.deliverables.write import share_of, write_deliverables

    stamp = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    sets = {}
    for workers in (1, 2):
        root = copy_data_dir(reviewed_city.root, tmp_path / f"workers-{workers}")
        summary = write_deliverables(QUARTER, data_root=root, force=True, generated=stamp, workers=workers)
        out = root / "deliverables" / QUARTER
        files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        manifest = json.loads(files.pop(MANIFEST))["files"]
        sets[workers] = (summary, files, {rel: entry["fingerprint"] for rel, entry in manifest.items()})
    (one, one_files, one_prints), (two, two_files, two_prints) = sets[1], sets[2]
    # both processes had units and counties to write (the hash splits this city's codes both ways)
    units = {"-".join(p.name.split("-")[:3]) for p in one.units}  # <unit code>-<name>.xlsx
    assert {share_of(code, 2) for code in units} == {0, 1}
    assert {share_of(p.name.split("-")[0], 2) for p in one.counties} == {0, 1}
    assert two.written == one.written == len(one_files) and two.unchanged == 0
    assert sorted(two_files) == sorted(one_files)
    differ = [name for name in sorted(one_files) if _content(one_files[name]) != _content(two_files[name])]
    assert differ == []
    assert two_prints == one_prints
    assert [p.name for p in two.units] == [p.name for p in one.units]
    assert [p.name for p in two.review_receipts] == [p.name for p in one.review_receipts]
    assert (two.reviews_applied, two.reviews_refused) == (one.reviews_applied, one.reviews_refused)
    assert not list((tmp_path / "workers-2" / "deliverables").rglob(".jobs"))  # no leftovers


def _content(data: bytes) -> object:
    """A file's bytes; a workbook's parts without docProps/core.xml, which records when it was made."""
    if not data.startswith(b"PK"):
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


def test_share_of_is_a_fixed_hash_of_the_code() -> None:
    from pipelines.deliverables.write import share_of

    # crc32: the same in every process (unlike hash()) and on every run
    assert [share_of(code, 2) for code in ("370100-S-001", "370100-S-002", "370102")] == [
        zlib.crc32(code.encode()) % 2 for code in ("370100-S-001", "370100-S-002", "370102")
    ]
    assert {share_of(f"370100-S-{k:03d}", 2) for k in range(20)} == {0, 1}
