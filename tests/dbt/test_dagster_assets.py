"""The warehouse as Dagster assets: keys, groups and partitions, and a real materialisation of one
quarter partition and the annual assets into a temporary DuckDB, dbt tests reported as asset checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtProject

from pipelines.defs.dbt.assets import (
    keep_parse_cache,
    rules_table,
    warehouse_annual_job,
    warehouse_annual_models,
    warehouse_quarter_job,
    warehouse_quarter_models,
)
from pipelines.defs.dbt.data_tests import DATA_TESTS_CHECK, FAILED_TESTS, summarised_tests
from pipelines.defs.dbt.project import (
    DBT_PROJECT_DIR,
    ManifestMissingError,
    manifest_is_stale,
    prepare_manifest,
    required_manifest,
    warehouse_project,
)
from pipelines.defs.dbt.resources import checked_quarter, dbt_resource
from pipelines.defs.partitions import quarter_partitions
from pipelines.ingest.schema import RAW_TABLES
from tests.dbt.conftest import point_at
from tests.dbt.raw_fixtures import REGISTRY, U1, tiny_city, write_raw, write_registry


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
    assert {dg.AssetKey(["raw", t]) for t in RAW_TABLES} | {
        dg.AssetKey(["raw", "rules"]),
        dg.AssetKey("unit_registry"),
    } <= sources
    assert all(k.path[0] in {"raw", "quality"} or k == dg.AssetKey("unit_registry") for k in sources)
    assert rules_table.key == dg.AssetKey(["raw", "rules"])
    # each mart and quality model with dbt tests has one check standing for all of them; staging and
    # intermediate tests are no checks
    manifest = json.loads(warehouse_project().manifest_path.read_text(encoding="utf-8"))
    for assets_def, specs in (
        (warehouse_quarter_models, quarter_specs),
        (warehouse_annual_models, annual_specs),
    ):
        checks = list(assets_def.check_specs)
        assert {spec.name for spec in checks} == {DATA_TESTS_CHECK}
        assert {specs[spec.asset_key].group_name for spec in checks} == {"marts", "quality"}
        for spec in checks:
            model = specs[spec.asset_key].metadata["dagster_dbt/unique_id"]
            attached = {t for t, node in manifest["nodes"].items() if node.get("attached_node") == model}
            assert attached and attached <= set(summarised_tests(spec)), spec.asset_key
        tested = {
            specs[key].metadata["dagster_dbt/unique_id"]
            for key in specs
            if specs[key].group_name in {"marts", "quality"}
        } & {node.get("attached_node") for node in manifest["nodes"].values()}
        assert len(checks) == len(tested)
    person = quarter_specs[dg.AssetKey(["marts", "fct_person_quarter"])]
    person_tests = summarised_tests(
        next(s for s in warehouse_quarter_models.check_specs if s.asset_key == person.key)
    )
    # its row rules (one row_rules test) and its relationships to the registry
    assert any(".row_rules_fct_person_quarter" in t for t in person_tests), person_tests
    assert len(person_tests) >= 2
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
    environment = dict(os.environ)

    assert dg.materialize([rules_table]).success
    # fct_task_quarter and what it is built from, plus the registry view its relationship test reads.
    task_chain = (
        dg.AssetSelection.assets(dg.AssetKey(["marts", "fct_task_quarter"])).upstream()
        | dg.AssetSelection.assets(dg.AssetKey(["staging", "stg_units"]))
    ) - dg.AssetSelection.assets(
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
    # the tests of unchecked (staging) models left no observation events behind
    assert [e for e in quarter.all_events if e.event_type_value == "ASSET_OBSERVATION"] == []
    with duckdb.connect(str(database), read_only=True) as con:
        # the build recorded what its unit-grain rows were built from, and cleared its scope
        assert con.execute("select distinct quarter from main._built_units").fetchall() == [("2025Q1",)]
        scope_tables = con.execute("select count(*) from duckdb_tables() where table_name = '_build_scope'")
        assert scope_tables.fetchone() == (0,)

    dimensions = dg.AssetSelection.assets(
        dg.AssetKey(["marts", "dim_unit"]), dg.AssetKey(["marts", "dim_county"])
    )
    annual = dg.materialize([warehouse_annual_models], resources=resources, selection=dimensions)
    assert annual.success
    assert all(c.passed for c in annual.get_asset_check_evaluations())
    # a check run on its own, as the UI's "execute check" does: every test of the model runs, no model
    check = dg.AssetCheckKey(dg.AssetKey(["marts", "dim_unit"]), DATA_TESTS_CHECK)
    alone = dg.materialize(
        [warehouse_annual_models], resources=resources, selection=dg.AssetSelection.checks(check)
    )
    assert alone.success and alone.get_asset_materialization_events() == []
    (evaluation,) = alone.get_asset_check_evaluations()
    spec = next(s for s in warehouse_annual_models.check_specs if s.key == check)
    tests = evaluation.metadata["tests"].value.records
    assert evaluation.passed and len(tests) == len(summarised_tests(spec)) > 1
    assert "not_run" not in evaluation.metadata

    with duckdb.connect(str(database), read_only=True) as con:
        weights = con.execute(
            """select task_code, task_weight, quarter from marts.fct_task_quarter
            where unit_code = ? order by 1""",
            [U1],
        ).fetchall()
        counties = con.execute("select county_code, n_units from marts.dim_county order by 1").fetchall()
    assert weights == [("T1", 3.75, "2025Q1"), ("T2", 4.0, "2025Q1"), ("T3", 1.0, "2025Q1")]
    assert counties == [("371600", 1), ("371602", 2)]
    assert dict(os.environ) == environment  # paths went to dbt as vars, the quarter as a table


def test_the_quarter_is_not_a_dbt_var(tmp_path: Path) -> None:
    """dbt re-parses the whole project when its vars change: they must not carry the quarter."""
    resource = dbt_resource()
    assert set(resource.dbt_vars(tmp_path / "w.duckdb")) == {"data_dir", "duckdb_path", "registry_csv"}
    with pytest.raises(ValueError):
        checked_quarter("2025Q3'; drop table x; --")


def test_the_test_session_prepared_the_manifest() -> None:
    """`make env` and the test session (tests/conftest.py) prepare the manifest the assets load."""
    manifest = required_manifest()
    assert manifest == warehouse_project().manifest_path == prepare_manifest()
    assert not manifest_is_stale()


def test_a_missing_manifest_is_one_clear_line(tmp_path: Path) -> None:
    project_file = (DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8")
    (tmp_path / "dbt_project.yml").write_text(project_file, encoding="utf-8")
    with pytest.raises(ManifestMissingError) as raised:
        required_manifest(DbtProject(project_dir=tmp_path))
    message = str(raised.value)
    assert "\n" not in message and "make env" in message and str(tmp_path) in message


def test_importing_the_dbt_assets_starts_no_dbt() -> None:
    """No `dbt parse` (nor `dbt --version`) at import time: the manifest is prepared beforehand."""
    code = (
        "import subprocess\n"
        "class NoDbt(subprocess.Popen):\n"
        "    def __init__(self, args, *rest, **kwargs):\n"
        "        if 'dbt' in str(args):\n"
        "            raise AssertionError(f'dbt started at import time: {args}')\n"
        "        super().__init__(args, *rest, **kwargs)\n"
        "subprocess.Popen = NoDbt\n"
        "import pipelines.defs.dbt.assets as assets\n"
        "print(len(list(assets.warehouse_quarter_models.specs)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 30


def test_the_resource_hands_dbt_its_database_as_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DuckDB file given to the resource wins over ASSESSMENT_DUCKDB, which is left untouched."""
    write_registry(tmp_path / "registry" / "units.csv")
    elsewhere = point_at(monkeypatch, tmp_path)
    chosen = tmp_path / "chosen" / "warehouse.duckdb"
    dbt_resource().run(["run", "--select", "stg_units"], database=chosen)
    assert os.environ["ASSESSMENT_DUCKDB"] == str(elsewhere)
    assert not elsewhere.exists()
    # the staging views read the data folder's files by relative paths, as DuckDB's file_search_path
    with duckdb.connect(str(chosen), read_only=True, config={"file_search_path": str(tmp_path)}) as con:
        assert con.execute("select count(*) from staging.stg_units").fetchone()[0] == 3


TASK_MART = dg.AssetKey(["marts", "fct_task_quarter"])


def _task_chain() -> dg.AssetSelection:
    """fct_task_quarter, what it is built from and the registry view its relationship test reads."""
    return (
        dg.AssetSelection.assets(TASK_MART).upstream()
        | dg.AssetSelection.assets(dg.AssetKey(["staging", "stg_units"]))
    ) - dg.AssetSelection.assets(
        *[dg.AssetKey(["raw", t]) for t in RAW_TABLES],
        dg.AssetKey(["raw", "rules"]),
        dg.AssetKey("unit_registry"),
    )


def test_a_failing_dbt_test_on_a_mart_fails_its_summary_check_and_names_the_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry without one of the units the raw rows name: the mart's relationship test to the
    registry fails. Its model's one check fails with ERROR severity and lists every test of the model
    with its status and failing rows, as read back from the instance; the step fails as dbt did; and the
    run stores one check evaluation per model, not one per test."""
    quarters = ("2025Q1",)
    write_raw(tmp_path, tiny_city(quarters), quarters)
    write_registry(tmp_path / "registry" / "units.csv", [r for r in REGISTRY if r[0] != U1])
    point_at(monkeypatch, tmp_path)
    assert dg.materialize([rules_table]).success

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [warehouse_quarter_models],
            partition_key="2025Q1",
            resources={"dbt": dbt_resource()},
            selection=_task_chain(),
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success  # dbt exited non-zero: the step failed as before
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "fail" in str(failure.step_failure_data.error)
        records = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        stored = [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records]
        every_event = instance.get_records_for_run(result.run_id).records

    spec = next(s for s in warehouse_quarter_models.check_specs if s.asset_key == TASK_MART)
    evaluation = next(e for e in stored if e.asset_key == TASK_MART)
    assert evaluation.check_name == DATA_TESTS_CHECK
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    rows = {r.data["test"]: r.data for r in evaluation.metadata["tests"].value.records}
    manifest = json.loads(warehouse_project().manifest_path.read_text(encoding="utf-8"))
    assert set(rows) == {manifest["nodes"][t]["name"] for t in summarised_tests(spec)}
    failed = evaluation.metadata[FAILED_TESTS].value
    assert failed and all(rows[name]["status"] == "fail" and rows[name]["failures"] > 0 for name in failed)
    assert {n for n, row in rows.items() if row["status"] == "pass"} == set(rows) - set(failed)
    # the other checked models of the selection passed, one evaluation each
    assert len(stored) == len({e.asset_key for e in stored}) >= 1
    assert all(e.passed for e in stored if e.asset_key != TASK_MART)
    # per check, one planned event, one evaluation and one step output: once per model, not per test
    kinds = [
        r.event_log_entry.dagster_event.event_type_value
        for r in every_event
        if r.event_log_entry.dagster_event
    ]
    tests_run = sum(
        len(summarised_tests(s))
        for s in warehouse_quarter_models.check_specs
        if s.asset_key in {e.asset_key for e in stored}
    )
    assert (
        kinds.count("ASSET_CHECK_EVALUATION_PLANNED") == kinds.count("ASSET_CHECK_EVALUATION") == len(stored)
    )
    assert tests_run >= 2 * len(stored)


def test_old_run_targets_are_pruned_in_the_background_keeping_the_newest(tmp_path: Path) -> None:
    """Real folders with dbt's files: the `keep` newest per-run folders stay, the others are removed by
    the returned thread; other folders of target/ are never touched; nothing old, no thread."""
    folders = []
    for i in range(5):
        folder = tmp_path / f"warehouse_quarter_models-run{i}-abc"
        (folder / "compiled" / "m").mkdir(parents=True)
        (folder / "compiled" / "m" / "a.sql").write_text("select 1\n", encoding="utf-8")
        (folder / "dbt.log").write_text("log\n", encoding="utf-8")
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))
        folders.append(folder)
    other = tmp_path / "parse-cache-elsewhere"
    other.mkdir()
    pruning = keep_parse_cache(folders[-1], keep=2)
    assert pruning is not None
    pruning.join(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [folders[3].name, folders[4].name, other.name]
    )
    assert keep_parse_cache(folders[-1], keep=2) is None
