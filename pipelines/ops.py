"""The operator's command line: the quarterly routine without remembering Dagster selections.

    uv run python -m pipelines.ops demo                     # generate the demo city and run everything
    uv run python -m pipelines.ops run --quarter 2025Q3      # ingest + rebuild one quarter, then publish
    uv run python -m pipelines.ops run --all                 # every quarter found in the landing area
    uv run python -m pipelines.ops status --quarter 2025Q3   # who submitted, who is late, where receipts are
    uv run python -m pipelines.ops where                     # where every output lives

Runs go through the real Dagster jobs (`reference`, `ingest`, `quality`, `warehouse_quarter`,
`warehouse_annual`, `publish`, `report`) on the project's Dagster instance, so they appear in the Dagster
UI's run history next to scheduled runs. All jobs of one command share one build file (run tag
`warehouse/build`); the `publish` job stages a release from it, runs the blocking checks and only then
switches analysts to it. Dagster's and dbt's own output goes to a log file under data/logs/; the terminal
gets one line per step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines import runlock
from pipelines.domain.quarters import parse_quarter, quarter_range
from pipelines.ingest.discover import quarter_folders
from pipelines.ingest.pseudonym import DEMO_ENV, DEMO_WARNING, refusal_for_run
from pipelines.paths import PROJECT_ROOT, data_dir, landing_dir, raw_dir, receipts_dir
from pipelines.publish.warehouse import (
    build_path,
    current_release,
    discard,
    layout,
    read_manifest,
    releases,
    restore,
)

DUCKDB_ENV = "ASSESSMENT_DUCKDB"
BUILD_TAG = "warehouse/build"
DEMO_QUARTERS = "2025Q1..2025Q4"
StageHook = Callable[[str, str | None, float], None]
# The job behind each timed stage (the benchmark reads these names).
STAGES = {
    "reference": "reference",
    "ingest": "ingest",
    "quality": "findings",
    "warehouse_quarter": "dbt",
    "warehouse_annual": "dbt",
    "publish": "publish",
    "report": "report",
}


def _say(msg: str) -> None:
    print(msg, flush=True)


def project_instance() -> dg.DagsterInstance:
    """The project's Dagster instance (.dagster/ unless DAGSTER_HOME says otherwise)."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return dg.DagsterInstance.get()


def _definitions() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs()


def logs_dir() -> Path:
    return data_dir() / "logs"


class StepLog:
    """Where Dagster's and dbt's own output goes while the terminal shows one line per step."""

    def __init__(self) -> None:
        logs_dir().mkdir(parents=True, exist_ok=True)
        self.path = logs_dir() / f"ops-{datetime.now().strftime('%Y%m%d-%H%M%S')}.log"

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        if os.environ.get("ASSESSMENT_VERBOSE"):  # everything on the terminal, as Dagster prints it
            yield
            return
        # At the file-descriptor level too: dbt and the notebook kernel are child processes that
        # write straight to fds 1 and 2.
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        with self.path.open("a", encoding="utf-8") as fh:
            os.dup2(fh.fileno(), 1)
            os.dup2(fh.fileno(), 2)
            try:
                with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                    yield
            finally:
                fh.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])

    def tail(self, n: int = 25) -> str:
        lines = (
            self.path.read_text(encoding="utf-8", errors="replace").splitlines() if self.path.exists() else []
        )
        return "\n".join(lines[-n:])


def _execute(
    defs: dg.Definitions,
    job: str,
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    log: StepLog,
    partition: str | None = None,
    on_stage: StageHook | None = None,
) -> None:
    label = f"{job} {partition}" if partition else job
    started = time.perf_counter()
    with log.capture():
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=partition, tags=tags, raise_on_error=False
        )
    seconds = time.perf_counter() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        skipped = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"]
        checks = [
            e.asset_check_evaluation_data.check_name
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
        ]
        why = ", ".join(failed) or (f"blocking checks {', '.join(checks)}" if checks else "a step")
        raise RuntimeError(
            f"{label} failed in {why}{' (skipped: ' + ', '.join(skipped) + ')' if skipped else ''}; "
            f"run {result.run_id} in the Dagster UI, log {log.path}\n--- last lines ---\n{log.tail()}"
        )
    _say(f"  {label:<26} ok  {seconds:6.1f} s")
    if on_stage is not None:
        on_stage(STAGES.get(job, job), partition, seconds)


def landed_quarters() -> list[str]:
    """Quarter folders of the landing area; anything else there (a stray 备份 folder) is not a quarter."""
    return _landing_folders()[0]


def _landing_folders() -> tuple[list[str], list[str]]:
    from pipelines.defs.partitions import QUARTER_KEYS

    return quarter_folders(landing_dir(), QUARTER_KEYS)


def run_quarters(
    quarters: Sequence[str],
    progress: Callable[[str], None] = _say,
    on_stage: StageHook | None = None,
    report_quarters: Sequence[str] | None = None,
) -> Path:
    """As `_run_quarters`, holding the data directory's run lock throughout: a second run is refused at
    once (runlock.RunLockedError names the running one), before anything is read or written."""
    with runlock.hold(data_dir()):
        _refuse_if_dagster_writes()
        return _run_quarters(quarters, progress, on_stage, report_quarters)


def _refuse_if_dagster_writes() -> None:
    """A Dagster run holds the lock during its ingest step only: one past it (building, publishing) is
    found in the instance's run list instead."""
    from pipelines.defs.automation.sensors import running_writers

    busy = running_writers(project_instance(), BUILD_TAG)
    if busy:
        raise runlock.RunLockedError(
            data_dir(), None, f"{busy[0]}; if it is dead, mark it failed or terminated in the Dagster UI"
        )


def _run_quarters(
    quarters: Sequence[str],
    progress: Callable[[str], None] = _say,
    on_stage: StageHook | None = None,
    report_quarters: Sequence[str] | None = None,
) -> Path:
    """Ingest and rebuild `quarters`, rebuild the annual models, publish, render the report of the last
    quarter (or `report_quarters`); returns the published file. Nothing is published if any step fails."""
    instance = project_instance()
    defs = _definitions()
    lay = layout()
    log = StepLog()
    build_id = uuid.uuid4().hex[:12]
    tags = {BUILD_TAG: build_id}
    pinned = os.environ.pop(DUCKDB_ENV, None)  # a pinned file would bypass safe publishing
    progress(f"(Dagster and dbt output: {log.path})")
    try:
        progress("reference data")
        _execute(defs, "reference", instance, tags, log, on_stage=on_stage)
        for q in quarters:
            progress(f"quarter {q}")
            for job in ("ingest", "quality", "warehouse_quarter"):
                _execute(defs, job, instance, tags, log, q, on_stage)
        progress("annual results, publishing")
        _execute(defs, "warehouse_annual", instance, tags, log, on_stage=on_stage)
        _execute(defs, "publish", instance, tags, log, on_stage=on_stage)
    except BaseException:
        discard(build_path(build_id, lay))
        progress(f"run failed: the published warehouse {lay.published} is unchanged")
        raise
    finally:
        if pinned is not None:
            os.environ[DUCKDB_ENV] = pinned
    progress(f"published {lay.published}")
    for q in report_quarters if report_quarters is not None else list(quarters)[-1:]:
        _execute(defs, "report", instance, tags, log, q, on_stage)
    return lay.published


def status_table(quarter: str) -> pl.DataFrame:
    """Submission status per unit for a quarter, from the ingested ledger."""
    path = raw_dir() / "unit_status" / f"{parse_quarter(quarter).key}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{quarter} has not been ingested yet (no {path})")
    return pl.read_parquet(path)


def _cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.synthetic.__main__ import main as generate
    from pipelines.warehouse_summary import summary

    os.environ[DEMO_ENV] = "1"  # generated data: the public demo key is allowed, and announced
    _say(DEMO_WARNING)
    _say(f"1/3 generating the demo city ({args.quarters}, seed {args.seed}) …")
    if generate(["--quarters", args.quarters, "--seed", str(args.seed)]) != 0:
        return 2
    _say("2/3 running the pipeline through Dagster …")
    published = run_quarters([q.key for q in quarter_range(args.quarters)])
    _say("3/3 summary\n")
    _say(summary(published))
    _cmd_where(args)
    _say(f"\nnotebooks: uv run jupyter lab notebooks/ (they open {published} read-only)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.all:
        for line in _landing_folders()[1]:
            _say(f"ignored: {line}")
    quarters = landed_quarters() if args.all else [parse_quarter(q).key for q in args.quarter]
    if not quarters:
        print(f"error: nothing to run: no quarter given and none in {landing_dir()}", file=sys.stderr)
        return 2
    if (refused := refusal_for_run(_say)) is not None:  # no key, the demo key or a weak key
        print(refused, file=sys.stderr)
        return 2
    run_quarters(quarters)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    q = parse_quarter(args.quarter).key
    try:
        table = status_table(q)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = dict(table.group_by("status").len().iter_rows())
    _say(f"{q}: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in ("on_time", "late", "rejected", "missing")))
    for row in (
        table.filter(pl.col("status").is_in(["rejected", "missing", "late"]))
        .sort("status", "unit_code")
        .rows(named=True)
    ):
        receipts = receipts_dir() / q / row["unit_code"]
        where = f"  receipts: {receipts}" if receipts.exists() else ""
        _say(f"  {row['status']:<8} {row['unit_code']}{where}")
    return 0


def _cmd_where(_args: argparse.Namespace) -> int:
    lay = layout()
    reports = data_dir() / "reports"
    newest = sorted(reports.glob("*/*.html"))
    _say(
        "\nwhere things are:\n"
        f"  landing area       {landing_dir()}/<quarter>/\n"
        f"  receipts (回执)     {receipts_dir()}/<quarter>/<unit>/\n"
        f"  warehouse          {lay.published}  (analysts open it read-only)\n"
        f"  county extracts    {lay.counties}/<county_code>.duckdb\n"
        f"  quarterly report   {newest[-1] if newest else reports / '<quarter>/'}\n"
        f"  earlier releases   {lay.releases}/  (python -m pipelines.ops releases / restore)\n"
        f"  pipeline logs      {logs_dir()}/\n"
        "  notebooks          uv run jupyter lab notebooks/   (docs/notebooks.md)\n"
        "  Dagster UI         make dev, then http://localhost:3000"
    )
    return 0


def _cmd_releases(_args: argparse.Namespace) -> int:
    current = current_release()
    found = releases()
    if not found:
        _say("nothing has been published yet")
    for release in found:
        facts = read_manifest(release)
        mark = "*" if current is not None and release.resolve() == current else " "
        _say(f"{mark} {release.name}  published {facts.get('published_at', '?')}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    lay = layout()
    release = lay.releases / args.release
    if release not in releases(lay):
        print(
            f"error: no published release {args.release!r} (see: python -m pipelines.ops releases)",
            file=sys.stderr,
        )
        return 2
    restore(release, lay)
    _say(f"analysts now read release {release.name} ({lay.published})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.ops", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate the demo city and run the whole pipeline")
    demo.add_argument("--quarters", default=DEMO_QUARTERS)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)
    run = sub.add_parser("run", help="ingest and rebuild quarters, then publish")
    group = run.add_mutually_exclusive_group(required=True)
    group.add_argument("--quarter", action="append", help="a quarter key, e.g. 2025Q3 (repeatable)")
    group.add_argument("--all", action="store_true", help="every quarter in the landing area")
    run.set_defaults(func=_cmd_run)
    status = sub.add_parser("status", help="submission status of a quarter")
    status.add_argument("--quarter", required=True)
    status.set_defaults(func=_cmd_status)
    where = sub.add_parser("where", help="where the outputs are")
    where.set_defaults(func=_cmd_where)
    sub.add_parser("releases", help="published releases, newest first").set_defaults(func=_cmd_releases)
    restore_cmd = sub.add_parser("restore", help="publish an earlier release again")
    restore_cmd.add_argument("--release", required=True, help="a release name from `releases`")
    restore_cmd.set_defaults(func=_cmd_restore)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except runlock.RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
