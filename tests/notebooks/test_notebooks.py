"""Every notebook in notebooks/ runs without a cell error against a small published warehouse, and the
quarterly report renders to standalone HTML (no code, Chinese headings, plotly.js inline, no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import nbformat
import papermill as pm
import pytest

from pipelines.report.render import (
    NOTEBOOKS_DIR,
    REPORT_NOTEBOOK,
    ReportError,
    export_html,
    made_with_demo_key,
    render_report,
    report_path,
    report_title,
    warmed_exporter,
    with_demo_banner,
)
from tests.notebooks.conftest import PublishedWarehouse

# One xdist worker runs every test of the shared published city, so it is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
REPORT_QUARTER = "2025Q3"  # not the latest: the quarter parameter must be honoured


def _errors(notebook: Path) -> list[str]:
    nb = nbformat.read(str(notebook), as_version=4)
    return [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


@pytest.fixture(scope="module")
def rendered_report(
    published_warehouse: PublishedWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("reports")
    return render_report(REPORT_QUARTER, published_warehouse.path, out)


def test_notebooks_are_committed_without_outputs_and_with_parameters() -> None:
    assert REPORT_NOTEBOOK in NOTEBOOKS and len(NOTEBOOKS) >= 7
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        first = nb.cells[0]
        assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), path.name
        assert "quarter = None" in first.source and "warehouse = None" in first.source, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(
    notebook: Path,
    published_warehouse: PublishedWarehouse,
    rendered_report: Path,
    tmp_path: Path,
) -> None:
    if notebook == REPORT_NOTEBOOK:
        executed = rendered_report.with_suffix(".ipynb")  # render_report ran it with papermill
    else:
        executed = tmp_path / notebook.name
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters={"quarter": None, "warehouse": str(published_warehouse.path)},
            kernel_name="python3",
            cwd=str(NOTEBOOKS_DIR),
            progress_bar=False,
        )
    assert _errors(executed) == []
    nb = nbformat.read(str(executed), as_version=4)
    html = "".join(
        out.get("data", {}).get("text/html", "") for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert "plotly-graph-div" in html, "every notebook draws at least one chart"


def test_report_html_is_standalone(rendered_report: Path, published_warehouse: PublishedWarehouse) -> None:
    assert rendered_report == report_path(REPORT_QUARTER, rendered_report.parent.parent)
    assert rendered_report.is_file() and rendered_report.with_suffix(".ipynb").is_file()
    assert not [p.name for p in rendered_report.parent.iterdir() if ".tmp-" in p.name]
    html = rendered_report.read_text(encoding="utf-8")
    assert REPORT_QUARTER[:4] + "年第" + REPORT_QUARTER[-1] + "季度" in html
    assert re.search(r"<title>[^<]*季度报告[^<]*</title>", html)
    headings = (
        "一、总体情况",
        "二、报送情况",
        "三、等次分布",
        "四、县(市区)考核工作规范指数",
        "六、评议质量",
    )
    assert all(h in html for h in headings)
    # no code: no input areas, no prompts
    assert "hl-ipython3" not in html and not re.search(r'class="[^"]*\bjp-InputArea-editor\b', html)
    assert not re.search(r'class="[^"]*\bjp-(InputPrompt|OutputPrompt)\b', html)
    assert "charts.fig_" not in html and "an.connect(" not in html
    # plotly.js inline exactly once, nothing loaded from a CDN
    assert html.count("* plotly.js v") == 1
    assert not re.search(r"""<script[^>]+src=["'][^"']*cdn\.plot\.ly""", html)
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)
    assert html.count('class="plotly-graph-div"') >= 6


def test_report_html_is_what_a_new_exporter_makes(
    rendered_report: Path, published_warehouse: PublishedWarehouse
) -> None:
    """The page is byte for byte what a new exporter makes of the executed notebook; so is what an
    exporter warmed on another notebook makes of it (a render that was started early exports with one
    warmed while the kernel ran), twice in a row."""
    executed = rendered_report.with_suffix(".ipynb")
    title = report_title(REPORT_QUARTER)
    fresh = export_html(executed, title)
    if made_with_demo_key(published_warehouse.path):
        fresh = with_demo_banner(fresh)
    assert rendered_report.read_text(encoding="utf-8") == fresh
    exporter = warmed_exporter()
    first = export_html(executed, title, exporter=exporter)
    assert first == export_html(executed, title, exporter=exporter) == export_html(executed, title)


def test_report_names_the_failing_cell(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """…and the kernel it starts says nothing on the operator's terminal (its stderr is inherited)."""
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a warehouse without any table
    with pytest.raises(ReportError, match=r"cell \d+") as info:
        render_report("2025Q3", empty, tmp_path / "out")
    assert "CatalogException" in str(info.value)
    assert (tmp_path / "out" / "2025Q3" / "report-2025Q3.failed.ipynb").is_file()
    assert not report_path("2025Q3", tmp_path / "out").exists()
    assert "IPKernelApp" not in capfd.readouterr().err


def test_report_is_kept_when_nothing_it_shows_changed(
    rendered_report: Path, published_warehouse: PublishedWarehouse
) -> None:
    before = rendered_report.stat().st_mtime_ns
    again = render_report(REPORT_QUARTER, published_warehouse.path, rendered_report.parent.parent)
    assert again == rendered_report and rendered_report.stat().st_mtime_ns == before
    forced = render_report(
        REPORT_QUARTER, published_warehouse.path, rendered_report.parent.parent, force=True
    )
    assert forced.stat().st_mtime_ns != before
