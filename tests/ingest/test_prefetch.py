"""The operator command's prefetch (pipelines/ingest/prefetch.py): ingestion's first half in a process of
its own, started before Dagster loads. Real child processes, real parse workers, real generated files.
(The golden tests ingest their two corpora prefetched too: tests/ingest/test_golden.py.)"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.ingest import cache, gx_check, prefetch
from pipelines.ingest.prefetched import Prefetched
from pipelines.ingest.run import ingest_quarter
from tests.conftest import PUBLISHED_QUARTERS
from tests.ingest import golden

Q = golden.QUARTER


@pytest.fixture
def landed(tmp_path: Path, clean_quarter: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the clean 24-unit quarter (nothing archived or parsed yet) as the data dir."""
    root = tmp_path / "city"
    shutil.copytree(clean_quarter, root)
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(root))
    monkeypatch.delenv("ASSESSMENT_REGISTRY_CSV", raising=False)
    monkeypatch.setenv("ASSESSMENT_DEMO", "1")
    return root


def _log(root: Path) -> Path:
    path = root / "logs" / "prefetch.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _group_alive(pid: int, within_s: float = 10.0) -> bool:
    """Whether any process of group `pid` is still there after `within_s` (killed workers need a moment
    before init reaps them)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def test_stopping_a_prefetch_ends_it_with_its_workers_and_the_step_does_the_rest(
    landed: Path, tmp_path: Path, clean_quarter: Path
) -> None:
    handle = prefetch.start([Q], landed, _log(landed))
    assert handle is not None
    assert handle.process.stdout is not None
    first = handle.process.stdout.readline()  # working: it has reported progress (or finished)
    assert first.startswith("{")
    prefetch.stop(handle)
    assert handle.process.returncode is not None
    assert not _group_alive(handle.process.pid)  # no parse worker left behind
    assert prefetch.wait_for(landed, Q) is None  # forgotten: the step does not wait for it

    report = ingest_quarter(Q)
    assert report.submissions > 0
    # what was archived or parsed before the stop is not lost, and nothing is done twice or wrongly
    reference = tmp_path / "reference"
    shutil.copytree(clean_quarter, reference)
    golden.ingest(reference, workers=2)
    assert golden.snapshot(landed) == golden.snapshot(reference)


def test_a_failed_prefetch_leaves_the_work_to_the_step(
    landed: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ASSESSMENT_REGISTRY_CSV", str(landed / "no-such-registry.csv"))
    handle = prefetch.start([Q], landed, _log(landed))
    monkeypatch.delenv("ASSESSMENT_REGISTRY_CSV")
    try:
        with caplog.at_level(logging.WARNING):
            assert prefetch.wait_for(landed, Q) is None
    finally:
        prefetch.stop(handle)
    assert "预读失败 prefetch of 2025Q3 failed" in caplog.text
    assert "no-such-registry.csv" in _log(landed).read_text(encoding="utf-8")  # its traceback, in the log

    report = ingest_quarter(Q)
    assert report.parsed_now == report.archived_now == report.submissions > 0


def test_the_step_takes_the_landing_area_as_the_prefetch_found_it(landed: Path) -> None:
    from pipelines.bench.incremental import resubmit

    ingest_quarter(Q)  # a built quarter (resubmit picks a unit's current workbook from it)
    handle = prefetch.start([Q], landed, _log(landed))
    try:
        done = prefetch.wait_for(landed, Q)
    finally:
        prefetch.stop(handle)
    assert done is not None and done.archived == done.parsed == 0
    late = resubmit(landed, Q)  # lands after the prefetch looked, before the step runs
    report = ingest_quarter(Q, prefetched=done)
    assert report.deliveries_in_landing == done.deliveries
    assert report.archived_now == report.unaccounted == 0  # the next run's, not lost
    assert report.current_submissions[late.unit_code] != _sha(late.corrected)

    again = ingest_quarter(Q)
    assert again.archived_now == again.parsed_now == 1
    assert again.current_submissions[late.unit_code] == _sha(late.corrected)


def _sha(path: Path) -> str:
    from pipelines.ingest.discover import sha256_file

    return sha256_file(path)


def test_a_prefetch_result_survives_its_line() -> None:
    done = Prefetched(
        3, 2, 0.5, 9, frozenset({("371600-S-001", "ab" * 32)}), ("a/b.txt: 不是单位文件",), ("log note",)
    )
    assert Prefetched.from_json(json.loads(json.dumps(done.to_json()))) == done
    with pytest.raises((KeyError, TypeError, ValueError)):
        Prefetched.from_json({"archived": 1})


def test_the_gx_check_the_prefetch_process_runs_is_the_one_the_step_would_run(
    landed: Path, tmp_path: Path, clean_quarter: Path
) -> None:
    handle = prefetch.start([Q], landed, _log(landed))
    try:
        done = prefetch.wait_for(landed, Q)
        ingest_quarter(Q, prefetched=done)
        found = prefetch.gx_check(landed, Q)
    finally:
        prefetch.stop(handle)
    assert found is not None, _log(landed).read_text(encoding="utf-8")
    outcome = gx_check.outcome_from_json(found)
    assert outcome.checked_submissions > 0 and outcome.passed
    assert f"{Q}: GX check run here" in _log(landed).read_text(encoding="utf-8")
    assert not gx_check.never_validated(cache.cache_root(landed), Q)  # remembered, as by the step

    reference = tmp_path / "reference"
    shutil.copytree(clean_quarter, reference)
    golden.ingest(reference, workers=2)
    here = gx_check.check_quarter(reference / "raw", reference / "restricted", cache.cache_root(reference), Q)
    assert gx_check.describe(outcome) == gx_check.describe(here)


def test_no_gx_check_is_offered_for_a_quarter_validated_before(landed: Path) -> None:
    ingest_quarter(Q)
    gx_check.check_quarter(landed / "raw", landed / "restricted", cache.cache_root(landed), Q)
    handle = prefetch.start([Q], landed, _log(landed))
    try:
        assert prefetch.wait_for(landed, Q) is not None
        assert prefetch.gx_check(landed, Q) is None  # the step decides it from remembered values
        assert handle is not None and handle.process.wait(timeout=60) == 0  # and the child has ended
    finally:
        prefetch.stop(handle)


def test_the_prefetch_can_be_turned_off(landed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prefetch.PREFETCH_ENV, "0")
    assert prefetch.start([Q], landed, _log(landed)) is None
    assert prefetch.wait_for(landed, Q) is None
    assert not (landed / "archive").exists()


def test_the_operator_command_prefetched_its_quarter_and_the_step_says_so(published_city: Path) -> None:
    """published_city's first quarter ran through `run_quarters` (tests/conftest.py)."""
    first = PUBLISHED_QUARTERS[0].key
    logs = "".join(p.read_text(encoding="utf-8") for p in sorted((published_city / "logs").glob("run-*.log")))
    assert f"prefetch - {first}: " in logs
    assert f"prefetch - {first}: GX check run here" in logs  # a first run: GX imported in the prefetch
    instance = dg.DagsterInstance.from_config(str(published_city / ".dagster"))
    submissions = dg.AssetKey(["raw", "submissions"])
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=submissions, asset_partitions=[first]), limit=1
    ).records
    assert records
    meta = records[0].asset_materialization.metadata
    assert meta["parsed_now"].value == meta["archived_now"].value > 0  # the prefetch's work, counted
    assert "prefetch" in meta["timings_s"].value


def test_a_second_start_for_the_same_quarters_finds_the_running_prefetch(landed: Path) -> None:
    """The operator's command starts the prefetch before Dagster loads (`head_start`); `run_quarters`
    asks again and must get that one, not a second child archiving the same files."""
    with prefetch.head_start([Q], landed, lambda: _log(landed)) as log:
        assert log == _log(landed)
        first = prefetch.start([Q], landed, log)
        assert first is not None
        assert prefetch.start([Q], landed, log) is first
        done = prefetch.wait_for(landed, Q)
    assert done is not None and done.archived > 0
    assert first.process.returncode is not None  # stopped with the block
    assert prefetch.wait_for(landed, Q) is None  # and forgotten


def test_the_step_log_gets_what_the_prefetch_could_not_read(
    landed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file the prefetch cannot read is named in the step's log, as when the step parses it itself
    (the child's own log goes to the command's run log only); what the step logs anyway from the
    prefetch's view of the landing area (files not ingested) is not repeated."""
    unit = sorted(p for p in (landed / "landing" / Q).iterdir() if p.is_dir())[0]
    book = next(unit.glob("*.xlsx"))
    book.write_bytes(book.read_bytes()[:-200])  # a workbook cut short: its zip directory is gone
    (landed / "landing" / Q / "说明.txt").write_text("not a unit's file", encoding="utf-8")
    step_log = logging.getLogger("tests.prefetch.step")
    handle = prefetch.start([Q], landed, _log(landed))
    try:
        with caplog.at_level(logging.WARNING, logger=step_log.name):
            done = prefetch.wait_for(landed, Q, log=step_log)
    finally:
        prefetch.stop(handle)
    assert done is not None and done.skipped  # the stray file is one the step reports itself
    relogged = [r.getMessage() for r in caplog.records if r.name == step_log.name]
    assert any(m.startswith("预读 prefetch: submission ") and "zip" in m.lower() for m in relogged), relogged
    assert not any("not ingested" in m for m in relogged), relogged
    assert "not a zip file" in _log(landed).read_text(encoding="utf-8").lower()  # still in the run log
