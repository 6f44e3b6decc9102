"""Safe publishing through real Dagster runs on a generated city: what analysts see, a late corrected
submission, a run killed halfway, a notebook holding the file open, a blocking check that fails."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.defs.publish import assets as publish_assets
from pipelines.domain.template import RATINGS
from pipelines.publish import audit
from pipelines.publish.warehouse import COUNTIES_NAME, layout
from tests.conftest import copy_data_dir, pipeline_env

# One xdist worker runs every test of the shared published city, so it is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
ROOT = Path(__file__).resolve().parents[2]
QUARTER = "2025Q4"


def _scalar(path: Path, sql: str, params: list | None = None) -> object:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchone()[0]


def test_a_run_publishes_a_checked_release_with_county_extracts(published_city: Path) -> None:
    # 2025Q4 went through quarterly_pipeline, the scheduled job: it ends with the quarter's report.
    report = published_city / "reports" / QUARTER / f"report-{QUARTER}.html"
    assert report.stat().st_size > 100_000 and QUARTER in report.read_text(encoding="utf-8")
    lay = layout(published_city / "warehouse")
    assert lay.published.is_symlink() and lay.current.is_symlink()
    assert audit.only_analyst_tables(lay.published) == []
    assert audit.no_national_ids(lay.published) == []
    assert audit.rater_anonymity(lay.published) == []
    units = _scalar(lay.published, "select count(*) from marts.fct_unit_quarter where quarter = ?", [QUARTER])
    assert units == 500  # every registry unit, submitted or not
    counties = _scalar(lay.published, "select count(distinct county_code) from marts.dim_unit")
    extracts = sorted((lay.counties).glob("*.duckdb"))
    assert len(extracts) == counties
    total = 0
    for extract in extracts:
        assert audit.county_extract_problems(extract, extract.stem) == []
        total += _scalar(extract, "select count(*) from marts.fct_person_quarter")
    assert total == _scalar(lay.published, "select count(*) from marts.fct_person_quarter")
    assert (
        _scalar(lay.work, "select count(*) from information_schema.tables where table_schema = 'staging'") > 0
    )


def test_a_run_killed_halfway_leaves_the_published_warehouse_untouched(
    published_city: Path, tmp_path: Path
) -> None:
    data = copy_data_dir(published_city, tmp_path / "data")
    lay = layout(data / "warehouse")
    before = (lay.current.resolve(), lay.published.read_bytes(), lay.work.read_bytes())
    env = {**os.environ, "ASSESSMENT_DATA_DIR": str(data), "DAGSTER_HOME": str(data / ".dagster")}
    env.pop("ASSESSMENT_DUCKDB", None)
    run = subprocess.Popen(
        [str(Path(sys.executable).parent / "assessment"), "run", "--quarter", QUARTER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so the kill reaches dbt and the parse workers too
    )
    try:
        deadline = time.monotonic() + 240
        while not list(lay.builds.glob("build.duckdb")) and run.poll() is None:
            assert time.monotonic() < deadline, "the run never reached dbt"
            time.sleep(0.5)
        time.sleep(3)  # let dbt write into the build file
        assert run.poll() is None, "the run finished before it could be killed"
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert list(lay.builds.glob("build.duckdb")), "the killed run had started a build"
    assert (lay.current.resolve(), lay.published.read_bytes(), lay.work.read_bytes()) == before
    assert _scalar(lay.published, "select count(*) from marts.fct_person_quarter") > 0


def _correct_one_rating(data: Path) -> tuple[str, str]:
    """A late corrected workbook for one accepted unit: every rating of one ratee lowered to 60.
    Returns (unit_code, person_code)."""
    lay = layout(data / "warehouse")
    with duckdb.connect(str(lay.published), read_only=True) as con:
        candidates = con.execute(
            "select unit_code from marts.fct_unit_quarter "
            "where quarter = ? and submission_status = 'on_time' order by unit_code",
            [QUARTER],
        ).fetchall()
    for (unit,) in candidates:
        books = sorted((data / "landing" / QUARTER / unit).glob("*.xlsx"))
        if books:
            break
    else:
        raise AssertionError("no accepted xlsx unit in the fixture city")
    book = openpyxl.load_workbook(books[-1])
    sheet = book[RATINGS.title]
    header_row = next(r for r in sheet.iter_rows() if any(c.value == "被评议人编号" for c in r))
    header = [c.value for c in header_row]
    ratee_col = header.index("被评议人编号")
    score_cols = [header.index(c.header) for c in RATINGS.columns if c.field.startswith("score_")]
    ratee = None
    for row in sheet.iter_rows(min_row=header_row[0].row + 1):
        if row[ratee_col].value is None:
            continue
        ratee = ratee or row[ratee_col].value
        if row[ratee_col].value == ratee:
            for i in score_cols:
                row[i].value = 60
    target = books[-1].with_name(books[-1].stem + "（更正）.xlsx")
    book.save(target)
    return unit, str(ratee)


EVAL_SCORE_SQL = (
    "select eval_score from marts.fct_person_quarter where quarter = ? and unit_code = ? and person_code = ?"
)
READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    sql = ("select eval_score from marts.fct_person_quarter "
           "where quarter = ? and unit_code = ? and person_code = ?")
    print(con.execute(sql, sys.argv[2:5]).fetchone()[0], flush=True)
    sys.stdin.readline()   # a notebook keeps the file open during the run
    print(con.execute(sql, sys.argv[2:5]).fetchone()[0], flush=True)
    """
)


def test_a_corrected_submission_changes_the_published_results_while_a_reader_holds_the_file(
    published_city: Path, tmp_path: Path
) -> None:
    from pipelines.cli.runner import run_quarters

    data = copy_data_dir(published_city, tmp_path / "data")
    lay = layout(data / "warehouse")
    unit, person = _correct_one_rating(data)
    sql = EVAL_SCORE_SQL
    before = _scalar(lay.published, sql, [QUARTER, unit, person])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(lay.published), QUARTER, unit, person],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert float(reader.stdout.readline()) == pytest.approx(before)
        with pipeline_env(data):
            stages: list[str] = []
            run_quarters(
                [QUARTER],
                progress=lambda _m: None,
                on_stage=lambda s, q, t: stages.append(s),
                report_quarters=[],
            )
        after = _scalar(lay.published, sql, [QUARTER, unit, person])
        assert after < before - 10  # every tier now says 60
        county = _scalar(lay.published, "select county_code from marts.dim_unit where unit_code = ?", [unit])
        assert _scalar(lay.counties / f"{county}.duckdb", sql, [QUARTER, unit, person]) == pytest.approx(
            after
        )
        # One launch of the quarterly job, its steps reported in execution order; no report asked for.
        assert stages[0] == "reference" and "report" not in stages
        # the deliverables are written from the published warehouse, so they come after publishing
        assert [s for s in stages if s != "deliverables"][-1] == "publish"
        assert stages.index("publish") < stages.index("deliverables")
        assert {"ingest", "findings", "dbt"} <= set(stages)
        assert stages.index("publish") > max(i for i, s in enumerate(stages) if s == "dbt")
        out, _ = reader.communicate("go\n", timeout=30)
        assert float(out.strip()) == pytest.approx(before)  # the open session kept its snapshot
    finally:
        reader.kill()


def test_a_failing_blocking_check_stops_publication(
    published_city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = copy_data_dir(published_city, tmp_path / "data")
    lay = layout(data / "warehouse")
    leaky = tmp_path / "leaky.duckdb"
    shutil.copyfile(lay.work, leaky)
    with duckdb.connect(str(leaky)) as con:  # a bug that lets a national ID through into a mart
        con.execute(
            "update marts.fct_person_quarter set person_code = '37160219900307123X' "
            "where rowid = (select min(rowid) from marts.fct_person_quarter)"
        )
    before = (lay.current.resolve(), lay.published.read_bytes())
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(data))
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(leaky))
    with dg.instance_for_test() as instance:
        result = dg.materialize([publish_assets.warehouse_publish], instance=instance, raise_on_error=False)
    assert not result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {c.name for c in publish_assets.RELEASE_CHECKS}
    failed = {e.check_name for e in evaluations if not e.passed}
    assert failed == {"no_national_ids_published"}
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert publish_assets.RELEASE_KEY in materialised and publish_assets.PUBLISHED_KEY not in materialised
    assert (lay.current.resolve(), lay.published.read_bytes()) == before
    assert (lay.current / COUNTIES_NAME).exists()


def test_the_command_shows_progress_and_a_summary_and_keeps_tool_output_in_the_log(
    published_city: Path, tmp_path: Path
) -> None:
    """`assessment run` on a city where one unit's only file is broken: progress lines for files, dbt
    nodes and publishing, then the summary with the rejected file's first reason; dbt's and Dagster's
    own lines only in the run log."""
    data = copy_data_dir(published_city, tmp_path / "data")
    landing = data / "landing" / QUARTER
    status = pl.read_parquet(data / "raw" / "unit_status" / f"{QUARTER}.parquet")
    unit = status.filter(pl.col("status") == "missing").sort("unit_code")["unit_code"][0]
    (landing / unit).mkdir()
    (landing / unit / f"{unit}-平时考核.xlsx").write_bytes(b"not a workbook at all")  # its only file
    env = {**os.environ, "ASSESSMENT_DATA_DIR": str(data), "DAGSTER_HOME": str(data / ".dagster")}
    env.pop("ASSESSMENT_DUCKDB", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "assessment"), "run", "--quarter", QUARTER, "--no-report"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Deliveries of the quarter (a workbook, or a unit's folder of CSV files), all done at the end.
    ingested = re.search(r"接收文件 files ingested\s.*?(\d+)/(\d+)", out)
    assert ingested is not None, out
    assert ingested.group(1) == ingested.group(2)
    assert int(ingested.group(2)) >= sum(1 for p in landing.iterdir() if p.is_dir())
    assert "数据模型 dbt nodes" in out and re.search(r"✓ \S+ 发布 publishing ", out), out
    assert "运行摘要 run summary" in out and "退回的文件 rejected files" in out
    rejected_line = next(line for line in out.splitlines() if line.strip().startswith(f"{QUARTER} {unit}"))
    assert f"{unit}-平时考核.xlsx" in rejected_line and rejected_line.split(": ", 1)[1].strip()
    assert "高 high" in out or "rating findings: 0" in out
    assert str(layout(data / "warehouse").published) in out
    # Tool noise went to the log, not the terminal.
    for noise in ("Running with dbt", "STEP_START", "Concurrency:"):
        assert noise not in out and noise not in done.stderr
    (log,) = (data / "logs").glob("run-*.log")
    assert str(log) in out
    text = log.read_text(encoding="utf-8")
    assert "Running with dbt" in text and "STEP_START" in text
