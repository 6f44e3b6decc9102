"""Render the quarterly report: execute notebooks/quarterly_report.ipynb for one quarter with papermill
and export it as one standalone HTML file (no code, plotly.js inline, no CDN) leadership opens offline.

    <out_dir>/<quarter>/report-<quarter>.html    the report
    <out_dir>/<quarter>/report-<quarter>.ipynb   the executed notebook it was made from

    <out_dir>/<quarter>/report-<quarter>.json     the fingerprint of what it shows (fingerprint.py)

Both are written to a temporary name first and renamed into place, so a reader never sees half a file
and a failed run leaves the previous report untouched (the failed notebook is kept as
report-<quarter>.failed.ipynb for debugging).

A report whose fingerprint is unchanged (same figures, same code) is not rendered again: the run keeps
the HTML as it is.

A first render can be started early: `prestart(quarter, warehouse, out_dir)` starts executing the
notebook in a child process (`python -m pipelines.report.execute`) and returns; the next
`render_report` of this process for the same quarter, warehouse file and folder waits for that
execution instead of running its own, then exports and writes as usual. The Dagster run uses it to run
the kernel while the deliverables are written (pipelines/defs/report/assets.py). An execution nobody
takes is stopped, and its file removed, when the process exits.

papermill is told not to save the notebook after every cell (with plotly.js inline the notebook is
megabytes, and each save serialises and validates all of it); the executed notebook is written once,
and exported from memory (read back once when a child executed it, below).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
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


# The exit code of `python -m pipelines.report.execute` when a cell failed (the ReportError's message
# is in failure_message_path(output)); any other failure exits 1 with its traceback on standard error.
CELL_FAILED_EXIT = 3


class Execution:
    """The report notebook executing for `quarter` on `warehouse` in a child process
    (`python -m pipelines.report.execute`), into `output`, a temporary name beside the report.

    A child rather than papermill on a thread of this process: the step that starts it goes on with its
    own work in this process (pure Python, which a thread would compete with for the interpreter), and
    the child can be stopped whatever it is doing."""

    def __init__(self, quarter: str, warehouse: Path, html_path: Path, timeout: int) -> None:
        self.quarter = quarter
        self.warehouse = warehouse
        self.html_path = html_path
        self.output = html_path.with_name(f"{html_path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.ipynb")
        self.started = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "pipelines.report.execute",
            quarter,
            str(warehouse),
            str(self.output),
            str(timeout),
        ]
        # The kernel inherits the child's standard streams (as it inherited this process's): no pipe
        # here, which the kernel would hold open after the child is gone.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def notebook(self) -> Any:
        """The executed notebook once the child is done; ReportError when a cell failed (the failed
        notebook is left at `output`, as papermill leaves it)."""
        import nbformat

        code = self.process.wait()
        if code == CELL_FAILED_EXIT:
            message_file = failure_message_path(self.output)
            message = message_file.read_text(encoding="utf-8")
            message_file.unlink(missing_ok=True)
            raise ReportError(message)
        if code != 0:
            raise ReportError(f"报告生成失败 / the report's notebook process failed (exit code {code})")
        return nbformat.read(str(self.output), as_version=4)

    def cancel(self) -> None:
        """Stop the child (if it still runs) and remove what it wrote. Its kernel, in a session of its
        own, stops by itself within a second of losing its parent (ipykernel's parent poller)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.output.unlink(missing_ok=True)
        failure_message_path(self.output).unlink(missing_ok=True)


def failure_message_path(output: Path) -> Path:
    """Where `python -m pipelines.report.execute` leaves the ReportError's message of a failed cell."""
    return output.with_name(output.name + ".error")


_PRESTARTED: dict[Path, Execution] = {}  # by the report's HTML path


def prestart(quarter: str, warehouse: Path, out_dir: Path, *, timeout: int = 600) -> bool:
    """Start executing the report notebook now, for the next render_report(quarter, warehouse, out_dir)
    of this process (see the module's docstring). Only for a first render (nothing recorded beside the
    report): with a recorded fingerprint the report may well be kept as it is, and the execution would
    be work thrown away. True when it started."""
    quarter = quarter.strip().upper()
    if not _QUARTER_RE.match(quarter):
        raise ValueError(f"a quarter looks like 2025Q3, got {quarter!r}")
    warehouse = Path(warehouse).expanduser().resolve()
    html_path = report_path(quarter, out_dir).resolve()
    if not warehouse.is_file() or html_path.with_suffix(".json").exists():
        return False
    earlier = _PRESTARTED.pop(html_path, None)
    if earlier is not None:
        earlier.cancel()
    html_path.parent.mkdir(parents=True, exist_ok=True)
    _PRESTARTED[html_path] = Execution(quarter, warehouse, html_path, timeout)
    return True


def _take_prestarted(quarter: str, warehouse: Path, html_path: Path) -> Execution | None:
    """The execution started for this very render, if any; one started for another warehouse file (a
    newer release) is stopped."""
    found = _PRESTARTED.pop(html_path.resolve(), None)
    if found is not None and (found.quarter, found.warehouse) != (quarter, warehouse):
        found.cancel()
        return None
    return found


@atexit.register
def _cancel_prestarted() -> None:
    while _PRESTARTED:
        _PRESTARTED.popitem()[1].cancel()


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
    prestarted = _take_prestarted(quarter, warehouse, html_path)
    demo = made_with_demo_key(warehouse)
    if not force and html_path.with_suffix(".json").is_file():
        if prestarted is not None:  # recorded since it started (another process rendered it): not needed
            prestarted.cancel()
        value = _fingerprint(quarter, warehouse, demo)
        if _current(html_path, value):
            say(f"report {quarter} unchanged (same figures, same code): kept {html_path}")
            return html_path
        return _render(quarter, warehouse, html_path, demo, lambda: value, say, timeout)
    # Nothing recorded to compare with (a first render, or forced): the fingerprint is only recorded, so
    # it is computed while the kernel runs the notebook and this process waits anyway (_render).
    return _render(
        quarter,
        warehouse,
        html_path,
        demo,
        lambda: _fingerprint(quarter, warehouse, demo),
        say,
        timeout,
        prestarted,
    )


def _render(
    quarter: str,
    warehouse: Path,
    html_path: Path,
    demo: bool,
    fingerprint: Callable[[], str | None],
    say: Callable[[str], None],
    timeout: int,
    prestarted: Execution | None = None,
) -> Path:
    folder = html_path.parent
    executed = html_path.with_suffix(".ipynb")
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    started = time.perf_counter()
    exporter = None
    if prestarted is None:
        say(f"executing {REPORT_NOTEBOOK.name} for {quarter} on {warehouse} …")
        tmp_nb = folder / f"{executed.stem}{tag}.ipynb"

        def run() -> Any:
            return execute_notebook(tmp_nb, quarter, warehouse, timeout)

    else:
        ago = started - prestarted.started
        say(f"executing {REPORT_NOTEBOOK.name} for {quarter} on {warehouse} (started {ago:.1f}s ago) …")
        tmp_nb = prestarted.output
        run = prestarted.notebook
    # The kernel runs the notebook while this process waits: the fingerprint is computed meanwhile, on a
    # thread. When the kernel runs in a prestarted child, this process first imports nbconvert and
    # compiles the report's templates (~0.3 s the export then does not spend), before the thread starts,
    # not beside it: two threads importing the same modules (nbformat's, jupyter_client's) can see one
    # half-imported.
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            if prestarted is not None:
                exporter = warmed_exporter()
            recorded = pool.submit(fingerprint)
            nb = run()
        except BaseException:
            if prestarted is not None and prestarted.process.poll() is None:
                prestarted.cancel()  # failed or interrupted here: the child stops with us
            if tmp_nb.exists():
                tmp_nb.replace(folder / f"report-{quarter}.failed.ipynb")
            raise
        say(f"  executed in {time.perf_counter() - started:.1f}s")
        say("exporting HTML …")
        html = export_html(nb, report_title(quarter), exporter=exporter)
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
    _record(html_path, recorded.result())
    say(f"  wrote {html_path} ({html_path.stat().st_size / 1e6:.1f} MB)")
    return html_path


def execute_notebook(output: Path, quarter: str, warehouse: Path, timeout: int) -> Any:
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


def report_exporter() -> Any:
    """The nbconvert exporter of the report: its template, no code, no prompts."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def warmed_exporter() -> Any:
    """report_exporter() after one export of a one-cell notebook: nbconvert imported, the templates
    loaded and compiled. An exporter converts any number of notebooks (nbconvert's own command line
    converts many with one); the templates it compiled are the same for every notebook."""
    import nbformat

    exporter = report_exporter()
    sample = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("#")])
    exporter.from_notebook_node(sample, resources={"language_code": "zh-CN"})
    return exporter


def export_html(notebook: Path | Any, title: str, *, exporter: Any = None) -> str:
    """The executed notebook (a file, or the notebook node papermill returned, which is pruned in place:
    papermill has written the file already) as standalone HTML: no code, no prompts, no stderr, no CDN
    scripts. `exporter`: a report_exporter() to use (one warmed beforehand), else a new one."""
    import nbformat

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
    if exporter is None:
        exporter = report_exporter()
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
