"""The warehouse as Dagster assets: keys, groups and partitions, and a real materialisation of one
quarter partition and the annual assets into a temporary DuckDB, dbt tests reported as asset checks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.dbt.assets import (
    rules_table,
    warehouse_annual_job,
    warehouse_annual_models,
    warehouse_quarter_job,
    warehouse_quarter_models,
)
from pipelines.defs.dbt.project import ensure_manifest, manifest_is_stale, warehouse_project
from pipelines.defs.dbt.resources import dbt_resource
from pipelines.defs.partitions import quarter_partitions
from pipelines.ingest.schema import RAW_TABLES
from tests.dbt.conftest import point_at
from tests.dbt.raw_fixtures import U1, tiny_city, write_raw, write_registry


def test_asset_keys_groups_and_partitions() -> None:
    quarter_specs = {spec.key: spec for spec in warehouse_quarter_models.specs}
    annual_specs = {spec.key: spec for spec in warehouse_annual_models.specs}
    assert dg.AssetKey(["marts", "fct_person_quarter"]) in quarter_specs
    assert dg.AssetKey(["staging", "stg_roster"]) in quarter_specs
    assert dg.AssetKey(["marts", "fct_person_year"]) in annual_specs
    assert dg.AssetKey(["marts", "dim_unit"]) in annual_specs
    assert warehouse_quarter_models.partitions_def == quarter_partitions
    assert warehouse_annual_models.partitions_def is None
    groups = {spec.key.path[0]: spec.group_name for spec in [*quarter_specs.values(), *annual_specs.values()]}
    assert groups == {
        "staging": "staging",
        "intermediate": "intermediate",
        "marts": "marts",
        "quality": "quality",
        "results_use": "results_use",
    }
    # dbt sources are the ingestion assets raw/<table>, the rules table and the unit registry.
    upstream = {dep.asset_key for spec in quarter_specs.values() for dep in spec.deps}
    sources = {key for key in upstream if key not in quarter_specs}
    assert sources == {dg.AssetKey(["raw", t]) for t in RAW_TABLES} | {
        dg.AssetKey(["raw", "rules"]),
        dg.AssetKey("unit_registry"),
    }
    assert rules_table.key == dg.AssetKey(["raw", "rules"])
    # every dbt data test is an asset check
    assert len(list(warehouse_quarter_models.check_specs)) > 50
    resolved = dg.Definitions(
        assets=[warehouse_quarter_models], jobs=[warehouse_quarter_job], resources={"dbt": dbt_resource()}
    ).resolve_job_def("warehouse_quarter")
    assert resolved.partitions_def == quarter_partitions  # inferred from the selected assets
    assert warehouse_annual_job.name == "warehouse_annual"


def test_materialise_a_quarter_partition_then_the_annual_assets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real (partial) materialisation: the task-volume chain for partition 2025Q1, then the unit and
    county dimensions. The full graph is built by the other tests through the same dbt project."""
    quarters = ("2025Q1",)
    write_raw(tmp_path, tiny_city(quarters), quarters)
    write_registry(tmp_path / "registry" / "units.csv")
    database = point_at(monkeypatch, tmp_path)
    resources = {"dbt": dbt_resource()}

    assert dg.materialize([rules_table]).success
    # fct_task_quarter and what it is built from, plus the registry view its relationship test reads.
    task_chain = (
        dg.AssetSelection.keys(dg.AssetKey(["marts", "fct_task_quarter"])).upstream()
        | dg.AssetSelection.keys(dg.AssetKey(["staging", "stg_units"]))
    ) - dg.AssetSelection.keys(
        *[dg.AssetKey(["raw", t]) for t in RAW_TABLES],
        dg.AssetKey(["raw", "rules"]),
        dg.AssetKey("unit_registry"),
    )
    quarter = dg.materialize(
        [warehouse_quarter_models], partition_key="2025Q1", resources=resources, selection=task_chain
    )
    assert quarter.success
    materialised = {e.asset_key for e in quarter.get_asset_materialization_events()}
    assert {dg.AssetKey(["marts", "fct_task_quarter"]), dg.AssetKey(["staging", "stg_units"])} <= materialised
    assert dg.AssetKey(["marts", "fct_person_quarter"]) not in materialised  # not selected
    checks = quarter.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert all(c.asset_key in materialised for c in checks)

    dimensions = dg.AssetSelection.keys(
        dg.AssetKey(["marts", "dim_unit"]), dg.AssetKey(["marts", "dim_county"])
    )
    annual = dg.materialize([warehouse_annual_models], resources=resources, selection=dimensions)
    assert annual.success
    assert all(c.passed for c in annual.get_asset_check_evaluations())

    with duckdb.connect(str(database), read_only=True) as con:
        weights = con.execute(
            """select task_code, task_weight, quarter from marts.fct_task_quarter
            where unit_code = ? order by 1""",
            [U1],
        ).fetchall()
        counties = con.execute("select county_code, n_units from marts.dim_county order by 1").fetchall()
    assert weights == [("T1", 3.75, "2025Q1"), ("T2", 4.0, "2025Q1"), ("T3", 1.0, "2025Q1")]
    assert counties == [("371600", 1), ("371602", 2)]


def test_manifest_is_prepared_outside_dagster_dev() -> None:
    """Loading the assets module ran `dbt parse` when needed: the manifest exists and is current."""
    manifest = ensure_manifest()
    assert manifest == warehouse_project().manifest_path
    assert manifest.exists()
    assert not manifest_is_stale()


def test_the_dbt_resource_reports_the_version_of_the_dbt_it_runs() -> None:
    """WarehouseDbtCli reads dbt-core's version from the package instead of running `dbt --version` before
    every step; it must be the version of the executable the resource actually starts."""
    resource = dbt_resource()
    printed = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed)
    assert installed is not None, printed
    assert str(resource._cli_version) == installed.group(1)
