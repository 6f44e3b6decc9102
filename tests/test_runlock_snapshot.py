"""A run publishes what the ledger held when it started: a correction landing mid-run is the next run's.

The operator CLI's `run_quarters` runs for real (Dagster jobs, dbt, publishing) on a small generated
quarter. Right after its ingest step a unit's corrected workbook lands; that run must publish the
results of the files its ingest saw (its snapshot), and the next run must publish the correction.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.bench.incremental import Resubmission, resubmit
from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.discover import sha256_file
from tests.conftest import make_city, pipeline_env

pytestmark = pytest.mark.slow

Q = "2025Q3"


def _published_current(published: Path) -> dict[str, str]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(
            "select unit_code, current_submission_id from marts.fct_unit_quarter "
            "where quarter = ? and current_submission_id is not null",
            [Q],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def _ledger_current(root: Path) -> dict[str, str]:
    ledger = pl.read_parquet(root / "raw" / "submissions" / f"{Q}.parquet").filter(pl.col("is_current"))
    return dict(ledger.select("unit_code", "submission_id").iter_rows())


def test_a_correction_landing_mid_run_is_published_by_the_next_run_never_halfway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.ops import run_quarters

    root = make_city(tmp_path / "city", seed=11, units=6, clean=True, quarters=(parse_quarter(Q),))
    monkeypatch.setenv("ASSESSMENT_PSEUDONYM_KEY", "h12-snapshot-test-key-5b7e0c9d2a4f6e81c3a5")
    monkeypatch.setenv("ASSESSMENT_DUCKDB_MEMORY", "2GB")
    landed: dict[str, object] = {}

    def land_after_ingest(stage: str, partition: str | None, _seconds: float) -> None:
        if stage == "ingest" and partition == Q and not landed:
            landed["snapshot"] = _ledger_current(root)  # what this run's ingest built its ledger from
            landed["resubmission"] = resubmit(root, Q)  # the correction arrives while dbt is to run

    with pipeline_env(root):
        published = run_quarters(
            [Q], progress=lambda _m: None, on_stage=land_after_ingest, report_quarters=[]
        )
        resub = landed["resubmission"]
        assert isinstance(resub, Resubmission)
        snapshot = landed["snapshot"]
        # The first run's release is exactly its snapshot: the correction is neither in the ledger
        # nor in any published figure, not even partly.
        assert _published_current(published) == snapshot == _ledger_current(root)
        ledger = pl.read_parquet(root / "raw" / "submissions" / f"{Q}.parquet")
        assert resub.corrected.name not in ledger["file_name"].to_list()
        first_release = published.resolve()

        published = run_quarters([Q], progress=lambda _m: None, report_quarters=[])
        after = _ledger_current(root)
        assert after[resub.unit_code] == sha256_file(resub.corrected)  # the correction is current now
        assert {u: s for u, s in after.items() if u != resub.unit_code} == {
            u: s for u, s in snapshot.items() if u != resub.unit_code
        }
        assert _published_current(published) == after  # and published, in a new release
        assert published.resolve() != first_release
