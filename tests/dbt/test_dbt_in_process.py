"""dbt inside the run's process (pipelines/defs/dbt/inprocess.py): one parse per run, the DuckDB file free
for the next step, the parse cache, and the dagster-dbt pieces it relies on. A failing step, in the
worker and in this process, is in test_dbt_worker.py."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from polars.testing import assert_frame_equal

from pipelines.defs.dbt.assets import rules_table, warehouse_quarter_models
from pipelines.defs.dbt.dbt_api import (
    CACHED_NOTE,
    KEPT_PARSES,
    PARSE_CACHE_PREFIX,
    PARSED_NOTE,
    REUSED_NOTE,
    RUN_TIME_ENV,
    cached_or_parsed,
    close_duckdb,
    current_duckdb_environment,
    load_cached_parse,
    parse_key,
    project_args,
    run_manifest,
    store_parse,
)
from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_executable, prepare_manifest
from pipelines.defs.dbt.resources import WarehouseDbtCli, dbt_resource, default_parse_args
from tests.conftest import pipeline_env
from tests.dbt.conftest import point_at
from tests.dbt.raw_fixtures import tiny_city, write_raw, write_registry


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


def test_after_a_successful_command_the_file_opens_again_with_other_settings(tmp_path: Path) -> None:
    """dbt-duckdb keeps its environment (and its DuckDB instance) for the next command; close_duckdb
    closes that connection without a garbage collection, and the file opens read-only in this process,
    which DuckDB refuses while an instance with other settings holds it."""
    from dbt.cli.main import dbtRunner

    close_duckdb()  # nothing open yet: nothing to close
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create table t as select 42 as x")
    resource = dbt_resource()
    manifest, _ = cached_or_parsed(DBT_PROJECT_DIR, tmp_path / "parse", default_parse_args())
    argv = [
        "show", "--inline", "select x from main.t",
        *project_args(DBT_PROJECT_DIR, tmp_path / "target"),
        "--vars", json.dumps(resource.dbt_vars(database)),
    ]  # fmt: skip
    result = dbtRunner(manifest=manifest).invoke(argv)
    assert result.success, result.exception
    assert current_duckdb_environment() is not None  # dbt-duckdb kept it for its next command
    close_duckdb()
    assert current_duckdb_environment() is None
    with duckdb.connect(str(database), read_only=True) as reopened:
        assert reopened.execute("select x from main.t").fetchone() == (42,)


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
    assert callable(DuckDBConnectionManager.env)


def _project_copy(tmp_path: Path) -> Path:
    """The dbt project's sources in a folder of its own (no target/: the first parse there is full)."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def test_the_parse_key_changes_with_any_project_file_the_vars_and_the_environment(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    args = ["--vars", json.dumps({"duckdb_path": "a.duckdb"})]
    env = {"ASSESSMENT_DATA_DIR": "/data", "HOME": "/home/x"}
    key = parse_key(project, args, env)
    assert parse_key(project, list(args), dict(env)) == key
    # what dbt writes into the project folder does not shape a parse
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}", encoding="utf-8")
    # nor do the data folder, the DuckDB file and memory cap, or variables dbt never reads
    for name in [*RUN_TIME_ENV, "HOME", "ASSESSMENT_DEMO"]:
        assert parse_key(project, args, {**env, name: "/elsewhere"}) == key, name

    assert parse_key(project, ["--vars", json.dumps({"duckdb_path": "b.duckdb"})], env) != key
    assert parse_key(project, args, {**env, "DBT_PARTIAL_PARSE": "false"}) != key
    model = project / "models" / "staging" / "stg_units.sql"
    reads_env = "\n-- {{ env_var('ASSESSMENT_TEST_ONLY', 'x') }}\n"
    model.write_text(model.read_text(encoding="utf-8") + reads_env, encoding="utf-8")
    edited = parse_key(project, args, env)
    assert edited != key
    # a variable the project reads with env_var() is part of the key, set or not
    assert parse_key(project, args, {**env, "ASSESSMENT_TEST_ONLY": "y"}) != edited
    (project / "macros" / "new_macro.sql").write_text("{% macro m() %}1{% endmacro %}\n", encoding="utf-8")
    with_macro = parse_key(project, args, env)
    assert with_macro != edited
    # only the top-level folders dbt writes are left out, not a project folder of the same name
    (project / "models" / "target").mkdir()
    (project / "models" / "target" / "m.sql").write_text("select 1 as x\n", encoding="utf-8")
    assert parse_key(project, args, env) != with_macro


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
    original = model.read_text(encoding="utf-8")
    model.write_text(original + "\n-- edited by the test\n", encoding="utf-8")
    third = run_manifest("run-3", project, tmp_path / "t3", args, notes.append)
    assert notes[2].startswith(PARSED_NOTE), notes
    assert "-- edited by the test" in third.nodes["model.assessment_warehouse.stg_units"].raw_code
    assert len(list((project / "target").glob(f"{PARSE_CACHE_PREFIX}*"))) == 2
    # back to the first project (another data folder's registry, a reverted edit): its parse was kept
    model.write_text(original, encoding="utf-8")
    fourth = run_manifest("run-4", project, tmp_path / "t4", args, notes.append)
    assert notes[3].startswith(CACHED_NOTE), notes
    assert "-- edited by the test" not in fourth.nodes["model.assessment_warehouse.stg_units"].raw_code


@dataclass
class _Parse:
    name: str


def test_the_parse_cache_keeps_the_parses_used_last(tmp_path: Path) -> None:
    """KEPT_PARSES of them: storing one more drops the one used longest ago, and a parse loaded counts as
    used (it is kept over parses stored after it but not used since)."""
    for i in range(KEPT_PARSES):
        store_parse(tmp_path, f"k{i}", _Parse(f"p{i}"))
        os.utime(tmp_path / f"{PARSE_CACHE_PREFIX}k{i}.pickle", (1000 + i, 1000 + i))
    assert load_cached_parse(tmp_path, "k0") == _Parse("p0")  # k0 is now the one used last
    store_parse(tmp_path, "new", _Parse("new"))
    files = tmp_path.glob(f"{PARSE_CACHE_PREFIX}*.pickle")
    kept = {p.name.removeprefix(PARSE_CACHE_PREFIX).removesuffix(".pickle") for p in files}
    assert kept == {"k0", "k2", "k3", "new"}


def _parse_notes(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [m for m in _messages(instance, run_id) if m.startswith((PARSED_NOTE, CACHED_NOTE))]


def _base_tables(database: Path) -> dict[str, pl.DataFrame]:
    """Every table of the file, rows in a fixed order."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() where not internal order by all"
        ).fetchall()
        return {
            f"{schema}.{table}": pl.from_arrow(
                con.sql(f'select * from "{schema}"."{table}" order by all').to_arrow_table()
            )
            for schema, table in names
        }


def test_a_run_in_a_new_data_folder_reuses_the_parse_and_builds_the_same_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse depends on no data folder (the sources' paths are relative to it, looked up through
    DuckDB's file_search_path) and on no registry (stg_units renders its path when it runs): the quarter
    models built in a second, fresh data folder with its registry elsewhere load the parse the first
    folder's run made, read that folder's own raw files and registry (the first folder is moved away
    before) and build the same tables."""
    project = _project_copy(tmp_path)  # a parse cache of its own, empty at first
    resource = WarehouseDbtCli(project_dir=str(project), dbt_executable=dbt_executable())
    quarters = ("2025Q1",)
    notes: list[str] = []
    tables: list[dict[str, pl.DataFrame]] = []
    # the first registry inside its data folder (as a generated province's), the second outside it, on a
    # path an operator may well have (a quote, a space, CJK), which must reach SQL intact
    for name, registry_at in (("first", "first/registry"), ("second 数据 o'brien", "名册 o'brien")):
        data = tmp_path / name
        write_raw(data, tiny_city(quarters), quarters)
        registry = write_registry(tmp_path / registry_at / "units.csv")
        database = point_at(monkeypatch, data)
        monkeypatch.setenv("ASSESSMENT_REGISTRY_CSV", str(registry))
        assert dg.materialize([rules_table]).success
        instance = dg.DagsterInstance.ephemeral()
        built = dg.materialize(
            [warehouse_quarter_models], partition_key="2025Q1", resources={"dbt": resource}, instance=instance
        )
        assert built.success
        notes += _parse_notes(instance, built.run_id)
        tables.append(_base_tables(database))
        data.rename(tmp_path / f"{name}-moved")  # nothing of this folder is there for the next run
    assert [n.split(" (")[0].split(" in ")[0] for n in notes] == [PARSED_NOTE, CACHED_NOTE]
    first, second = tables
    assert "marts.fct_person_quarter" in first and first["marts.fct_person_quarter"].height > 0
    assert set(second) == set(first)
    for table, frame in sorted(first.items()):
        # Floats to 1e-12: DuckDB's parallel aggregates may add in another order from build to build. The
        # build's own bookkeeping names the Dagster run that made it.
        want, got = frame.drop("run_id", strict=False), second[table].drop("run_id", strict=False)
        assert_frame_equal(got, want, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def test_the_parse_make_env_leaves_serves_the_first_run_of_a_fresh_clone(tmp_path: Path) -> None:
    """`make env` (prepare_manifest) parses with the args a default run parses with and leaves that
    parse in the cache: the first run of a fresh clone does not parse."""
    project = _project_copy(tmp_path)
    assert (project / "target" / "manifest.json") == prepare_manifest(project, force=True)
    notes: list[str] = []
    run_manifest("first-run", project, tmp_path / "t", default_parse_args(), notes.append)
    assert [n.startswith(CACHED_NOTE) for n in notes] == [True], notes
    assert (project / "target" / "partial_parse.msgpack").exists()  # a later real parse starts from it


def _resource(data_dir: Path) -> WarehouseDbtCli:
    return WarehouseDbtCli(
        project_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable(), data_dir=str(data_dir)
    )


def test_the_parse_vars_name_no_data_folder_and_a_comma_in_it_is_refused(tmp_path: Path) -> None:
    """The parse is given the build file's name only, never a folder of the run or the registry: two data
    folders parse alike. The data folder becomes DuckDB's file_search_path, a comma-separated list."""
    one = _resource(tmp_path / "one")
    two = _resource(tmp_path / "two")
    elsewhere = WarehouseDbtCli(
        project_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
        data_dir=str(tmp_path / "three"),
        registry_csv=str(tmp_path / "名册" / "units.csv"),
    )
    assert (
        one.parse_vars(tmp_path / "one" / "build.duckdb")
        == two.parse_vars(tmp_path / "two" / "build.duckdb")
        == elsewhere.parse_vars(tmp_path / "three" / "build.duckdb")
    )
    assert one.parse_vars(tmp_path / "x.duckdb")["duckdb_path"] == "x.duckdb"
    assert one.dbt_vars(tmp_path / "w.duckdb")["data_dir"] == str(tmp_path / "one")
    with pytest.raises(ValueError, match="comma"):
        _resource(tmp_path / "a,b").dbt_vars(tmp_path / "w")


def test_commands_outside_a_step_keep_only_their_newest_target_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every dbt command through the resource writes a `command-…` folder under target/ (compiled SQL,
    run_results.json, dbt.log); only the newest are kept, the newest command's among them, so its
    results can still be read. Other folders of target/ are never touched."""
    from pipelines.defs.dbt import inprocess

    monkeypatch.setattr(inprocess, "KEEP_COMMAND_TARGETS", 2)
    project = _project_copy(tmp_path)
    resource = WarehouseDbtCli(project_dir=str(project), dbt_executable=dbt_executable())
    bystander = project / "target" / "warehouse_quarter_models-run-kept"
    bystander.mkdir(parents=True)
    database = tmp_path / "w.duckdb"
    outcomes = [resource.run(["compile", "--inline", "select 1 as x"], database=database) for _ in range(4)]
    newest = {outcome.target_path.name for outcome in outcomes[-2:]}
    deadline = time.monotonic() + 60  # the pruning runs in a background thread
    while {p.name for p in (project / "target").glob("command-*")} != newest and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {p.name for p in (project / "target").glob("command-*")} == newest
    assert outcomes[-1].results and bystander.is_dir()
