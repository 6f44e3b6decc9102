"""dbt inside the run's process (pipelines/defs/dbt/inprocess.py): one parse per run, failures that name
their nodes, the DuckDB file free for the next step, and the dagster-dbt pieces it relies on."""

from __future__ import annotations

import inspect
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dbt.adapters.duckdb.connections import DuckDBConnectionManager

from pipelines.defs.dbt.assets import warehouse_annual_models
from pipelines.defs.dbt.inprocess import PARSED_NOTE, REUSED_NOTE
from pipelines.defs.dbt.resources import dbt_resource
from tests.conftest import pipeline_env


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_the_pipeline_run_parses_once_and_its_second_dbt_step_reuses_the_parse(published_city: Path) -> None:
    """quarterly_pipeline has two dbt steps (the quarter's models, then the annual ones after the Python
    findings): the first parses, the second starts on its first model."""
    from pipelines.ops import project_instance

    with pipeline_env(published_city):
        instance = project_instance()
        runs = instance.get_run_records(dg.RunsFilter(job_name="quarterly_pipeline"), limit=1)
        assert runs, "the fixture ran quarterly_pipeline"
        messages = _messages(instance, runs[0].dagster_run.run_id)
    assert sum(m.startswith(PARSED_NOTE) for m in messages) == 1
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
