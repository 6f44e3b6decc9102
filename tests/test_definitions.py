"""The Dagster code location loads, and the reference assets materialise for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.defs.reference.assets import assessment_rules, unit_registry, unit_registry_matches_the_city

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
    result = dg.materialize([unit_registry, assessment_rules, unit_registry_matches_the_city])
    assert result.success
    registry = result.asset_materializations_for_node("unit_registry")[0]
    assert registry.metadata["units"].value == 500
    assert registry.metadata["by_level"].data == {"乡镇": 92, "县直": 339, "市直": 69}
    rules = result.asset_materializations_for_node("assessment_rules")[0]
    assert rules.metadata["years"].value == [2025, 2026]
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]


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
