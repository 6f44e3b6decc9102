"""The unit-scoped path on the tiny city through the real dbt asset: a build of a quarter records what
its unit-grain rows were built from; after one unit's raw ratings change, the next build of that quarter
rebuilds that unit only (scope units = [U1]), and every marts and quality table equals a build from
nothing of the same raw files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.defs.dbt.assets import rules_table, warehouse_annual_models, warehouse_quarter_models
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.dbt.resources import dbt_resource
from pipelines.defs.dbt.scope import changed_units, global_key
from tests.dbt.conftest import point_at
from tests.dbt.raw_fixtures import U1, tiny_city, write_raw, write_registry
from tests.publish.test_incremental_equals_full import _differences, _tables

QUARTERS = ("2025Q1", "2025Q2")


def _build(quarters: tuple[str, ...] = QUARTERS) -> None:
    resources = {"dbt": dbt_resource()}
    for quarter in quarters:
        assert dg.materialize([warehouse_quarter_models], resources=resources, partition_key=quarter).success
    assert dg.materialize([warehouse_annual_models], resources=resources).success


def test_one_changed_unit_rebuilds_that_unit_and_equals_a_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_raw(data, tiny_city(QUARTERS), QUARTERS)
    write_registry(data / "registry" / "units.csv")
    database = point_at(monkeypatch, data)
    assert dg.materialize([rules_table]).success
    _build()  # every quarter, then the annual models: records what the unit rows were built from
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
    _build(("2025Q2",))

    fresh = tmp_path / "fresh"
    shutil.copytree(data / "raw", fresh / "raw")
    shutil.copytree(data / "registry", fresh / "registry")
    fresh_db = point_at(monkeypatch, fresh)
    _build()
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


def test_the_global_key_follows_the_projects_macros(tmp_path: Path) -> None:
    """A changed macro of the project (a generic test, the quarter scoping) forces a whole-quarter build,
    as a changed model does; dbt's own macros are pinned with dbt and do not count."""
    parsed = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    manifest = tmp_path / "manifest.json"

    def key() -> str:
        manifest.write_text(json.dumps(parsed), encoding="utf-8")
        return global_key(tmp_path / "units.csv", tmp_path / "rules", manifest)

    before = key()
    own = "macro.assessment_warehouse.test_expression_is_true"
    parsed["macros"][own]["macro_sql"] += "\n"
    after = key()
    assert after != before
    theirs = next(u for u, m in parsed["macros"].items() if m["package_name"] != "assessment_warehouse")
    parsed["macros"][theirs]["macro_sql"] += "\n"
    assert key() == after
