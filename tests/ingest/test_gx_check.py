"""great-expectations over the raw tables (gx_check.py, the blocking asset check gx_suites_hold).

The suites hold on what ingestion accepted (the polars rules let nothing through that GX refuses), a
re-run does not validate the same submissions again, and a raw row that breaks a suite fails the check
and blocks what is downstream.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.ingest.assets import ingest_quarter_assets
from pipelines.defs.ingest.checks import CHECK_NAME, gx_suites_on_raw_tables
from pipelines.ingest import gx_check
from pipelines.ingest.gx_check import check_quarter, distinct_cells
from tests.ingest.conftest import Ingested
from tests.ingest.hostile import QUARTER, Base, copy_base, data_dir

# The tests read the session's hostile_base or noisy_quarter: keep them on one xdist worker with the
# other readers, so each is built once.
pytestmark = pytest.mark.xdist_group("ingested_quarters")


def _check(root: Path, quarter: str, cache_root: Path):
    return check_quarter(root / "raw", root / "restricted", cache_root, quarter)


def test_the_suites_hold_on_a_noisy_quarter_and_are_not_run_twice(
    noisy_quarter: Ingested, tmp_path: Path
) -> None:
    first = _check(noisy_quarter.root, "2025Q2", tmp_path)
    assert first.passed, first.failures
    assert first.rows["ratings"] > 1000 and first.rows["roster"] > 100 and first.checked_submissions >= 20
    assert first.not_checked == ["tasks.assist_codes"]
    again = _check(noisy_quarter.root, "2025Q2", tmp_path)
    assert again.passed and again.checked_submissions == 0
    assert again.skipped_submissions == first.checked_submissions
    assert set(again.rows.values()) == {0}


def test_a_raw_row_breaking_a_suite_fails_the_check(noisy_quarter: Ingested, tmp_path: Path) -> None:
    root = tmp_path / "data"
    for folder in ("raw", "restricted"):
        shutil.copytree(noisy_quarter.root / folder, root / folder)
    ratings = root / "raw" / "ratings" / "2025Q2.parquet"
    frame = pl.read_parquet(ratings)
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(100.5)
        .otherwise(pl.col("score_effect"))
        .alias("score_effect")
    ).write_parquet(ratings)
    persons = root / "restricted" / "persons" / "2025Q2.parquet"
    pl.read_parquet(persons).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("12345"))
        .otherwise("national_id")
        .alias("national_id")
    ).write_parquet(persons)
    outcome = _check(root, "2025Q2", tmp_path / "cache")
    found = {(f.sheet, f.column, f.rule, f.cells) for f in outcome.failures}
    assert found == {("ratings", "score_effect__value", "range", 1), ("roster", "national_id", "pattern", 1)}
    assert not (tmp_path / "cache" / "gx_verified" / "2025Q2.json").exists()  # a failure is not remembered


def _resubmit(root: Path, submission: str, copy_of: str, score_effect: float | None = None) -> None:
    """A new submission in the raw ratings: a copy of another one's rows, one score changed if asked."""
    ratings = root / "raw" / "ratings" / "2025Q2.parquet"
    frame = pl.read_parquet(ratings)
    rows = frame.filter(pl.col("submission_id") == copy_of).with_columns(
        pl.lit(submission).alias("submission_id")
    )
    if score_effect is not None:
        rows = rows.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(score_effect)
            .otherwise("score_effect")
            .alias("score_effect")
        )
    pl.concat([frame, rows]).write_parquet(ratings)


def test_a_resubmission_of_values_that_passed_before_needs_no_gx(
    noisy_quarter: Ingested, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows whose every value passed GX before under the same suite are decided without running GX; a
    value never seen is judged by GX, and a bad one still fails the check."""
    root = tmp_path / "data"
    for folder in ("raw", "restricted"):
        shutil.copytree(noisy_quarter.root / folder, root / folder)
    cache = tmp_path / "cache"
    assert _check(root, "2025Q2", cache).passed
    assert (cache / "gx_verified" / "2025Q2.values.parquet").exists()
    copy_of = pl.read_parquet(root / "raw" / "ratings" / "2025Q2.parquet")["submission_id"][0]
    gx_runs: list[str] = []
    real_run_suite = gx_check._run_suite

    def counted(sheet_name: str, frame: pl.DataFrame, locate: bool = True) -> list[gx_check.SuiteFailure]:
        gx_runs.append(sheet_name)
        return real_run_suite(sheet_name, frame, locate)

    monkeypatch.setattr(gx_check, "_run_suite", counted)

    _resubmit(root, "same-values", copy_of)
    same = _check(root, "2025Q2", cache)
    assert same.passed and same.checked_submissions == 1 and same.rows["ratings"] > 0
    assert same.decided_by_earlier_passes == ["ratings"] and gx_runs == []

    _resubmit(root, "new-value", copy_of, score_effect=0.123)  # in range, in no earlier submission
    new = _check(root, "2025Q2", cache)
    assert new.passed and new.decided_by_earlier_passes == [] and gx_runs == ["ratings"]

    _resubmit(root, "bad-value", copy_of, score_effect=100.5)  # out of range: GX must see it
    bad = _check(root, "2025Q2", cache)
    assert [(f.sheet, f.column, f.cells, f.submissions) for f in bad.failures] == [
        ("ratings", "score_effect__value", 1, ["bad-value"])
    ]
    again = _check(root, "2025Q2", cache)  # a failure is not remembered: still refused
    assert not again.passed and again.decided_by_earlier_passes == []


def test_the_check_runs_in_dagster_and_blocks_downstream(hostile_base: Base, tmp_path: Path) -> None:
    root = copy_base(hostile_base, tmp_path / "data")

    @dg.asset(deps=[dg.AssetKey(["raw", "ratings"])], partitions_def=ingest_quarter_assets.partitions_def)
    def downstream() -> None:
        return None

    with data_dir(root):
        result = dg.materialize(
            [ingest_quarter_assets, gx_suites_on_raw_tables, downstream], partition_key=QUARTER
        )
        evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
        assert len(evaluations) == 7 and all(e.passed for e in evaluations)
        assert result.success
        # A row the polars rules would have refused, slipped into the raw table: dbt must not build on it.
        ratings = root / "raw" / "ratings" / f"{QUARTER}.parquet"
        pl.read_parquet(ratings).with_columns(pl.lit(-1.0).alias("score_measures")).write_parquet(ratings)
        (root / "ingest_cache").rename(root / "ingest_cache_old")  # forget what was verified
        failed = dg.materialize(
            [ingest_quarter_assets, gx_suites_on_raw_tables, downstream],
            selection=dg.AssetSelection.checks(gx_suites_on_raw_tables)
            | dg.AssetSelection.assets(downstream),
            partition_key=QUARTER,
            raise_on_error=False,
        )
    assert not failed.success
    bad = [e for e in failed.get_asset_check_evaluations() if not e.passed]
    assert [e.asset_key for e in bad] == [dg.AssetKey(["raw", "ratings"])]
    assert not failed.asset_materializations_for_node("downstream")


def test_the_distinct_cells_hold_every_value_of_every_column_once_at_least() -> None:
    frame = pl.DataFrame(
        {
            "submission_id": ["a", "a", "b", "b", "b"],
            "_row": [0, 1, 2, 3, 4],
            "x": ["1", "1", None, "2", "1"],
            "y": [5.0, 5.0, 5.0, 5.0, 5.0],
        }
    )
    small = distinct_cells(frame)
    assert small.height == 3
    assert set(small["x"].to_list()) == {"1", None, "2"} and set(small["y"].to_list()) == {5.0}


def test_an_expectation_that_crashed_is_not_read_as_bad_data() -> None:
    """GX 1.x files a crashed metric (here: a column the frame does not have) per metric id, not in the
    flat shape; either shape raises instead of passing for a failed expectation of the data. A plain
    failure, in either result format, does not raise."""
    import great_expectations as gx
    import pandas as pd

    from pipelines.ingest.suites import raise_if_expectation_raised
    from pipelines.ingest.validate import gx_batch_definition

    frame = pd.DataFrame({"score": ["1", "x"]})
    crashed = gx.expectations.ExpectColumnValuesToNotBeNull(column="no_such_column")
    failing = gx.expectations.ExpectColumnValuesToMatchRegex(column="score", regex=r"^\d+$")
    suite = gx.ExpectationSuite(name="crash_or_fail", expectations=[crashed, failing])
    for result_format in ("COMPLETE", "BOOLEAN_ONLY"):
        batch = gx_batch_definition().get_batch(batch_parameters={"dataframe": frame})
        results = batch.validate(suite, result_format={"result_format": result_format}).results
        by_column = {r.expectation_config.kwargs["column"]: r for r in results}
        assert not by_column["score"].success and not by_column["no_such_column"].success
        raise_if_expectation_raised(by_column["score"], "a sheet")  # bad data: no exception
        with pytest.raises(RuntimeError, match="raised"):
            raise_if_expectation_raised(by_column["no_such_column"], "a sheet")
