"""The one way this project runs dbt: the `dbt` resource, and the file each run builds.

Paths reach dbt as `--vars` built from this resource's configuration (data_dir, duckdb_path,
registry_csv), read by dbt_project/profiles.yml and the macros; nothing here writes os.environ. The parse
gets only the file's name (`parse_vars`): the data folder is DuckDB's file_search_path, a connection
setting the sources' relative paths are looked up in, and the registry's path is rendered when stg_units
runs, so one parse serves every data folder and registry.
dbt re-parses the whole project (~3.5 s on a quiet machine against ~0.05 s loading the cached parse)
whenever what it parses with changes, so the quarter a run rebuilds is not a var: it is written to the
build file's scope table just before dbt starts, with the units whose inputs changed
(pipelines/defs/dbt/scope.py, read by macros/quarters.sql at execution time).
ASSESSMENT_DUCKDB (pipelines.paths.DUCKDB_ENV) is the one
documented environment variable behind them: dbt by hand and Dagster both fall back to it.

Inside a Dagster run the DuckDB file is the run's own build file (`data/warehouse/builds/build.duckdb`, a
copy of the pipeline's private warehouse; see pipelines/publish/warehouse.py), owned by the run's
`warehouse/build` tag — the operator CLI sets one tag on the several runs that make up one build — or else
by the run id. Setting ASSESSMENT_DUCKDB yourself pins every run to that file (tests, or dbt by hand);
nothing is published from it then.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.defs.dbt import worker as dbt_worker
from pipelines.defs.dbt.dbt_api import parse_key
from pipelines.defs.dbt.inprocess import (
    DbtOutcome,
    answers_in_thread,
    plan_command,
    run_command,
    stream_answers,
)
from pipelines.defs.dbt.project import dbt_executable, warehouse_project
from pipelines.defs.dbt.scope import Scope, global_key, prepare_scope
from pipelines.defs.dbt.startup import QuickStartDbtCli
from pipelines.defs.dbt.warmup import start_warmup
from pipelines.paths import DUCKDB_ENV, data_dir, duckdb_path, registry_csv
from pipelines.publish.warehouse import BUILD_NAME, BUILD_TAG, ensure_build

RunContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext | dg.OpExecutionContext


def pinned_duckdb() -> Path | None:
    """The file ASSESSMENT_DUCKDB pins every run to, if set."""
    configured = os.environ.get(DUCKDB_ENV)
    return Path(configured).resolve() if configured else None


def build_id(context: RunContext) -> str:
    return context.run.tags.get(BUILD_TAG) or context.run.run_id


def run_duckdb_path(context: RunContext) -> Path:
    """The file this run builds: ASSESSMENT_DUCKDB if pinned, else the build file (made on first use)."""
    return pinned_duckdb() or ensure_build(build_id(context))


QUARTER_KEY = re.compile(r"[0-9]{4}Q[1-4]")


def checked_quarter(quarter: str | None) -> str | None:
    """The key as given, if it looks like 2025Q3 (the macro checks it again before it reaches SQL)."""
    if quarter is not None and not QUARTER_KEY.fullmatch(quarter):
        raise ValueError(f"quarter must look like 2025Q3, got {quarter!r}")
    return quarter


class WarehouseDbtCli(QuickStartDbtCli):
    """dagster-dbt's `DbtCliResource` for the warehouse: paths are configuration, handed to dbt as vars.

    `data_dir` and `registry_csv` default to pipelines.paths (ASSESSMENT_DATA_DIR and the registry it
    finds); the DuckDB file is per call (the run's build file, see `run_duckdb_path`).
    """

    data_dir: str | None = None
    registry_csv: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run that builds the warehouse makes this resource before its first step. When dbt's worker
        process runs beside it (worker.py: the operator command starts it), the worker has done dbt's
        one-time start-up work; otherwise that work begins now in a background thread (warmup.py), so
        that it is not paid in the quarter step."""
        super().setup_for_execution(context)
        if dbt_worker.running() is None:
            start_warmup()

    def dbt_vars(self, database: Path) -> dict[str, str]:
        """Absolute paths (dbt runs inside dbt_project/), as dbt vars: stable from run to run."""
        root = Path(self.data_dir).resolve() if self.data_dir else data_dir()
        if "," in str(root):  # DuckDB's file_search_path is a comma-separated list (profiles.yml)
            raise ValueError(f"the data folder's path must not contain a comma: {root}")
        return {
            "data_dir": str(root),
            "duckdb_path": str(database.resolve()),
            "registry_csv": self._registry(),
        }

    def parse_vars(self, database: Path) -> dict[str, str]:
        """The vars dbt parses with: of the paths, only what ends up in the parsed manifest, the DuckDB
        file's name (dbt-duckdb names the nodes' database after it). Never the data folder, the file's
        folder or the registry CSV, which are read only when dbt runs SQL (stg_units renders the
        registry's path then: macros/registry.sql). A run in a new data folder, with any registry, then
        reuses a parse made in another one, or by `make env` (dbt_api.run_manifest). dbt never opens the
        file while parsing."""
        return {"duckdb_path": database.name}

    def _registry(self) -> str:
        """The registry CSV as dbt reads it: relative to the data folder when it lies inside it (a generated
        province's `registry/units.csv`), which DuckDB looks up in the data folder (file_search_path,
        profiles.yml), so stg_units' SQL, and the view a build keeps when it is unchanged, is the same in
        every data folder; else absolute."""
        registry = Path(self.registry_csv).resolve() if self.registry_csv else registry_csv().resolve()
        root = (Path(self.data_dir) if self.data_dir else data_dir()).resolve()
        return registry.relative_to(root).as_posix() if registry.is_relative_to(root) else str(registry)

    def run(
        self,
        args: Sequence[str],
        *,
        database: Path | None = None,
        quarter: str | None = None,
        raise_on_error: bool = True,
        write_scope: bool = True,
    ) -> DbtOutcome:
        """`dbt <args>` in this process, outside a Dagster step (tests, dbt by hand through the resource;
        the assets use `build`), against `database` (default: pipelines.paths.duckdb_path()), on the cached
        parse. Before it, the build scope is written (rebuilding only `quarter`'s rows of the quarter-grain
        models when given), unless `write_scope` is False: then dbt sees whatever scope the file holds."""
        database = database or duckdb_path()
        if write_scope:
            self.prepare_scope(database, quarter)  # also makes the database's folder
        return run_command(
            args,
            project_dir=Path(self.project_dir),
            parse_args=vars_args(self.parse_vars(database)),
            extra_args=vars_args(self.dbt_vars(database)),
            raise_on_error=raise_on_error,
        )

    def build(
        self, args: Sequence[str], *, database: Path, context: dg.AssetExecutionContext
    ) -> Generator[Any, None, Path]:
        """`dbt <args>` for a @dbt_assets step, run by dbt in its worker process (worker.py), or inside
        this process when that is turned off (inprocess.py): the Dagster events of its results as they
        come; the run's parse is made (or loaded) by its first dbt step and reused by the next. Returns
        the command's target folder (its artifacts and log)."""
        project_dir = Path(self.project_dir)
        extra = vars_args(self.dbt_vars(database))
        command = plan_command(
            args,
            context=context,
            project_dir=project_dir,
            target_root=project_dir / "target",
            extra_args=extra,
        )
        parse_args = vars_args(self.parse_vars(database))
        worker = dbt_worker.running()
        if worker is not None:
            context.log.info(f"Running dbt in its worker process: `dbt {' '.join(command.args)}`")
            request = dbt_worker.request_for(
                context.run.run_id, command.args, parse_args, project_dir, command.target_path
            )
            answers = worker.command(request)
        else:
            context.log.info(f"Running dbt in process: `dbt {' '.join(command.args)}`")
            answers = answers_in_thread(
                context.run.run_id, command.args, parse_args, project_dir, command.target_path
            )
        yield from stream_answers(answers, command, context)
        return command.target_path

    def prepare_scope(self, database: Path, quarter: str | None, run_id: str = "") -> Scope:
        """Write the scope of the next build on `database` (scope.py): the quarter, and the units whose
        raw rows changed since the file's rows were built."""
        database.parent.mkdir(parents=True, exist_ok=True)  # DuckDB does not create missing folders
        root = Path(self.data_dir).resolve() if self.data_dir else data_dir()
        registry = Path(self.registry_csv).resolve() if self.registry_csv else registry_csv()
        # keyed by the parse this build runs with (run_manifest's key), never by a manifest made earlier
        project_key = parse_key(Path(self.project_dir), vars_args(self.parse_vars(database)), os.environ)
        key = global_key(registry, root / "raw" / "rules", project_key)
        return prepare_scope(database, checked_quarter(quarter), root / "raw", key, run_id)


def vars_args(dbt_vars: dict[str, str]) -> list[str]:
    return ["--vars", json.dumps(dbt_vars, ensure_ascii=False)]


def dbt_resource() -> WarehouseDbtCli:
    return WarehouseDbtCli(project_dir=warehouse_project(), dbt_executable=dbt_executable())


def default_parse_args() -> list[str]:
    """The parse args of a run with the default resource in the current environment (the run's build file
    is always named BUILD_NAME unless ASSESSMENT_DUCKDB pins another): what `make env` parses with, so
    that the first run of a fresh clone finds its parse cached."""
    return vars_args(dbt_resource().parse_vars(pinned_duckdb() or Path(BUILD_NAME)))


@dg.definitions
def dbt_resources() -> dg.Definitions:
    """The `dbt` resource every warehouse asset uses."""
    return dg.Definitions(resources={"dbt": dbt_resource()})
