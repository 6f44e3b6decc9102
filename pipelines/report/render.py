"""Render the quarterly report: execute notebooks/quarterly_report.ipynb for one quarter with papermill
and export it as one standalone HTML file (no code, plotly.js inline, no CDN) leadership opens offline.

    <out_dir>/<quarter>/report-<quarter>.html    the report
    <out_dir>/<quarter>/report-<quarter>.ipynb   the executed notebook it was made from

    <out_dir>/<quarter>/report-<quarter>.json     the fingerprint of what it shows (fingerprint.py)

Both are written to a temporary name first and renamed into place, so a reader never sees half a file
and a failed run leaves the previous report untouched (the failed notebook is kept as
report-<quarter>.failed.ipynb for debugging).

A report whose fingerprint is unchanged (same figures, same code) is not rendered again: the run keeps
the HTML as it is. papermill is told not to save the notebook after every cell (with plotly.js inline
the notebook is megabytes, and each save serialises and validates all of it); the executed notebook is
written once, and exported from memory.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipelines.paths import PROJECT_ROOT, data_dir

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORT_NOTEBOOK = NOTEBOOKS_DIR / "quarterly_report.ipynb"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "assessment_report"
KERNEL_NAME = "python3"
_QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")


DEMO_BANNER = (
    '<div id="demo-key-banner" style="background:#b71c1c;color:#fff;font-size:18px;font-weight:bold;'
    'padding:12px 16px;margin-bottom:16px;">演示数据：人员代码由公开的演示密钥生成，本报告不得用于真实考核 / '
    "DEMO DATA: person keys were made with the public demo key; not for real use.</div>"
)
_BODY_OPEN = re.compile(r"<body[^>]*>", re.IGNORECASE)


def made_with_demo_key(warehouse: Path) -> bool:
    """The release the warehouse file belongs to says so (release.json); a file outside a release
    (a build, a copy) counts as demo when this process runs in demo mode."""
    from pipelines.ingest.pseudonym import demo_mode
    from pipelines.publish.warehouse import RELEASE_MANIFEST, read_manifest

    release = Path(warehouse).resolve().parent
    if (release / RELEASE_MANIFEST).exists():
        return bool(read_manifest(release).get("demo_key", False))
    return demo_mode()


def with_demo_banner(html: str) -> str:
    """The banner as the first thing in the page body."""
    match = _BODY_OPEN.search(html)
    at = match.end() if match else 0
    return html[:at] + DEMO_BANNER + html[at:]


class ReportError(RuntimeError):
    """The report notebook failed; the message names the failing cell."""


def default_out_dir() -> Path:
    return data_dir() / "reports"


def report_path(quarter: str, out_dir: Path) -> Path:
    """Where the HTML report of `quarter` is written."""
    return Path(out_dir) / quarter / f"report-{quarter}.html"


def fingerprint_path(quarter: str, out_dir: Path) -> Path:
    """Where the fingerprint of the report of `quarter` is kept (beside the HTML)."""
    return report_path(quarter, out_dir).with_suffix(".json")


def _current(html_path: Path, value: str | None) -> bool:
    """The HTML there is the one rendered for fingerprint `value` (and nobody replaced it since)."""
    if value is None:
        return False
    try:
        recorded = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))
        stat = html_path.stat()
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded == {
        "fingerprint": value,
        "html_size": stat.st_size,
        "html_mtime_ns": stat.st_mtime_ns,
    }


def _record(html_path: Path, value: str | None) -> None:
    side = html_path.with_suffix(".json")
    if value is None:
        side.unlink(missing_ok=True)
        return
    stat = html_path.stat()
    facts = {"fingerprint": value, "html_size": stat.st_size, "html_mtime_ns": stat.st_mtime_ns}
    tmp = side.with_name(f"{side.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    tmp.replace(side)


def _fingerprint(quarter: str, warehouse: Path, demo: bool) -> str | None:
    """The report's fingerprint, or None when it cannot be made (the warehouse cannot answer the report's
    queries: then the notebook runs and its error names the failing cell). The fingerprint only saves
    work: whatever goes wrong making it, the report is rendered, and rendered again next time."""
    from pipelines.report.fingerprint import report_fingerprint

    try:
        return report_fingerprint(quarter, warehouse, REPORT_NOTEBOOK, demo_banner=demo)
    except Exception:  # see above: never a reason not to render
        return None


def report_title(quarter: str) -> str:
    return f"{quarter[:4]}年第{quarter[-1]}季度 公务员平时考核季度报告"


def render_report(
    quarter: str,
    warehouse: Path,
    out_dir: Path,
    *,
    progress: Callable[[str], None] | None = None,
    timeout: int = 600,
    force: bool = False,
) -> Path:
    """Execute the report notebook for `quarter` against `warehouse`; return the HTML file written (or
    kept: unless `force`, a report whose figures and code did not change is not rendered again)."""
    say = progress or (lambda _msg: None)
    quarter = quarter.strip().upper()
    if not _QUARTER_RE.match(quarter):
        raise ValueError(f"a quarter looks like 2025Q3, got {quarter!r}")
    warehouse = Path(warehouse).expanduser().resolve()
    if not warehouse.is_file():
        raise FileNotFoundError(f"找不到数仓文件 / no warehouse file at {warehouse}")
    html_path = report_path(quarter, out_dir)
    folder = html_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    demo = made_with_demo_key(warehouse)
    if not force and html_path.with_suffix(".json").is_file():
        value = _fingerprint(quarter, warehouse, demo)
        if _current(html_path, value):
            say(f"report {quarter} unchanged (same figures, same code): kept {html_path}")
            return html_path
        return _render(quarter, warehouse, html_path, demo, lambda: value, say, timeout)
    # Nothing recorded to compare with (a first render, or forced): the fingerprint is only recorded, so
    # it is computed on a thread while the kernel runs the notebook and this process waits anyway.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_fingerprint, quarter, warehouse, demo)
        return _render(quarter, warehouse, html_path, demo, pending.result, say, timeout)


def _render(
    quarter: str,
    warehouse: Path,
    html_path: Path,
    demo: bool,
    fingerprint: Callable[[], str | None],
    say: Callable[[str], None],
    timeout: int,
) -> Path:
    folder = html_path.parent
    executed = html_path.with_suffix(".ipynb")
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    say(f"executing {REPORT_NOTEBOOK.name} for {quarter} on {warehouse} …")
    started = time.perf_counter()
    tmp_nb = folder / f"{executed.stem}{tag}.ipynb"
    try:
        nb = _execute(tmp_nb, quarter, warehouse, timeout)
    except BaseException:
        if tmp_nb.exists():
            tmp_nb.replace(folder / f"report-{quarter}.failed.ipynb")
        raise
    say(f"  executed in {time.perf_counter() - started:.1f}s")

    say("exporting HTML …")
    html = export_html(nb, report_title(quarter))
    if demo:
        html = with_demo_banner(html)
    tmp_html = folder / f"{html_path.stem}{tag}.html"
    try:
        tmp_html.write_text(html, encoding="utf-8")
        tmp_nb.replace(executed)
        tmp_html.replace(html_path)
    finally:
        for leftover in (tmp_nb, tmp_html):
            leftover.unlink(missing_ok=True)
    _record(html_path, fingerprint())
    say(f"  wrote {html_path} ({html_path.stat().st_size / 1e6:.1f} MB)")
    return html_path


def _execute(output: Path, quarter: str, warehouse: Path, timeout: int) -> Any:
    """The executed notebook (also written to `output`, once at the end, or on failure)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        return pm.execute_notebook(
            str(REPORT_NOTEBOOK),
            str(output),
            parameters={"quarter": quarter, "warehouse": str(warehouse)},
            kernel_name=KERNEL_NAME,
            cwd=str(NOTEBOOKS_DIR),
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            request_save_on_cell_execute=False,
            # The kernel inherits the operator's terminal as stderr, and its own log is noise there:
            # at the default level it warns on every start that its local TCP sockets are unencrypted
            # (ipykernel 7); at ERROR it still reports "KeyboardInterrupt caught in kernel" when the
            # interrupt jupyter_client sends before every shutdown lands while a handler is running
            # (a race, seen after a failed cell). The report's own failures come back through
            # papermill (cell errors with their traceback; a dead kernel as DeadKernelError).
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            # The kernel is killed once the notebook has run rather than asked to stop: a graceful stop
            # interrupts it, asks it to shut down and waits for it to exit (~0.5 s of every report).
            # Nothing is lost: every cell's outputs have arrived (nbclient waits for each cell's idle
            # status and then for a kernel_info reply), and the kernel holds only a read-only connection.
            shutdown_kernel="immediate",
        )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"报告生成失败 / the report notebook failed in cell {exc.cell_index} "
            f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"executed notebook with the traceback: {output.parent / f'report-{quarter}.failed.ipynb'}"
        ) from exc


def export_html(notebook: Path | Any, title: str) -> str:
    """The executed notebook (a file, or the notebook node papermill returned, which is pruned in place:
    papermill has written the file already) as standalone HTML: no code, no prompts, no stderr, no CDN
    scripts."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, str | Path) else notebook
    kept = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue  # an empty box in a report without code
        kept.append(cell)
    nb.cells = kept
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _resources = exporter.from_notebook_node(nb, resources={"language_code": "zh-CN"})
    return body


def main(argv: list[str] | None = None) -> int:
    import argparse

    from pipelines.analysis import warehouse_path

    parser = argparse.ArgumentParser(
        prog="python -m pipelines.report",
        description="Render the quarterly assessment report (standalone HTML) for one quarter.",
    )
    parser.add_argument("--quarter", required=True, help="quarter key, e.g. 2025Q4")
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: the published one)"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <data dir>/reports)")
    parser.add_argument(
        "--force", action="store_true", help="render even when the figures and the code did not change"
    )
    args = parser.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, flush=True)

    try:
        path = render_report(
            args.quarter,
            args.warehouse or warehouse_path(),
            args.out or default_out_dir(),
            progress=say,
            force=args.force,
        )
    except (ReportError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    say(f"report: {path}")
    return 0
