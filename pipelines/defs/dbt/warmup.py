"""dbt's one-time start-up work, done in a background thread while a run's first steps execute (issue 16).

The first dbt command in a process pays for work that every later command reuses: importing dbt's CLI,
tasks and the DuckDB adapter (modules whose dataclasses mashumaro compiles on import), building the JSON
schemas dbt validates the project, profile and credentials against (each cached per class), and
`inspect`'s module-by-file table, which dbt fills when it names the caller of each adapter behaviour flag
(`inspect.stack()` on every adapter it makes). Measured in a fresh process on the 2-core machine: 0.1-0.25 s
of imports, ~0.27 s of schemas, ~0.1 s of inspect, all of it in the quarter step before dbt's first node.

A run that builds the warehouse initialises the `dbt` resource before its first step (resources.py,
`WarehouseDbtCli.setup_for_execution`), which starts this warm-up; by the time the quarter step runs, the
reference, ingestion and GX steps have given it a second or more. Most of their time is spent in
polars, DuckDB, SQLite and worker processes, which release the interpreter lock. Everything here only
fills caches that dbt would fill itself, in the same way: a warm-up that has not finished, or failed,
leaves the dbt step to do the rest (Python's import locks make a module imported by both threads load
once).
"""

from __future__ import annotations

import importlib
import inspect
import threading

# The modules dbt imports on its first `build` beyond those the definitions already hold.
WARM_MODULES = (
    "dbt.cli.main",
    "dbt.task.build",
    "dbt.adapters.duckdb.impl",
    "dbt.adapters.duckdb.environments.local",
    "dbt_common.clients.agate_helper",
    "sqlparse",
)
# The classes whose JSON schema dbt builds to validate the project, its flags, selectors and packages,
# the profile and the DuckDB credentials, and each test result (`dbtClassMixin.json_schema`, cached).
SCHEMA_CLASSES = (
    ("dbt.contracts.project", "ProjectFlags"),
    ("dbt.contracts.project", "Project"),
    ("dbt.contracts.project", "ProfileConfig"),
    ("dbt.contracts.project", "PackageConfig"),
    ("dbt.contracts.project", "Configuration"),
    ("dbt.contracts.selection", "SelectorFile"),
    ("dbt.adapters.duckdb.credentials", "DuckDBCredentials"),
    ("dbt.task.test", "TestResultData"),
)

_started: list[threading.Thread] = []
_start_lock = threading.Lock()


def warm_dbt() -> list[str]:
    """Import dbt's modules, build its schemas and fill inspect's module table; returns what could not be
    warmed (a module or class an upgrade moved), which is then left to dbt's first command."""
    missed: list[str] = []
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a warm-up never fails a run: dbt imports what it needs itself
            missed.append(name)
    for module, cls in SCHEMA_CLASSES:
        try:
            getattr(importlib.import_module(module), cls).json_schema()
        except Exception:
            missed.append(f"{module}.{cls}")
    # One look-up walks every loaded module once and keeps its file; later look-ups are dictionary hits.
    inspect.getmodule(inspect.currentframe())
    return missed


def start_warmup() -> threading.Thread:
    """The process's warm-up thread, started on the first call (later calls return the same thread)."""
    with _start_lock:
        if not _started:
            thread = threading.Thread(target=warm_dbt, name="dbt-warmup", daemon=True)
            thread.start()
            _started.append(thread)
        return _started[0]
