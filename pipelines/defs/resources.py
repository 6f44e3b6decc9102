"""Resources and loggers shared by the asset modules: where the data lives, and the run log file.

`AssessmentPaths` carries the data directory (landing area, archive, raw tables, receipts, warehouse,
reports) as Dagster configuration instead of code setting environment variables during a run. Left
empty it is $ASSESSMENT_DATA_DIR or <project>/data (what `make dev` and the schedule use); the operator
CLI sets it per run through run config (`resources.paths.config.data_dir`). Inside an asset,
`with paths.applied():` makes pipelines.paths.data_dir() answer the configured folder for the library
code the asset calls (a context variable, so nothing leaks into the process environment).

The DuckDB file dbt writes stays one documented environment variable shared with profiles.yml
(ASSESSMENT_DUCKDB, see pipelines/defs/dbt/resources.py): dbt is a separate process that reads it.

`run_file_logger` writes a run's Dagster events and asset logs to a file; the CLI selects it in run
config so the terminal shows only its progress display (docs/operations.md).
"""

# No `from __future__ import annotations`: Dagster reads the resource's field annotations.
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from pipelines import paths as project_paths


class AssessmentPaths(dg.ConfigurableResource):
    """Where the data of a run lives."""

    data_dir: str = ""  # empty: $ASSESSMENT_DATA_DIR, else <project>/data

    def root(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else project_paths.data_dir()

    @contextmanager
    def applied(self) -> Iterator[Path]:
        """pipelines.paths.data_dir() is this resource's folder for the duration."""
        with project_paths.using_data_dir(self.root()) as root:
            yield root

    def landing(self) -> Path:
        return self.root() / "landing"

    def warehouse(self) -> Path:
        return self.root() / "warehouse"

    def reports(self) -> Path:
        return self.root() / "reports"

    def logs(self) -> Path:
        return self.root() / "logs"


# One instance, bound on each asset that uses it (`resource_defs`), so materialising those assets on
# their own (tests, the UI) needs no resources argument.
ASSESSMENT_PATHS = AssessmentPaths()
PATHS_RESOURCES = {"paths": ASSESSMENT_PATHS}

RUN_FILE_LOGGER = "assessment.run_file"  # one Python logger per log file: <this>.<path>
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s - %(message)s"


@dg.logger(
    config_schema={"path": str, "log_level": dg.Field(str, is_required=False, default_value="DEBUG")},
    description="Appends the run's Dagster events and asset logs to a file (the operator CLI's run log).",
)
def run_file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"{RUN_FILE_LOGGER}.{path}")
    logger.setLevel(init_context.logger_config["log_level"])
    logger.propagate = False
    if not logger.handlers:  # one handler per file, however many runs of one command write to it
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    return logger


@dg.definitions
def shared_definitions() -> dg.Definitions:
    """The loggers every job offers: Dagster's console logger (the default when a run configures none)
    and the run log file the CLI selects."""
    return dg.Definitions(loggers={"console": dg.colored_console_logger, "run_file": run_file_logger})
