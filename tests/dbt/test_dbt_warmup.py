"""dbt's start-up work done ahead (pipelines/defs/dbt/warmup.py): a run that uses the dbt resource starts
it, it warms everything it names, and after it a dbt command in the same process builds no JSON schema of
its own (an upgrade that adds or moves one fails here instead of quietly costing the quarter step)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.dbt import resources, warmup
from pipelines.defs.dbt import worker as dbt_worker
from pipelines.defs.dbt.dbt_api import cached_or_parsed, store_parse
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.dbt.resources import WarehouseDbtCli, dbt_resource, default_parse_args
from pipelines.paths import PROJECT_ROOT


@pytest.mark.parametrize(("worker_running", "expected"), [(False, ["warmup"]), (True, [])])
def test_a_run_that_uses_the_dbt_resource_starts_the_warmup_unless_a_worker_runs(
    monkeypatch: pytest.MonkeyPatch, worker_running: bool, expected: list[str]
) -> None:
    """A real materialisation: Dagster initialises the resource before the step, which starts the
    warm-up thread once, unless dbt's worker process runs beside it (the operator command started it;
    worker.py), which has done that work; the step then finds the resource as usual."""
    started: list[str] = []
    monkeypatch.setattr(resources, "start_warmup", lambda: started.append("warmup"))
    monkeypatch.setattr(dbt_worker, "running", lambda: object() if worker_running else None)

    @dg.asset
    def uses_dbt(dbt: WarehouseDbtCli) -> str:
        return dbt.project_dir

    result = dg.materialize([uses_dbt], resources={"dbt": dbt_resource()})
    assert result.success
    assert started == expected
    assert result.output_for_node("uses_dbt") == dbt_resource().project_dir


def test_the_warmup_thread_starts_once_and_warms_everything_it_names() -> None:
    first = warmup.start_warmup()
    assert warmup.start_warmup() is first
    first.join(timeout=120)
    assert not first.is_alive()
    assert warmup.warm_dbt() == []  # every module and schema class it names still exists


WARMED_THEN_DBT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import duckdb

    from pipelines.defs.dbt.warmup import warm_dbt

    assert warm_dbt() == []
    from dbt.cli.main import dbtRunner

    from pipelines.defs.dbt.dbt_api import close_duckdb, load_cached_parse, project_args
    from pipelines.defs.dbt.project import DBT_PROJECT_DIR
    from pipelines.defs.dbt.resources import dbt_resource

    scratch = Path(sys.argv[1])
    database = scratch / "w.duckdb"
    duckdb.connect(str(database)).close()
    # the parse the test stored for this child: a real parse would build the schemas itself
    manifest = load_cached_parse(scratch / "parse-cache", "child")
    assert manifest is not None
    import dbt_common.dataclass_schema as schemas

    built = []
    original = schemas.build_json_schema

    def recording(cls, *args, **kwargs):
        built.append(f"{cls.__module__}.{cls.__qualname__}")
        return original(cls, *args, **kwargs)

    schemas.build_json_schema = recording
    argv = [
        "build", "--select", "tag:no_such_tag",
        *project_args(DBT_PROJECT_DIR, scratch / "target"),
        "--vars", json.dumps(dbt_resource().dbt_vars(database)),
    ]
    result = dbtRunner(manifest=manifest).invoke(argv)
    close_duckdb()
    assert result.success, result.exception
    print(json.dumps(built))
    """
)


def test_after_the_warmup_a_dbt_command_builds_no_schema_of_its_own(tmp_path: Path) -> None:
    """In a fresh process (this one may have run dbt already): the warm-up, then a real dbt command on
    the project (a build that selects nothing: it still loads and validates the project, flags,
    profile and DuckDB credentials and makes the adapter); every schema they need was built by the
    warm-up."""
    # The child's parse, kept in this test's own folder: the project's shared cache holds one parse, and
    # another test running beside this one may replace it with a parse made from other vars.
    manifest, _ = cached_or_parsed(DBT_PROJECT_DIR, tmp_path / "parse", default_parse_args())
    store_parse(tmp_path / "parse-cache", "child", manifest)
    script = tmp_path / "warmed.py"
    script.write_text(WARMED_THEN_DBT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
