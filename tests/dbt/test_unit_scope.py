"""The unit-scoped path on the tiny city through the real dbt asset: a build of a quarter records what
its unit-grain rows were built from; after one unit's raw ratings change, the next build of that quarter
rebuilds that unit only (scope units = [U1]), leaves out the data tests the global key settles, and every
marts and quality table equals a build from nothing of the same raw files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.defs.dbt.assets import (
    KEYED_SOURCES,
    RUNTIME_BUILD,
    data_tests_settled_by_the_global_key,
    quarter_build_args,
    rules_table,
    warehouse_annual_models,
    warehouse_quarter_models,
)
from pipelines.defs.dbt.dbt_api import parse_key
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.dbt.resources import dbt_resource
from pipelines.defs.dbt.scope import (
    BUILT_GLOBAL,
    BUILT_UNITS,
    Scope,
    changed_units,
    global_key,
    hash_columns,
    record_built,
)
from tests.dbt.conftest import build_warehouse, point_at
from tests.dbt.raw_fixtures import U1, tiny_city, write_raw, write_registry
from tests.publish.test_incremental_equals_full import _differences, _tables

QUARTERS = ("2025Q1", "2025Q2")


def _build(quarters: tuple[str, ...] = QUARTERS) -> list[str]:
    """Returns the quarter runs' ids."""
    resources = {"dbt": dbt_resource()}
    run_ids = []
    for quarter in quarters:
        result = dg.materialize([warehouse_quarter_models], resources=resources, partition_key=quarter)
        assert result.success
        run_ids.append(result.run_id)
    assert dg.materialize([warehouse_annual_models], resources=resources).success
    return run_ids


def _tests_run(run_id: str) -> set[str]:
    """The data tests the quarter step of run `run_id` ran (its run_results.json)."""
    (target,) = DBT_PROJECT_DIR.glob(f"target/warehouse_quarter_models-{run_id[:7]}-*")
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"].split(".")[2] for r in results if r["unique_id"].startswith("test.")}


def test_one_changed_unit_rebuilds_that_unit_and_equals_a_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_raw(data, tiny_city(QUARTERS), QUARTERS)
    write_registry(data / "registry" / "units.csv")
    database = point_at(monkeypatch, data)
    assert dg.materialize([rules_table]).success
    # every quarter, then the annual models: records what the unit rows were built from
    (_, full_run) = _build()
    with duckdb.connect(str(database), read_only=True) as con:
        recorded = dict(con.execute("select unit_code, content from main._built_units").fetchall())
    assert U1 in recorded

    ratings = data / "raw" / "ratings" / "2025Q2.parquet"
    frame = pl.read_parquet(ratings)
    score = next(c for c in frame.columns if c.startswith("score_"))
    first = frame.with_row_index().filter(pl.col("unit_code") == U1).get_column("index")[0]
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == first).then(pl.col(score) - 5).otherwise(pl.col(score)).alias(score)
    )
    frame.write_parquet(ratings)

    scope = dbt_resource().prepare_scope(database, "2025Q2")
    assert scope.units == (U1,)
    (scoped_run,) = _build(("2025Q2",))
    settled = set(
        data_tests_settled_by_the_global_key(
            json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
        )
    )
    in_full, in_scoped = _tests_run(full_run), _tests_run(scoped_run)
    assert settled & in_full and not settled & in_scoped  # the whole-quarter build ran them
    assert in_scoped == in_full - settled  # every other test still ran

    fresh = tmp_path / "fresh"
    shutil.copytree(data / "raw", fresh / "raw")
    shutil.copytree(data / "registry", fresh / "registry")
    fresh_db = point_at(monkeypatch, fresh)
    build_warehouse(args=("run",))  # every quarter from nothing, in one plain `dbt run`
    left, right = _tables(database, data), _tables(fresh_db, fresh)
    assert left and set(left) == set(right)
    assert _differences(left, right) == []
    with duckdb.connect(str(database), read_only=True) as con:
        u1 = con.execute(
            "select count(*) from marts.fct_person_quarter where quarter = '2025Q2' and unit_code = ?", [U1]
        ).fetchone()
    assert u1 is not None and u1[0] > 0


def test_changed_units() -> None:
    assert changed_units({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ("b", "c")
    assert changed_units({"a": "1"}, {}) == ("a",)
    assert changed_units({}, {}) == ()


def test_hash_columns_keeps_each_unit_with_its_hash_in_unit_order() -> None:
    assert hash_columns({"b": "2", "a": "1", "c": "3"}) == (["a", "b", "c"], ["1", "2", "3"])
    assert hash_columns({}) == ([], [])


def test_record_built_keeps_every_units_hash_of_the_quarter_and_the_other_quarters(tmp_path: Path) -> None:
    """On a real DuckDB file: a quarter's record replaces that quarter's rows only (same global key), each
    unit with its own hash; a quarter with no units records none; another global key drops every quarter."""
    database = tmp_path / "w.duckdb"
    record_built(database, Scope("2025Q1", None, {"u2": "h2", "u1": "h1"}, "key"))
    record_built(database, Scope("2025Q2", ("u1",), {"u1": "x1", "u3": "x3"}, "key"))
    record_built(database, Scope("2025Q3", None, {}, "key"))

    def recorded() -> tuple[list[tuple[str, str, str]], list[tuple[str]]]:
        with duckdb.connect(str(database)) as con:
            rows = con.execute(f"select * from {BUILT_UNITS} order by all").fetchall()
            return rows, con.execute(f"select * from {BUILT_GLOBAL}").fetchall()

    assert recorded() == (
        [("2025Q1", "u1", "h1"), ("2025Q1", "u2", "h2"), ("2025Q2", "u1", "x1"), ("2025Q2", "u3", "x3")],
        [("key",)],
    )
    record_built(database, Scope("2025Q1", None, {"u1": "n1"}, "key"))
    assert recorded()[0] == [("2025Q1", "u1", "n1"), ("2025Q2", "u1", "x1"), ("2025Q2", "u3", "x3")]
    record_built(database, Scope("2025Q2", None, {"u4": "y4"}, "other"))
    assert recorded() == ([("2025Q2", "u4", "y4")], [("other",)])


def test_the_global_key_follows_the_project_files_not_the_prepared_manifest(tmp_path: Path) -> None:
    """Any edit of the dbt project (a model, a macro of the project, a YAML config) forces a whole-quarter
    build. The key reads the files the run parses, not target/manifest.json, which a model edited after
    `make env` leaves stale: the run would build that model from the new SQL for the changed units only.
    Nothing dbt writes into target/ counts."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "target").mkdir()
    manifest = project / "target" / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")

    def key() -> str:
        return global_key(tmp_path / "units.csv", tmp_path / "rules", parse_key(project, [], {}))

    before = key()
    manifest.write_text('{"nodes": {}}', encoding="utf-8")
    (project / "target" / "run_results.json").write_text("{}", encoding="utf-8")
    assert key() == before
    keys = {before}
    for edited in (
        project / "models" / "marts" / "quarterly" / "fct_person_quarter.sql",
        project / "macros" / "quarters.sql",
        project / "tests" / "generic" / "row_rules.sql",
        project / "dbt_project.yml",
    ):
        assert edited.exists(), edited
        edited.write_text(edited.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        keys.add(key())
    assert len(keys) == 5


def test_the_tests_a_unit_scoped_build_leaves_out_read_only_the_keyed_files() -> None:
    """On the project's manifest: the tests on the rules and registry views are left out, none that reads
    a quarter's raw rows is; on a made-up manifest, one input outside the key is enough to keep a test."""
    parsed = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    settled = data_tests_settled_by_the_global_key(parsed)
    assert "row_rules_int_rules_tiers" in settled
    assert "row_rules_stg_units" in settled
    assert not [name for name in settled if "stg_ratings" in name or "fct_" in name or "int_person" in name]

    rules, ratings = sorted(KEYED_SOURCES)[0], "source.assessment_warehouse.raw.ratings"

    def node(kind: str, *inputs: str) -> dict[str, object]:
        return {"resource_type": kind, "depends_on": {"nodes": list(inputs)}}

    made_up = {
        "nodes": {
            "model.p.on_rules": node("model", rules),
            "model.p.on_both": node("model", "model.p.on_rules", ratings),
            "model.p.on_nothing": node("model"),
            "test.p.a": {**node("test", "model.p.on_rules"), "name": "a"},
            "test.p.b": {**node("test", "model.p.on_both"), "name": "b"},
            "test.p.c": {**node("test", "model.p.on_nothing"), "name": "c"},
            # a model with no declared input reads something dbt does not know (a file, a var): not keyed
            "test.p.d": {**node("test", "model.p.on_rules", "model.p.on_nothing"), "name": "d"},
        }
    }
    assert data_tests_settled_by_the_global_key(made_up) == ["a"]
    assert quarter_build_args(False) == RUNTIME_BUILD
    assert quarter_build_args(True)[-2:] == ["--exclude", " ".join(settled)]
