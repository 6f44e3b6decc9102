"""The report's notebook started early (pipelines/report/render.py, `prestart`): the render that follows
takes that execution and writes the report as it would have; an execution for another warehouse, or
nobody's, is stopped and leaves nothing behind; and in a Dagster run of the two steps after publishing,
the deliverables step starts it for the report step that follows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.report import render
from pipelines.report.render import (
    ReportError,
    export_html,
    made_with_demo_key,
    prestart,
    render_report,
    report_path,
    report_title,
    with_demo_banner,
)
from tests.conftest import copy_data_dir, pipeline_env
from tests.notebooks.conftest import PublishedWarehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
QUARTER = "2025Q3"
ROOT = Path(__file__).resolve().parents[2]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name) if folder.exists() else []


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie (exited, not yet reaped by its parent) counts as gone
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def test_the_render_takes_the_prestarted_execution(
    published_warehouse: PublishedWarehouse, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert prestart(QUARTER, published_warehouse.path, out)
    started = render._PRESTARTED[report_path(QUARTER, out).resolve()]
    said: list[str] = []
    html = render_report(QUARTER, published_warehouse.path, out, progress=said.append)
    assert any("started" in line and "ago" in line for line in said), said
    assert started.process.returncode == 0 and not render._PRESTARTED
    assert html == report_path(QUARTER, out) and html.with_suffix(".json").is_file()
    assert _leftovers(html.parent) == []
    # the page is what the sequential render makes of the executed notebook
    fresh = export_html(html.with_suffix(".ipynb"), report_title(QUARTER))
    if made_with_demo_key(published_warehouse.path):
        fresh = with_demo_banner(fresh)
    page = html.read_text(encoding="utf-8")
    assert page == fresh
    assert page.count('class="plotly-graph-div"') >= 6 and page.count("* plotly.js v") == 1
    # a report on record: nothing is started early (it may well be kept as it is)
    assert not prestart(QUARTER, published_warehouse.path, out) and not render._PRESTARTED


def test_an_execution_for_another_warehouse_is_stopped(
    published_warehouse: PublishedWarehouse, tmp_path: Path
) -> None:
    older = tmp_path / "older.duckdb"
    shutil.copyfile(published_warehouse.path, older)
    out = tmp_path / "out"
    assert prestart(QUARTER, older, out)
    stale = render._PRESTARTED[report_path(QUARTER, out).resolve()]
    html = render_report(QUARTER, published_warehouse.path, out)
    assert stale.process.returncode is not None and not stale.output.exists()
    assert not render._PRESTARTED and html.is_file() and _leftovers(html.parent) == []
    assert str(published_warehouse.path.resolve()) in html.with_suffix(".ipynb").read_text(encoding="utf-8")


def test_a_prestarted_failure_names_the_failing_cell(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a warehouse without any table
    out = tmp_path / "out"
    assert prestart(QUARTER, empty, out)
    with pytest.raises(ReportError, match=r"cell \d+") as info:
        render_report(QUARTER, empty, out)
    assert "CatalogException" in str(info.value)
    folder = out / QUARTER
    assert (folder / f"report-{QUARTER}.failed.ipynb").is_file()
    assert not report_path(QUARTER, out).exists() and _leftovers(folder) == []


def test_an_execution_nobody_takes_is_stopped_when_the_process_exits(
    published_warehouse: PublishedWarehouse, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        from pipelines.report import render
        assert render.prestart({QUARTER!r}, {str(published_warehouse.path)!r}, {str(out)!r})
        (started,) = render._PRESTARTED.values()
        print(started.process.pid, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    child = int(done.stdout.split()[0])
    assert _gone(child)
    assert _leftovers(out / QUARTER) == [] and not report_path(QUARTER, out).exists()


@pytest.fixture(scope="module")
def city_without_report(published_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the published city whose last quarter's report was never rendered."""
    root = copy_data_dir(published_city, tmp_path_factory.mktemp("prestart") / "city")
    shutil.rmtree(root / "reports" / "2025Q4")
    return root


def _messages(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.step_key == step and e.user_message]


def test_a_run_of_both_steps_starts_the_report_in_the_deliverables_step(city_without_report: Path) -> None:
    from pipelines.definitions import defs
    from pipelines.defs.deliverables.assets import DELIVERABLES_KEY
    from pipelines.defs.report.assets import REPORT_KEY
    from pipelines.ops import project_instance

    with pipeline_env(city_without_report):
        instance = project_instance()
        job = defs().resolve_job_def("quarterly_pipeline")
        # the deliverables alone: nothing of the report's is started
        alone = job.execute_in_process(
            instance=instance, partition_key="2025Q4", asset_selection=[DELIVERABLES_KEY]
        )
        assert alone.success
        assert not any("report" in m for m in _messages(instance, alone.run_id, "deliverables__quarter"))
        assert not (city_without_report / "reports" / "2025Q4").exists() and not render._PRESTARTED
        # both, as the operator command's last launch runs them: the deliverables step runs first
        both = job.execute_in_process(
            instance=instance, partition_key="2025Q4", asset_selection=[DELIVERABLES_KEY, REPORT_KEY]
        )
        assert both.success
    order = [e.step_key for e in both.all_events if e.event_type_value == "STEP_START"]
    assert order == ["deliverables__quarter", "report__quarterly"]
    assert any(
        "report notebook started" in m for m in _messages(instance, both.run_id, "deliverables__quarter")
    )
    assert any("ago" in m for m in _messages(instance, both.run_id, "report__quarterly"))
    materialized = {e.asset_key for e in both.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert materialized == {DELIVERABLES_KEY, REPORT_KEY}
    html = report_path("2025Q4", city_without_report / "reports")
    assert html.is_file() and html.with_suffix(".json").is_file() and _leftovers(html.parent) == []
    assert not render._PRESTARTED
