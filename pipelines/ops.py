"""The operator's command line: the quarterly routine without remembering Dagster selections.

    uv run python -m pipelines.ops demo                     # generate the demo city and run everything
    uv run python -m pipelines.ops run --quarter 2025Q3      # ingest + rebuild one quarter, then publish
    uv run python -m pipelines.ops run --all                 # every quarter found in the landing area
    uv run python -m pipelines.ops status --quarter 2025Q3   # who submitted, who is late, where receipts are
    uv run python -m pipelines.ops where                     # where every output lives

Runs go through the real Dagster jobs (`reference`, `ingest`, `warehouse_quarter`, `warehouse_annual`) on the
project's Dagster instance, so they appear in the Dagster UI's run history like scheduled runs. Every run
builds into a fresh copy of the warehouse and publishes it only when every step succeeded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.domain.quarters import parse_quarter, quarter_range
from pipelines.paths import PROJECT_ROOT, data_dir, landing_dir, raw_dir, receipts_dir
from pipelines.publish.warehouse import discard, layout, publish, start_build

DUCKDB_ENV = "ASSESSMENT_DUCKDB"
DEMO_QUARTERS = "2025Q1..2025Q4"


def _say(msg: str) -> None:
    print(msg, flush=True)


def _instance() -> dg.DagsterInstance:
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


def _execute(
    defs: dg.Definitions, job: str, instance: dg.DagsterInstance, partition: str | None = None
) -> None:
    label = f"{job} {partition}" if partition else job
    started = time.perf_counter()
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=partition, raise_on_error=False
    )
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise RuntimeError(
            f"{label} failed in {', '.join(failed) or 'a step'}; see the run in the Dagster UI"
        )
    _say(f"  {label}: ok in {time.perf_counter() - started:.1f}s (run {result.run_id[:8]})")


def landed_quarters() -> list[str]:
    root = landing_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def run_quarters(quarters: Sequence[str], progress: Callable[[str], None] = _say) -> Path:
    """Ingest and rebuild `quarters`, rebuild the annual models, publish; returns the published file."""
    instance = _instance()
    defs = _definitions()
    lay = layout()
    build = start_build(lay)
    previous = os.environ.get(DUCKDB_ENV)
    os.environ[DUCKDB_ENV] = str(build)
    try:
        progress("reference data")
        _execute(defs, "reference", instance)
        for q in quarters:
            progress(f"quarter {q}")
            _execute(defs, "ingest", instance, q)
            _execute(defs, "quality", instance, q)
            _execute(defs, "warehouse_quarter", instance, q)
        progress("annual results and dimensions")
        _execute(defs, "warehouse_annual", instance)
    except BaseException:
        discard(build)
        progress(f"run failed: the published warehouse {lay.published} is unchanged")
        raise
    finally:
        if previous is None:
            os.environ.pop(DUCKDB_ENV, None)
        else:
            os.environ[DUCKDB_ENV] = previous
    published = publish(build, lay)
    progress(f"published {published}")
    return published


def status_table(quarter: str) -> pl.DataFrame:
    """Submission status per unit for a quarter, from the ingested ledger."""
    path = raw_dir() / "unit_status" / f"{parse_quarter(quarter).key}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{quarter} has not been ingested yet (no {path})")
    return pl.read_parquet(path)


def _cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.synthetic.__main__ import main as generate
    from pipelines.warehouse_summary import summary

    _say(f"1/3 generating the demo city ({args.quarters}, seed {args.seed}) …")
    if generate(["--quarters", args.quarters, "--seed", str(args.seed)]) != 0:
        return 2
    _say("2/3 running the pipeline through Dagster …")
    published = run_quarters([q.key for q in quarter_range(args.quarters)])
    _say("3/3 summary\n")
    _say(summary(published))
    _cmd_where(args)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    quarters = landed_quarters() if args.all else [parse_quarter(q).key for q in args.quarter]
    if not quarters:
        print(f"error: nothing to run: no quarter given and none in {landing_dir()}", file=sys.stderr)
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
    _say(
        "\nwhere things are:\n"
        f"  landing area      {landing_dir()}\n"
        f"  receipts (回执)    {receipts_dir()}/<quarter>/<unit>/\n"
        f"  raw tables        {raw_dir()}/<table>/<quarter>.parquet\n"
        f"  warehouse         {lay.published} (open read-only)\n"
        f"  earlier versions  {lay.versions}\n"
        "  Dagster UI        make dev, then http://localhost:3000\n"
        f"  data directory    {data_dir()}"
    )
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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
