"""The terminal side of a run: a rich progress display fed by the runner's events, and the summary."""

from __future__ import annotations

from types import TracebackType

import polars as pl
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

from pipelines.cli.summary import STATUS_LABELS, STATUS_ORDER, RunSummary
from pipelines.paths import receipts_dir

STAGE_LABELS = {
    "reference": "参考数据 reference data",
    "ingest": "接收文件 files ingested",
    "validation": "规则复验 GX suites over raw tables",
    "reviews": "复核登记 review registers",
    "findings": "评议质量 rating findings",
    "dbt": "数据模型 dbt nodes",
    "publish": "发布 publishing",
    "report": "季度报告 report",
    "deliverables": "成果文件 deliverables",
}
DESCRIPTION = Column(width=48, no_wrap=True, overflow="ellipsis")
SINGLE_STEP_STAGES = {
    "ingest_quarter",
    "warehouse_quarter_models",
    "warehouse_annual_models",
    "warehouse_publish",
}
SEVERITY_LABELS = {"high": "高 high", "medium": "中 medium", "low": "低 low"}


class StepMark(SpinnerColumn):
    """A spinner while the step runs, ✓ when it succeeded, ✗ when it failed (a failed step is never
    drawn as done: its bar stops where it was)."""

    def render(self, task: Task) -> RenderableType:
        if task.fields.get("failed"):
            return Text("✗", style="bold red")
        return super().render(task)


class RichProgress:
    """A RunObserver: one line per step, with a bar where the total is known (files, dbt nodes)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            StepMark(finished_text="✓"),
            TextColumn(
                "{task.description}", table_column=Column(width=48, no_wrap=True, overflow="ellipsis")
            ),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=False,  # the runner sends library output to the run log, not above the bars
            redirect_stderr=False,
        )
        self.quarter = ""
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def _label(self, stage: str, step: str) -> str:
        label = STAGE_LABELS.get(stage, stage)
        if step not in SINGLE_STEP_STAGES:  # stages of several steps name the step
            label = f"{label} · {step.split('__')[-1]}"
        return f"{self.quarter} {label}"

    def launch(self, quarter: str, n_steps: int) -> None:
        self.quarter = quarter

    def step_started(self, stage: str, step: str, total: int | None) -> None:
        key = f"{self.quarter}/{step}"
        self.tasks[key] = self.progress.add_task(self._label(stage, step), total=total)

    def step_progress(self, stage: str, step: str, done: int, total: int | None) -> None:
        task = self.tasks.get(f"{self.quarter}/{step}")
        if task is not None:
            self.progress.update(task, completed=done, total=total)

    def step_finished(self, stage: str, step: str, seconds: float, ok: bool) -> None:
        task = self.tasks.get(f"{self.quarter}/{step}")
        if task is None:
            return
        current = self.progress.tasks[self.tasks_index(task)]
        if not ok:  # said first: the label column cuts a long description at 48 cells
            self.progress.update(task, description=f"失败 failed {current.description}", failed=True)
            self.progress.stop_task(task)
            return
        total = current.total if current.total is not None else max(current.completed, 1)
        self.progress.update(task, total=total, completed=total)

    def tasks_index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)


def print_summary(console: Console, summary: RunSummary) -> None:
    """运行摘要 run summary: units by status per quarter, rejected files with their first reason,
    findings by severity, where the outputs are."""
    console.print("\n[bold]运行摘要 run summary[/bold]")
    units = Table(show_edge=False, header_style="bold")
    units.add_column("季度 quarter")
    for status in STATUS_ORDER:
        units.add_column(STATUS_LABELS[status], justify="right")
    for q in summary.quarters:
        units.add_row(q.quarter, *(str(q.counts.get(s, 0)) for s in STATUS_ORDER))
    console.print(units)
    rejected = [(q.quarter, r) for q in summary.quarters for r in q.rejected]
    if rejected:
        console.print(
            "\n[bold]退回的文件 rejected files[/bold]"
            " (第一条原因 first reason; 全部原因见回执 all reasons in the receipts)"
        )
        for quarter, r in rejected:
            console.print(
                f"  {quarter} {r.unit_code} {r.unit_name}（{r.county}） {r.file_name or '-'}: {r.reason}",
                highlight=False,
            )
    if summary.findings:
        parts = ", ".join(f"{SEVERITY_LABELS.get(s, s)} {n}" for s, n in summary.findings.items())
        console.print(f"\n评议质量发现 rating findings: {parts}")
    else:
        console.print("\n评议质量发现 rating findings: 0")
    print_outputs(console, summary.outputs)


def print_outputs(console: Console, outputs: dict[str, str]) -> None:
    console.print("\n[bold]输出位置 where the outputs are[/bold]")
    width = max(cell_len(label) for label in outputs) + 2  # Chinese characters are two cells wide
    for label, where in outputs.items():
        console.print(f"  {label}{' ' * (width - cell_len(label))}{where}", highlight=False)


def print_status(console: Console, quarter: str, table: pl.DataFrame, show_all: bool) -> None:
    counts = dict(table.group_by("status").len().iter_rows())
    console.print(
        f"{quarter}: " + ", ".join(f"{STATUS_LABELS[s]} {counts.get(s, 0)}" for s in STATUS_ORDER),
        highlight=False,
    )
    console.print(f"回执 receipts: {receipts_dir() / quarter}/<单位编码 unit>/", highlight=False)
    shown = table if show_all else table.filter(pl.col("status") != "on_time")
    if shown.is_empty():
        return
    out = Table(show_edge=False, header_style="bold")
    out.add_column("状态 status", no_wrap=True)
    out.add_column("单位编码 unit", no_wrap=True)
    out.add_column("单位名称 name", min_width=24)
    out.add_column("区县 county", no_wrap=True)
    out.add_column("回执", no_wrap=True)
    for row in shown.iter_rows(named=True):
        out.add_row(
            STATUS_LABELS.get(row["status"], row["status"]),
            row["unit_code"],
            row["unit_name"] or "",
            row["county"] or "",
            "✓" if row["receipts"] else "",
        )
    console.print(out)
