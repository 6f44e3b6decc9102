"""End to end on a messy generated city, through real Dagster materialisations of the ingest assets."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.ingest import audit
from pipelines.ingest.schema import RAW_TABLES
from tests.ingest.conftest import MESSY_QUARTERS, Ingested, data_dir
from tests.ingest.helpers import checks, materialize

# The tests read the session's messy_city: keep them on one xdist worker with its other readers, so it
# is generated and ingested once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("messy_city")]


def _ledger_with_truth(city: Ingested, quarter: str) -> pl.DataFrame:
    """Each generated delivery joined to its ledger row (xlsx by file name, CSV by format)."""
    truth = (
        city.truth(quarter)
        .filter(pl.col("delivery") != "0")
        .select("unit_code", "delivery", "file_name", "format", "breakage", "expected_error")
    )
    ledger = city.raw("submissions", quarter)
    xlsx = truth.filter(pl.col("format") == "xlsx").join(
        ledger, on=["unit_code", "file_name", "format"], how="left"
    )
    csv = (
        truth.filter(pl.col("format") == "csv")
        .drop("file_name")
        .join(ledger, on=["unit_code", "format"], how="left")
    )
    return pl.concat([xlsx, csv.select(xlsx.columns)])


@pytest.mark.parametrize("quarter", MESSY_QUARTERS)
def test_the_run_succeeds_and_every_file_is_accounted_for(messy_city: Ingested, quarter: str) -> None:
    result = messy_city.results[quarter]
    assert result.success
    found = checks(result)
    assert found["every_file_accounted_for"].passed
    assert found["every_unit_has_a_status"].passed
    assert found["no_clear_national_ids"].passed
    ledger = messy_city.raw("submissions", quarter)
    truth = messy_city.truth(quarter).filter(pl.col("delivery") != "0")
    assert ledger.height == truth.height  # every delivery in the ledger, no more
    assert ledger["submission_id"].str.len_chars().unique().to_list() == [64]


@pytest.mark.parametrize("quarter", MESSY_QUARTERS)
def test_unit_statuses_match_the_ground_truth(messy_city: Ingested, quarter: str) -> None:
    truth = messy_city.truth(quarter).unique("unit_code").select("unit_code", "expected_status")
    status = messy_city.raw("unit_status", quarter)
    assert status.height == 500  # every registry unit, generated or not
    joined = truth.join(status, on="unit_code", how="left")
    mismatched = joined.filter(pl.col("status") != pl.col("expected_status"))
    assert mismatched.is_empty(), mismatched
    others = status.filter(~pl.col("unit_code").is_in(truth["unit_code"].implode()))
    assert others["status"].unique().to_list() == ["missing"]
    assert set(status["status"]) == {"on_time", "late", "rejected", "missing"}


@pytest.mark.parametrize("quarter", MESSY_QUARTERS)
def test_broken_files_are_rejected_with_the_right_error_and_corrections_win(
    messy_city: Ingested, quarter: str
) -> None:
    deliveries = _ledger_with_truth(messy_city, quarter)
    assert deliveries["submission_id"].null_count() == 0
    items = messy_city.raw("receipt_items", quarter)
    errors = (
        items.filter(pl.col("severity") == "error").group_by("submission_id").agg(pl.col("kind").unique())
    )
    broken = deliveries.filter(pl.col("breakage") != "").join(errors, on="submission_id", how="left")
    assert broken.height > 0
    for row in broken.iter_rows(named=True):
        assert not row["accepted"], row
        assert row["expected_error"] in (row["kind"] or []), (row["breakage"], row["kind"])
    valid = deliveries.filter(pl.col("breakage") == "")
    assert valid["accepted"].all()
    # Each unit's last valid delivery is its current submission, whatever was broken before it.
    last_valid = valid.sort("delivery").unique("unit_code", keep="last")
    assert last_valid["is_current"].all()
    assert deliveries.filter(pl.col("is_current")).height == last_valid.height


def test_every_breakage_kind_was_exercised(messy_city: Ingested) -> None:
    from pipelines.synthetic.breakage import BREAKAGES

    seen = set(pl.concat([messy_city.truth(q) for q in MESSY_QUARTERS])["breakage"].to_list()) - {""}
    assert seen == set(BREAKAGES)


def test_csv_submissions_in_every_encoding_are_ingested(messy_city: Ingested) -> None:
    csvs = pl.concat(
        [_ledger_with_truth(messy_city, q).filter(pl.col("format") == "csv") for q in MESSY_QUARTERS]
    )
    assert set(csvs["encoding"]) == {"gb18030", "utf-8", "utf-8-sig"}
    assert csvs["accepted"].all() and csvs["is_current"].all()
    gb = csvs.filter(pl.col("encoding") == "gb18030").row(0, named=True)
    roster = messy_city.raw("roster", gb["quarter"]).filter(pl.col("unit_code") == gb["unit_code"])
    ratings = messy_city.raw("ratings", gb["quarter"]).filter(pl.col("unit_code") == gb["unit_code"])
    assert roster.height > 0 and ratings.height > 0
    assert roster["section"].str.contains(r"[\u4e00-\u9fff]").all()  # Chinese decoded, not mojibake


def test_every_submission_has_a_receipt_file(messy_city: Ingested) -> None:
    for quarter in MESSY_QUARTERS:
        for row in messy_city.raw("submissions", quarter).iter_rows(named=True):
            page = (messy_city.root / row["receipt_path"]).read_text(encoding="utf-8")
            assert row["submission_id"] in page
            assert ("已接收" if row["accepted"] else "已退回") in page
        items = messy_city.raw("receipt_items", quarter)
        assert items["message"].null_count() == 0
        cell_items = items.filter(pl.col("excel_row").is_not_null())
        assert (cell_items["excel_row"] >= 1).all()


def test_no_clear_national_id_or_name_in_any_analytical_table(messy_city: Ingested) -> None:
    persons = pl.read_csv(messy_city.root / "ground_truth" / "2025Q3" / "persons.csv", infer_schema=False)
    ids = persons["national_id"].unique().to_list()
    for quarter in MESSY_QUARTERS:
        tables = {t: messy_city.raw(t, quarter) for t in RAW_TABLES}
        assert audit.clear_national_ids(tables, ids) == {}
        assert "national_id" not in tables["roster"].columns and "name" not in tables["roster"].columns
        restricted = pl.read_parquet(messy_city.root / "restricted" / "persons" / f"{quarter}.parquet")
        assert restricted.height == tables["roster"].height
        assert restricted["national_id"].str.len_chars().unique().to_list() == [18]
        keys = tables["roster"].join(restricted, on=["unit_code", "person_code"])
        assert (keys["person_key"] == keys["person_key_right"]).all()


def test_person_keys_follow_people_across_quarters(messy_city: Ingested) -> None:
    q3, q4 = (
        pl.read_parquet(messy_city.root / "restricted" / "persons" / f"{q}.parquet") for q in MESSY_QUARTERS
    )
    both = q3.join(q4, on="national_id")
    assert both.height > 100
    assert (both["person_key"] == both["person_key_right"]).all()
    assert q3["person_key"].str.contains(r"^[0-9a-f]{32}$").all()


def test_task_assignments_explode_lead_and_assist_codes(messy_city: Ingested) -> None:
    tasks = messy_city.raw("tasks", "2025Q3")
    assignments = messy_city.raw("task_assignments", "2025Q3")
    leads = assignments.filter(pl.col("role") == "lead")
    assert leads.height == tasks["lead_code"].drop_nulls().len()
    assert assignments.filter(pl.col("role") == "assist").height > 0
    roster = messy_city.raw("roster", "2025Q3")
    unknown = assignments.join(roster, on=["unit_code", "person_code"], how="anti")
    assert unknown.is_empty()


def test_reingesting_is_a_no_op(messy_city: Ingested) -> None:
    quarter = MESSY_QUARTERS[0]
    before = {t: messy_city.raw(t, quarter) for t in RAW_TABLES}
    receipts = {p: p.stat().st_mtime_ns for p in (messy_city.root / "receipts" / quarter).rglob("*.html")}
    archive = sorted(str(p) for p in (messy_city.root / "archive" / quarter).rglob("*"))
    with data_dir(messy_city.root):
        again = materialize(quarter)
    assert again.success
    meta = again.asset_materializations_for_node("ingest_quarter")
    submissions = next(m for m in meta if m.asset_key.path == ["raw", "submissions"])
    assert submissions.metadata["parsed_now"].value == 0
    assert submissions.metadata["archived_now"].value == 0
    for table, frame in before.items():
        assert messy_city.raw(table, quarter).equals(frame), table
    assert {p: p.stat().st_mtime_ns for p in receipts} == receipts  # not even rewritten
    assert sorted(str(p) for p in (messy_city.root / "archive" / quarter).rglob("*")) == archive


def test_asset_checks_report_counts_and_top_error_kinds(messy_city: Ingested) -> None:
    result = messy_city.results["2025Q3"]
    validated = checks(result)["submissions_validated"]
    assert not validated.passed  # this city has rejected files: a warning, not a failed run
    assert validated.severity.value == "WARN"
    status = messy_city.raw("unit_status", "2025Q3")
    assert validated.metadata["units_rejected"].value == status.filter(pl.col("status") == "rejected").height
    assert validated.metadata["units_missing"].value == status.filter(pl.col("status") == "missing").height
    top = validated.metadata["top_error_kinds"].data
    items = messy_city.raw("receipt_items", "2025Q3").filter(pl.col("severity") == "error")
    assert sum(top.values()) <= items.height and set(top) <= set(items["kind"])
