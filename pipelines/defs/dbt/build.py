"""The warehouse build step: rules table → `dbt build` (every model and test) → short summary.

    uv run python -m pipelines.defs.dbt.build                  # every quarter in raw/
    uv run python -m pipelines.defs.dbt.build --quarter 2025Q3  # rebuild one quarter (and the annual models)

Paths come from ASSESSMENT_DATA_DIR / ASSESSMENT_DUCKDB (see resources.py). dbt runs as a subprocess in
dbt_project/, so a failing model or test fails the command with dbt's own output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_executable
from pipelines.defs.dbt.resources import dbt_environment, duckdb_path
from pipelines.defs.dbt.rules_table import write_rules_table
from pipelines.domain.quarters import parse_quarter
from pipelines.paths import data_dir


class WarehouseBuildError(RuntimeError):
    """dbt returned non-zero; the message carries the end of its output."""


@dataclass(frozen=True)
class BuildResult:
    seconds: float
    output: str


def dbt_command(command: str, *, quarter: str | None = None, full_refresh: bool = False) -> list[str]:
    args = [dbt_executable(), command, "--profiles-dir", str(DBT_PROJECT_DIR)]
    if quarter is not None:
        args += ["--vars", json.dumps({"quarter": parse_quarter(quarter).key})]
    if full_refresh:
        args.append("--full-refresh")
    return args


def run_dbt(args: Sequence[str], extra_env: dict[str, str] | None = None) -> BuildResult:
    env = {**os.environ, **dbt_environment(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(extra_env or {})}
    started = time.perf_counter()
    completed = subprocess.run(
        list(args), cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        tail = "\n".join(output.splitlines()[-60:])
        raise WarehouseBuildError(f"{' '.join(args[1:2])} failed (exit {completed.returncode}):\n{tail}")
    return BuildResult(seconds=seconds, output=output)


def build_warehouse(
    *, quarter: str | None = None, full_refresh: bool = False, rules_dir: Path | None = None
) -> BuildResult:
    """Write raw/rules/rules.parquet from the rules files (default: the committed ones), then `dbt build`.

    With `quarter`, quarter-grain models rebuild that quarter only; dimensions and annual models are
    always rebuilt from every quarter.
    """
    write_rules_table(data_dir(), directory=rules_dir)
    return run_dbt(dbt_command("build", quarter=quarter, full_refresh=full_refresh))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.defs.dbt.build", description=__doc__)
    parser.add_argument("--quarter", help="rebuild only this quarter's quarter-grain models, e.g. 2025Q3")
    parser.add_argument("--full-refresh", action="store_true", help="drop and rebuild incremental models")
    parser.add_argument("--no-summary", action="store_true", help="do not print the warehouse summary")
    args = parser.parse_args(argv)
    from pipelines.warehouse_summary import summary

    try:
        result = build_warehouse(quarter=args.quarter, full_refresh=args.full_refresh)
    except (WarehouseBuildError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt build finished in {result.seconds:.1f}s → {duckdb_path()}")
    if not args.no_summary:
        print(summary(duckdb_path()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
