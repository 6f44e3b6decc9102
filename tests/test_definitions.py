"""The Dagster code location loads, and the reference assets materialise for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.reference.assets import REGISTRY_KEY, RULES_KEY, reference_data
from pipelines.paths import REFERENCE_DIR

ROOT = Path(__file__).resolve().parent.parent


def test_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text(
        (ROOT / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_reference_assets_materialise() -> None:
    result = dg.materialize([reference_data])
    assert result.success
    # one step for both assets and the registry's check
    assert {e.step_key for e in result.get_step_success_events()} == {"reference_data"}
    by_key = {m.asset_key: m for m in result.asset_materializations_for_node("reference_data")}
    registry = by_key[REGISTRY_KEY]
    assert registry.metadata["units"].value == 500
    assert registry.metadata["by_level"].data == {"乡镇": 92, "县直": 339, "市直": 69}
    rules = by_key[RULES_KEY]
    assert rules.metadata["years"].value == [2025, 2026]
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]


def test_a_registry_off_the_city_structure_blocks_what_depends_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry check shares the reference assets' step and still blocks: one 县直 unit recorded as
    a 乡镇 (a valid registry, but not Binzhou's 69/339/92) fails the step, and an asset downstream of the
    registry does not run."""
    units = pl.read_csv(REFERENCE_DIR / "units.csv", infer_schema=False)
    moved = units.filter(pl.col("level") == "县直").row(0, named=True)
    units = units.with_columns(
        pl.when(pl.col("unit_code") == moved["unit_code"])
        .then(pl.lit(f"{moved['county_code']}-Z-999"))
        .otherwise(pl.col("unit_code"))
        .alias("unit_code"),
        pl.when(pl.col("unit_code") == moved["unit_code"])
        .then(pl.lit("乡镇"))
        .otherwise(pl.col("level"))
        .alias("level"),
    )
    (tmp_path / "registry").mkdir()
    units.write_csv(tmp_path / "registry" / "units.csv")
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))

    @dg.asset(deps=[REGISTRY_KEY])
    def downstream() -> None:
        raise AssertionError("ran although the blocking registry check failed")

    result = dg.materialize([reference_data, downstream], raise_on_error=False)
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["cities_off_structure"].data == {"3716": {"市直": 69, "县直": 338, "乡镇": 93}}
    assert "downstream" not in {e.step_key for e in result.all_events if e.is_step_start}
    # both reference assets were recorded before the check failed the step
    assert {m.asset_key for m in result.get_asset_materialization_events()} == {REGISTRY_KEY, RULES_KEY}


def test_the_asset_graph_has_the_architecture_groups_and_the_publish_checks() -> None:
    from pipelines.definitions import defs

    definitions = defs()
    specs = definitions.resolve_all_asset_specs()
    groups = {spec.group_name for spec in specs}
    layers = {"staging", "intermediate", "marts", "results_use"}
    assert groups == {"reference", "ingest", "quality", "publish", "report", "deliverables"} | layers
    keys = {spec.key.to_user_string() for spec in specs}
    assert {"warehouse/release", "warehouse/published", "report/quarterly", "raw/ratings"} <= keys
    job = definitions.resolve_job_def("quarterly_pipeline")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= keys
    checks = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    publish_checks = {"no_national_ids_published", "rater_anonymity", "only_analyst_tables"}
    assert publish_checks <= checks
    assert {s.name for s in definitions.schedules} == {"quarter_after_deadline"}
    assert {s.name for s in definitions.sensors} == {"new_submissions"}
