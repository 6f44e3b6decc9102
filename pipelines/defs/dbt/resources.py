"""Where the warehouse lives and the environment every dbt invocation gets.

The DuckDB path is one environment variable shared by dbt (dbt_project/profiles.yml) and Dagster:
`ASSESSMENT_DUCKDB`. Inside a Dagster run it is the run's own build file
(`data/warehouse/builds/build.duckdb`, a copy of the pipeline's private warehouse; see
pipelines/publish/warehouse.py), owned by the run's `warehouse/build` tag — the operator CLI sets one
tag on the several runs that make up one build — or else by the run id. Setting ASSESSMENT_DUCKDB
yourself pins every run to that file (tests, or dbt by hand); nothing is published from it then.
dbt runs inside dbt_project/, so every path handed to it here is absolute.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from pipelines.defs.dbt.project import dbt_executable, warehouse_project
from pipelines.paths import REGISTRY_ENV, data_dir, registry_csv  # registry_csv: moved, re-exported
from pipelines.publish.warehouse import ensure_build

DUCKDB_ENV = "ASSESSMENT_DUCKDB"
BUILD_TAG = "warehouse/build"

RunContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext | dg.OpExecutionContext


def duckdb_path() -> Path:
    """The file dbt writes outside a run: $ASSESSMENT_DUCKDB, else <data dir>/warehouse/build.duckdb."""
    configured = os.environ.get(DUCKDB_ENV)
    return Path(configured).resolve() if configured else data_dir() / "warehouse" / "build.duckdb"


def pinned_duckdb() -> Path | None:
    """The file ASSESSMENT_DUCKDB pins every run to, if set."""
    configured = os.environ.get(DUCKDB_ENV)
    return Path(configured).resolve() if configured else None


def build_id(context: RunContext) -> str:
    return context.run.tags.get(BUILD_TAG) or context.run.run_id


def run_duckdb_path(context: RunContext) -> Path:
    """The file this run builds: ASSESSMENT_DUCKDB if pinned, else the build file (made on first use)."""
    return pinned_duckdb() or ensure_build(build_id(context))


def dbt_environment(database: Path | None = None) -> dict[str, str]:
    """Absolute ASSESSMENT_DATA_DIR / ASSESSMENT_DUCKDB / ASSESSMENT_REGISTRY_CSV for a dbt run.

    Also creates the warehouse folder: DuckDB does not create missing parent directories.
    """
    database = database or duckdb_path()
    database.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ASSESSMENT_DATA_DIR": str(data_dir()),
        DUCKDB_ENV: str(database),
        REGISTRY_ENV: str(registry_csv()),
    }


@contextmanager
def dbt_environment_applied(
    extra: Mapping[str, str] | None = None, database: Path | None = None
) -> Iterator[dict[str, str]]:
    """`dbt_environment()` (and `extra`) in os.environ for the duration (DbtCliResource hands the
    process environment to dbt), restored afterwards so nothing leaks into the rest of the process."""
    env = {**dbt_environment(database), **(extra or {})}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WarehouseDbtCli(DbtCliResource):
    """dagster-dbt's resource without two start-up costs paid on every dbt step.

    Before each invocation dagster-dbt runs `dbt --version` in a subprocess (a full dbt start-up: 3-7 s
    on this 2-core machine) and loads dbt's adapter and macros in-process (~3 s) for the row-count and
    column metadata helpers, which this project does not call. The installed dbt-core is pinned by
    uv.lock, so its version is read from the package metadata instead; with no adapter handle
    dagster-dbt streams events exactly as it does for the dbt Fusion engine. Both are dagster-dbt
    internals (checked against 0.29.x); tests/dbt/test_dagster_assets.py materialises real assets
    through this class, so an upgrade that changes them fails there.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource() -> DbtCliResource:
    return WarehouseDbtCli(project_dir=warehouse_project(), dbt_executable=dbt_executable())


@dg.definitions
def dbt_resources() -> dg.Definitions:
    """The `dbt` resource every warehouse asset uses."""
    return dg.Definitions(resources={"dbt": dbt_resource()})
