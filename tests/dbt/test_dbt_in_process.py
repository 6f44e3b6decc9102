"""dbt inside the run's process (pipelines/defs/dbt/inprocess.py): one parse per run, failures that name
their nodes, the DuckDB file free for the next step, and the dagster-dbt pieces it relies on."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dbt.adapters.duckdb.connections import DuckDBConnectionManager

from pipelines.defs.dbt.assets import warehouse_annual_models
from pipelines.defs.dbt.inprocess import (
    CACHED_NOTE,
    PARSE_CACHE_PREFIX,
    PARSED_NOTE,
    REUSED_NOTE,
    close_duckdb,
    parse_key,
    project_args,
    run_manifest,
)
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.dbt.resources import dbt_resource
from tests.conftest import pipeline_env


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_the_pipeline_run_parses_once_and_its_second_dbt_step_reuses_the_parse(published_city: Path) -> None:
    """quarterly_pipeline has two dbt steps (the quarter's models, then the annual ones after the Python
    findings): the first parses (or loads the cached parse of an unchanged project), the second starts
    on its first model."""
    from pipelines.ops import project_instance

    with pipeline_env(published_city):
        instance = project_instance()
        runs = instance.get_run_records(dg.RunsFilter(job_name="quarterly_pipeline"), limit=1)
        assert runs, "the fixture ran quarterly_pipeline"
        messages = _messages(instance, runs[0].dagster_run.run_id)
    assert sum(m.startswith((PARSED_NOTE, CACHED_NOTE)) for m in messages) == 1
    assert sum(m == REUSED_NOTE for m in messages) == 1


def test_a_failing_build_fails_the_step_names_the_nodes_and_leaves_the_file_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The annual models on a warehouse that holds nothing: dbt fails, the step fails with the failed
    models named, and the DuckDB file can be opened again with other settings in this process (dbt-duckdb
    would otherwise keep its instance open)."""
    database = tmp_path / "empty.duckdb"
    duckdb.connect(str(database)).close()
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(database))
    result = dg.materialize(
        [warehouse_annual_models],
        resources={"dbt": dbt_resource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    text = str(failure.step_failure_data.error)
    assert "model.assessment_warehouse." in text and "dbt build failed" in text
    with duckdb.connect(str(database), read_only=True) as reopened:
        assert reopened.execute("select 1").fetchone() == (1,)


def test_the_dagster_dbt_and_dbt_duckdb_pieces_are_still_what_inprocess_assumes() -> None:
    """An upgrade that renames or re-types them fails here rather than in a quarterly run."""
    params = inspect.signature(get_updated_cli_invocation_params_for_context).parameters
    expected = {"context", "manifest", "dagster_dbt_translator", "runtime_selects", "runtime_excludes"}
    assert expected <= set(params)
    to_events = inspect.signature(DbtCoreCliEventMessage.to_default_asset_events).parameters
    assert {"manifest", "dagster_dbt_translator", "context", "target_path", "project"} <= set(to_events)
    fields = list(inspect.signature(DbtCoreCliEventMessage).parameters)
    assert fields == ["raw_event", "event_history_metadata"]
    assert callable(DuckDBConnectionManager.close_all_connections)


def _project_copy(tmp_path: Path) -> Path:
    """The dbt project's sources in a folder of its own (no target/: the first parse there is full)."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def test_the_parse_key_changes_with_any_project_file_the_vars_and_the_environment(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    args = ["--vars", json.dumps({"duckdb_path": "/a.duckdb"})]
    env = {"ASSESSMENT_DATA_DIR": "/data", "HOME": "/home/x"}
    key = parse_key(project, args, env)
    assert parse_key(project, list(args), dict(env)) == key
    # what dbt writes into the project folder does not shape a parse
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}", encoding="utf-8")
    assert parse_key(project, args, {**env, "HOME": "/elsewhere"}) == key

    assert parse_key(project, ["--vars", json.dumps({"duckdb_path": "/b.duckdb"})], env) != key
    assert parse_key(project, args, {**env, "ASSESSMENT_DATA_DIR": "/other"}) != key
    assert parse_key(project, args, {**env, "DBT_PARTIAL_PARSE": "false"}) != key
    model = project / "models" / "staging" / "stg_units.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    edited = parse_key(project, args, env)
    assert edited != key
    (project / "macros" / "new_macro.sql").write_text("{% macro m() %}1{% endmacro %}\n", encoding="utf-8")
    assert parse_key(project, args, env) != edited


def _compile_with(manifest: object, project: Path, target: Path, args: list[str], select: str) -> set[str]:
    """`dbt compile` of `select` in this process on `manifest` (no parse): the models it compiled."""
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner(manifest=manifest).invoke(  # type: ignore[arg-type]
            ["compile", "--select", select, *project_args(project, target), *args]
        )
    finally:
        close_duckdb()
    assert result.success, result.exception
    return {r.node.name for r in result.result.results}


def test_an_unchanged_project_is_not_parsed_again_and_a_changed_model_is(tmp_path: Path) -> None:
    """Real dbt parses on a copy of the project: the second run loads the first run's parse; after a
    model's SQL changes, the next run parses and its manifest carries the new SQL."""
    project = _project_copy(tmp_path)
    args = ["--vars", json.dumps({"duckdb_path": str(tmp_path / "w.duckdb")})]
    notes: list[str] = []
    first = run_manifest("run-1", project, tmp_path / "t1", args, notes.append)
    second = run_manifest("run-2", project, tmp_path / "t2", args, notes.append)
    assert notes[0].startswith(PARSED_NOTE) and notes[1].startswith(CACHED_NOTE), notes
    assert second is not first
    assert second.writable_manifest().to_dict() == first.writable_manifest().to_dict()
    # dbt builds from the loaded parse: refs and sources resolve through lookups rebuilt on first use
    compiled = _compile_with(second, project, tmp_path / "compiled", args, "int_rules_tiers stg_units")
    assert {"int_rules_tiers", "stg_units"} <= compiled
    assert len(list((project / "target").glob(f"{PARSE_CACHE_PREFIX}*"))) == 1

    model = project / "models" / "staging" / "stg_units.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited by the test\n", encoding="utf-8")
    third = run_manifest("run-3", project, tmp_path / "t3", args, notes.append)
    assert notes[2].startswith(PARSED_NOTE), notes
    assert "-- edited by the test" in third.nodes["model.assessment_warehouse.stg_units"].raw_code
    assert len(list((project / "target").glob(f"{PARSE_CACHE_PREFIX}*"))) == 1  # only the newest kept
