"""Fixtures for the warehouse tests: hand-made raw tables built into a temporary DuckDB by real dbt."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.defs.dbt.resources import dbt_resource
from pipelines.defs.dbt.rules_table import write_rules_table
from pipelines.domain.rules import RULES_DIR
from tests.dbt.raw_fixtures import tiny_city, write_raw, write_registry

YEAR_2025 = ("2025Q1", "2025Q2", "2025Q3", "2025Q4")
QUARTERS = (*YEAR_2025, "2026Q1")
# 2026 gets its own rules file in these tests, with a different task/eval split, so every 2026 figure
# proves that each year is scored by its own rules.
RULES_2026_VERSION = "2026-test"


@dataclass(frozen=True)
class Warehouse:
    data_dir: Path
    duckdb: Path
    rules_dir: Path
    # run_results.json's "results" of the `dbt build` that made it: every model, data test and unit test
    results: tuple[dict[str, Any], ...] = ()


def write_test_rules(folder: Path) -> Path:
    """2025 as committed; 2026 with task_weight = eval_weight = 0.5 and version 2026-test."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES_DIR / "2025.toml", folder / "2025.toml")
    text = (RULES_DIR / "2026.toml").read_text(encoding="utf-8")
    for old, new in (
        ('version = "2026"', f'version = "{RULES_2026_VERSION}"'),
        ("task_weight = 0.4 ", "task_weight = 0.5 "),
        ("eval_weight = 0.6 ", "eval_weight = 0.5 "),
    ):
        assert old in text, old
        text = text.replace(old, new)
    (folder / "2026.toml").write_text(text, encoding="utf-8")
    return folder


def build_warehouse(
    *, quarter: str | None = None, rules_dir: Path | None = None, args: Sequence[str] = ("build",)
) -> tuple[dict[str, Any], ...]:
    """The rules table from `rules_dir` (default: the committed rules), then `dbt <args>` (by default every
    model, data test and unit test) through the project's dbt resource, into pipelines.paths.duckdb_path().
    Raises with dbt's output when a model or test fails; returns the command's node results."""
    write_rules_table(directory=rules_dir)
    return tuple(dbt_resource().run(args, quarter=quarter).results)


def point_at(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    """Make every path helper (and the dbt subprocess) use `data_dir`; return the DuckDB path."""
    duckdb = data_dir / "warehouse" / "build.duckdb"
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(duckdb))
    monkeypatch.delenv("ASSESSMENT_REGISTRY_CSV", raising=False)
    return duckdb


def build_tiny_warehouse(root: Path) -> Warehouse:
    """The tiny city (2025 and 2026Q1) written as raw Parquet into `root` and built with `dbt build`
    (the session fixture `tiny_warehouse`, tests/conftest.py). The environment is pointed at `root` only
    for the build: a test that runs dbt again points it at its own copy (`point_at`)."""
    write_raw(root, tiny_city(QUARTERS), QUARTERS)
    write_registry(root / "registry" / "units.csv")
    rules_dir = write_test_rules(root / "rules")
    with pytest.MonkeyPatch.context() as mp:
        duckdb = point_at(mp, root)
        results = build_warehouse(rules_dir=rules_dir)
    return Warehouse(root, duckdb, rules_dir, results)
