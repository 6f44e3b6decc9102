"""The project's own table and data-test materializations (dbt_project/macros/table.sql, test.sql),
run by real dbt-duckdb on a small project of their own: a table replaced in one transaction keeps the
old table when its new query fails, leaves no helper relation behind, replaces a view of the same
name; a data test without a transaction around it still passes and fails as dbt's own does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.dbt.project import DBT_PROJECT_DIR

pytestmark = pytest.mark.xdist_group("dbt")  # dbt subprocesses: beside the other dbt tests


def _project(root: Path) -> Path:
    project = root / "lean"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    for macro in ("table.sql", "test.sql"):
        shutil.copy(DBT_PROJECT_DIR / "macros" / macro, project / "macros" / macro)
    (project / "dbt_project.yml").write_text(
        "name: lean\nversion: '1.0.0'\nconfig-version: 2\nprofile: lean\n"
        "flags:\n  send_anonymous_usage_stats: false\n",
        encoding="utf-8",
    )
    (project / "profiles.yml").write_text(
        textwrap.dedent(f"""\
            lean:
              target: dev
              outputs:
                dev:
                  type: duckdb
                  path: "{root / "lean.duckdb"}"
                  threads: 1
            """),
        encoding="utf-8",
    )
    return project


def _model(project: Path, sql: str, yml: str = "") -> None:
    (project / "models" / "m.sql").write_text(sql, encoding="utf-8")
    (project / "models" / "m.yml").write_text(yml or "version: 2\n", encoding="utf-8")


def _build(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "build", "--project-dir", str(project),
         "--profiles-dir", str(project), "--no-partial-parse", "--no-use-colors"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _relations(database: Path) -> dict[str, str]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("select table_name, table_type from information_schema.tables").fetchall()
    return dict(rows)


def _rows(database: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select * from m order by all").fetchall()


def test_a_table_is_replaced_in_one_transaction_and_a_failed_build_keeps_the_old_one(tmp_path: Path) -> None:
    project = _project(tmp_path)
    database = tmp_path / "lean.duckdb"
    _model(project, "{{ config(materialized='view') }}\nselect 0 as a")
    assert _build(project).returncode == 0
    assert _relations(database) == {"m": "VIEW"}

    _model(project, "{{ config(materialized='table') }}\nselect 1 as a union all select 2")
    built = _build(project)
    assert built.returncode == 0, built.stdout
    assert _relations(database) == {"m": "BASE TABLE"}  # the view replaced, no __dbt_tmp or backup
    assert _rows(database) == [(1,), (2,)]

    _model(project, "{{ config(materialized='table') }}\nselect 3 as a union all select error('boom')")
    failed = _build(project)
    assert failed.returncode != 0 and "boom" in failed.stdout
    assert _relations(database) == {"m": "BASE TABLE"}
    assert _rows(database) == [(1,), (2,)]  # the old rows: the drop was rolled back with the create


def test_data_tests_pass_and_fail_as_before(tmp_path: Path) -> None:
    project = _project(tmp_path)
    tests = (
        "version: 2\nmodels:\n  - name: m\n    columns:\n"
        "      - name: a\n        data_tests: [not_null, unique]\n"
    )
    _model(project, "{{ config(materialized='table') }}\nselect 1 as a union all select 2", tests)
    passed = _build(project)
    assert passed.returncode == 0 and "PASS=3" in passed.stdout, passed.stdout
    _model(project, "{{ config(materialized='table') }}\nselect 1 as a union all select null", tests)
    failed = _build(project)
    assert failed.returncode != 0, failed.stdout
    # a failed test is dbt's FAIL (its summary counts it with the errors), the other test still passes
    assert "FAIL 1 not_null_m_a" in failed.stdout and "Failure in test not_null_m_a" in failed.stdout
    assert "PASS unique_m_a" in failed.stdout and "PASS=2" in failed.stdout
