"""Where the warehouse lives and the environment every dbt invocation gets.

The DuckDB path is one environment variable shared by dbt (dbt_project/profiles.yml) and Dagster:
`ASSESSMENT_DUCKDB`, defaulting to `<ASSESSMENT_DATA_DIR>/warehouse/build.duckdb`. dbt runs inside
dbt_project/, so every path handed to it here is absolute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.defs.dbt.project import warehouse_project
from pipelines.paths import REFERENCE_DIR, data_dir

DUCKDB_ENV = "ASSESSMENT_DUCKDB"
REGISTRY_ENV = "ASSESSMENT_REGISTRY_CSV"


def duckdb_path() -> Path:
    """The build DuckDB file dbt writes ($ASSESSMENT_DUCKDB, else <data dir>/warehouse/build.duckdb)."""
    configured = os.environ.get(DUCKDB_ENV)
    return Path(configured).resolve() if configured else data_dir() / "warehouse" / "build.duckdb"


def registry_csv() -> Path:
    """The unit registry dbt reads: $ASSESSMENT_REGISTRY_CSV, else the province registry the generator
    wrote under <data dir>/registry/ when there is one, else the committed Binzhou registry."""
    configured = os.environ.get(REGISTRY_ENV)
    if configured:
        return Path(configured).resolve()
    generated = data_dir() / "registry" / "units.csv"
    return generated if generated.exists() else REFERENCE_DIR / "units.csv"


def dbt_environment() -> dict[str, str]:
    """Absolute ASSESSMENT_DATA_DIR / ASSESSMENT_DUCKDB / ASSESSMENT_REGISTRY_CSV for a dbt run.

    Also creates the warehouse folder: DuckDB does not create missing parent directories.
    """
    database = duckdb_path()
    database.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ASSESSMENT_DATA_DIR": str(data_dir()),
        DUCKDB_ENV: str(database),
        REGISTRY_ENV: str(registry_csv()),
    }


@contextmanager
def dbt_environment_applied(extra: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """`dbt_environment()` (and `extra`) in os.environ for the duration (DbtCliResource hands the
    process environment to dbt), restored afterwards so nothing leaks into the rest of the process."""
    env = {**dbt_environment(), **(extra or {})}
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


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=warehouse_project())


@dg.definitions
def dbt_resources() -> dg.Definitions:
    """The `dbt` resource every warehouse asset uses."""
    return dg.Definitions(resources={"dbt": dbt_resource()})
