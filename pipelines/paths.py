"""Where things live on disk. One env var moves the whole data tree (tests point it at a tmp dir)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
REGISTRY_ENV = "ASSESSMENT_REGISTRY_CSV"
# The one setting Dagster and dbt (dbt_project/profiles.yml) share for the DuckDB file dbt writes.
DUCKDB_ENV = "ASSESSMENT_DUCKDB"
RULES_ENV = "ASSESSMENT_RULES_DIR"
DATA_ENV = "ASSESSMENT_DATA_DIR"


def rules_dir() -> Path:
    """The yearly rules files, <year>.toml: $ASSESSMENT_RULES_DIR, else the committed data/reference/rules.
    The quarters the pipeline knows (its partitions) are every quarter of every year found here."""
    configured = os.environ.get(RULES_ENV)
    return Path(configured).resolve() if configured else REFERENCE_DIR / "rules"


# A data directory chosen in code (the CLI's --data-dir, the AssessmentPaths resource inside a run) for
# the current thread of work, without touching the process environment other code reads.
_DATA_DIR: ContextVar[Path | None] = ContextVar("assessment_data_dir", default=None)


def rules_years(folder: Path | None = None) -> list[int]:
    """Years with a rules file (`<four digits>.toml`) in `folder` (default rules_dir()), ascending."""
    root = folder if folder is not None else rules_dir()
    if not root.is_dir():
        return []
    return sorted(int(p.stem) for p in root.glob("*.toml") if len(p.stem) == 4 and p.stem.isdigit())


def quarter_keys(folder: Path | None = None) -> list[str]:
    """Every quarter of every rules year, in order: ['2025Q1', …, '2026Q4'] (the pipeline's partitions)."""
    return [f"{year}Q{q}" for year in rules_years(folder) for q in (1, 2, 3, 4)]


def data_dir() -> Path:
    """Root of generated data: landing, archive, ground truth and warehouse files. In order: the one set by
    `using_data_dir`, $ASSESSMENT_DATA_DIR, <project>/data. An empty $ASSESSMENT_DATA_DIR counts as unset
    (as a path it would be the current folder, where a probe's `generate` then wrote its landing area)."""
    chosen = _DATA_DIR.get()
    if chosen is not None:
        return chosen
    configured = os.environ.get(DATA_ENV, "").strip()
    return Path(configured).resolve() if configured else (PROJECT_ROOT / "data").resolve()


@contextmanager
def using_data_dir(path: Path | str | None) -> Iterator[Path]:
    """`data_dir()` is `path` inside the block (None: unchanged), in this thread and what it calls."""
    if path is None:
        yield data_dir()
        return
    token = _DATA_DIR.set(Path(path).resolve())
    try:
        yield data_dir()
    finally:
        _DATA_DIR.reset(token)


def deliverables_dir(root: Path | None = None) -> Path:
    """The files handed to units, counties and the cadre division, one folder per quarter."""
    return (root or data_dir()) / "deliverables"


def reports_dir() -> Path:
    """The quarterly HTML reports, one folder per quarter."""
    return data_dir() / "reports"


def landing_dir() -> Path:
    return data_dir() / "landing"


def archive_dir() -> Path:
    """Append-only copies of every file that ever arrived, keyed by content hash."""
    return data_dir() / "archive"


def raw_dir() -> Path:
    """Raw tables as Parquet: raw/<table>/<quarter>.parquet (see pipelines.ingest.schema)."""
    return data_dir() / "raw"


def restricted_dir() -> Path:
    """Clear-text names and national IDs; never exposed to analyst-facing outputs."""
    return data_dir() / "restricted"


def receipts_dir() -> Path:
    """Receipts (回执) a unit can be sent: receipts/<quarter>/<unit_code>/<file>.html."""
    return data_dir() / "receipts"


def logs_dir() -> Path:
    """One log file per operator command: Dagster's events, dbt's and the libraries' messages."""
    return data_dir() / "logs"


def new_log_path(prefix: str = "run") -> Path:
    """A fresh log file's path for a command starting now (the folder is made)."""
    logs_dir().mkdir(parents=True, exist_ok=True)
    return logs_dir() / f"{prefix}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.log"


@contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Python-level sys.stdout and sys.stderr appended to the log file `path` for the duration: what
    libraries print (dagster-dbt echoes every dbt log line with sys.stdout.write, dbt its console lines)
    goes to the run log, not the terminal. A display that holds the stream it was given before is
    unaffected.

    The process's file descriptor 2 goes there too, for what the run's helper processes write to the
    stderr they inherit: Dagster's compute-log watchers print a KeyboardInterrupt traceback each when
    the operator presses Ctrl-C, in the middle of the command's one-line answer."""
    with path.open("a", encoding="utf-8") as fh, redirect_stdout(fh), redirect_stderr(fh):
        if sys.__stderr__ is not None:
            sys.__stderr__.flush()
        saved = os.dup(2)
        try:
            os.dup2(fh.fileno(), 2)
            yield
        finally:
            fh.flush()
            os.dup2(saved, 2)
            os.close(saved)


def warehouse_dir() -> Path:
    """DuckDB files: the build file dbt writes and the published copies analysts read."""
    return data_dir() / "warehouse"


def duckdb_path() -> Path:
    """The file dbt writes outside a Dagster run: $ASSESSMENT_DUCKDB, else <data dir>/warehouse/build.duckdb
    (inside a run: the build file, pipelines/defs/dbt/resources.py run_duckdb_path)."""
    configured = os.environ.get(DUCKDB_ENV)
    return Path(configured).resolve() if configured else warehouse_dir() / "build.duckdb"


def registry_csv() -> Path:
    """The unit registry every stage reads (ingestion, the reference check, dbt): $ASSESSMENT_REGISTRY_CSV,
    else the province registry the generator wrote under <data dir>/registry/ when there is one, else the
    committed Binzhou registry."""
    configured = os.environ.get(REGISTRY_ENV)
    if configured:
        return Path(configured).resolve()
    generated = data_dir() / "registry" / "units.csv"
    return generated if generated.exists() else REFERENCE_DIR / "units.csv"
