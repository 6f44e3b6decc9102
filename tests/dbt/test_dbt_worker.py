"""dbt in its worker process (pipelines/defs/dbt/worker.py): the dbt steps run there and fail there as
they did in the step's process; a dead or abandoned child is replaced; the parse it loads ahead is
taken once."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.dbt import dbt_api, worker
from pipelines.defs.dbt.assets import warehouse_annual_models
from pipelines.defs.dbt.dbt_api import (
    PARSE_CACHE_PREFIX,
    load_cached_parse,
    preload_cached_parse,
    project_args,
)
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.dbt.resources import dbt_resource, default_parse_args
from pipelines.paths import PROJECT_ROOT


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def _annual_models_on_an_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """The annual dbt step on a warehouse that holds nothing (its models fail): the file, the instance
    and the result. The variables are set now, after the worker may have started."""
    database = tmp_path / "empty.duckdb"
    duckdb.connect(str(database)).close()
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(database))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [warehouse_annual_models], resources={"dbt": dbt_resource()}, instance=instance, raise_on_error=False
    )
    return database, instance, result


@pytest.mark.parametrize("in_worker", [True, False], ids=["worker", "in-process"])
def test_a_failing_build_names_its_nodes_and_leaves_the_file_free_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_worker: bool
) -> None:
    """The annual models on a warehouse that holds nothing: the step fails naming the failed models, and
    the file opens again with other settings, whether dbt ran in the worker or in the step's process.
    The variables are set after the worker may have started: each command carries them."""
    monkeypatch.setenv(worker.WORKER_ENV, "1" if in_worker else "0")
    if in_worker:
        assert worker.start() is not None  # as the operator command does; a lone step runs dbt itself
    database, instance, result = _annual_models_on_an_empty_file(tmp_path, monkeypatch)
    assert not result.success
    where = "in its worker process" if in_worker else "in process"
    assert any(m.startswith(f"Running dbt {where}") for m in _messages(instance, result.run_id))
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    text = str(failure.step_failure_data.error)
    assert "model.assessment_warehouse." in text and "dbt build failed" in text
    with duckdb.connect(str(database), read_only=True) as reopened:
        assert reopened.execute("select 1").fetchone() == (1,)


def _request(tmp_path: Path) -> worker.DbtRequest:
    target = tmp_path / "target"
    args = ["parse", "--no-write-json", *project_args(DBT_PROJECT_DIR, target), *default_parse_args()]
    run_id = f"test-{uuid.uuid4().hex}"  # a run of its own: the worker parses or loads, never reuses
    return worker.request_for(run_id, args, default_parse_args(), DBT_PROJECT_DIR, target)


def test_a_child_that_died_fails_the_command_and_the_next_start_replaces_it(tmp_path: Path) -> None:
    child = worker.start()
    assert child is not None and child.alive()
    child.process.kill()
    child.process.wait()
    with pytest.raises(worker.DbtWorkerDiedError, match="exit code -9"):
        list(child.command(_request(tmp_path)))
    replacement = worker.start()
    assert replacement is not None and replacement is not child and replacement.alive()


def test_a_command_abandoned_before_it_is_done_stops_the_child(tmp_path: Path) -> None:
    """The child may still be building and holding the build file: it is stopped, and the next start
    makes a new one."""
    child = worker.start()
    assert child is not None
    answers = child.command(_request(tmp_path))
    kind, _ = next(answers)  # the parse note comes before dbt runs
    assert kind == "log"
    answers.close()
    assert not child.alive()
    assert worker.start() is not child


def test_a_whole_command_answers_with_the_parse_note_and_done(tmp_path: Path) -> None:
    child = worker.start()
    assert child is not None
    answers = list(child.command(_request(tmp_path)))
    assert answers[-1] == ("done", None)
    notes = [text for kind, text in answers[:-1] if kind == "log"]
    assert len(notes) == 1 and notes[0].startswith((dbt_api.CACHED_NOTE, dbt_api.PARSED_NOTE)), notes
    assert child.alive()  # ready for the next command


def test_switched_off_no_child_is_started_or_used(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker.start() is not None and worker.running() is not None
    monkeypatch.setenv(worker.WORKER_ENV, "0")
    assert worker.start() is None
    assert worker.running() is None  # the steps then run dbt in their own process


def test_a_step_without_a_running_worker_runs_dbt_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs from the UI, the schedule or the sensors execute each step in a process of its own: no worker
    was started there, and the step does not start one."""
    child = worker.start()
    assert child is not None
    child.stop(kill=True)
    assert worker.running() is None
    _, instance, result = _annual_models_on_an_empty_file(tmp_path, monkeypatch)
    assert any(m.startswith("Running dbt in process") for m in _messages(instance, result.run_id))
    assert worker.running() is None


def test_a_preloaded_parse_is_taken_once_then_read_again(tmp_path: Path) -> None:
    key = "k" * 64
    (tmp_path / f"{PARSE_CACHE_PREFIX}{key}.pickle").write_bytes(pickle.dumps({"parse": 1}))
    preload_cached_parse(tmp_path)
    first = load_cached_parse(tmp_path, key)
    second = load_cached_parse(tmp_path, key)
    assert first == second == {"parse": 1}
    assert first is not second  # the second came from the file: a build changes the object it used
    assert load_cached_parse(tmp_path, "other") is None


def test_the_worker_loads_dbt_without_dagster() -> None:
    """The child imports dbt's API module and warms dbt, never Dagster or dagster-dbt (about a second of
    imports it would pay before its first command, while the run starts on the other core)."""
    probe = (
        "import sys\n"
        "from pipelines.defs.dbt import dbt_api, worker\n"
        "from pipelines.defs.dbt.warmup import warm_dbt\n"
        "assert warm_dbt() == []\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'dagster', 'dagster_dbt'}))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "[]", shown.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own priority is Linux's")
def test_the_warm_up_is_niced_and_the_commands_are_not(tmp_path: Path) -> None:
    """The warm-up yields the cores to the run's start-up; dbt's commands, run from the child's main
    thread, keep the normal priority (the child was started at ours)."""
    child = worker.start()
    assert child is not None
    answers = list(child.command(_request(tmp_path)))  # served once the warm-up is over
    assert answers[-1] == ("done", None)
    stat = Path(f"/proc/{child.process.pid}/stat").read_text()
    nice = int(stat[stat.rindex(")") + 2 :].split()[16])  # field 19 of proc(5)
    assert nice == os.nice(0)
    assert worker.WARM_UP_NICE > 0


def test_a_worker_that_cannot_start_leaves_dbt_to_the_steps(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    running = worker.start()
    assert running is not None
    running.stop(kill=True)

    def no_process(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(worker.subprocess, "Popen", no_process)
    assert worker.start() is None
    assert worker.running() is None
    assert "could not start" in caplog.text
