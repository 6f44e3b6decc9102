"""One writer per data directory: a second run is refused at once, naming the running one.

The holder is a real second process (`python -c`), as another operator's run would be; killing it
releases the lock with no clean-up.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from pipelines import runlock
from pipelines.paths import PROJECT_ROOT
from pipelines.publish.warehouse import BUILD_TAG

HOLDER_SCRIPT = """
import sys, time
from pathlib import Path
from pipelines import runlock
runlock.acquire(Path(sys.argv[1]), "python -m pipelines.ops run --quarter 2025Q3")
print("held", flush=True)
time.sleep(600)
"""


@contextmanager
def held_elsewhere(data: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data directory's lock until the block ends (then it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(data)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_a_second_writer_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path) as proc:
        started = time.perf_counter()
        with pytest.raises(runlock.RunLockedError) as refused:
            runlock.acquire(tmp_path)
        assert time.perf_counter() - started < 1.0  # refused, not queued
        message = str(refused.value)
        assert "\n" not in message
        assert f"pid {proc.pid}" in message and os.uname().nodename in message
        assert "python -m pipelines.ops run --quarter 2025Q3" in message
        who = runlock.holder(tmp_path)
        assert who is not None and who.pid == proc.pid
        assert abs((datetime.fromisoformat(who.started_at) - datetime.now(UTC)).total_seconds()) < 60
        proc.send_signal(signal.SIGKILL)  # killed mid-run: the kernel drops its lock
        proc.wait(timeout=30)
        assert runlock.holder(tmp_path) is None
        with runlock.hold(tmp_path, "next run") as me:
            assert me.pid == os.getpid()
            details = json.loads(runlock.lock_path(tmp_path).read_text(encoding="utf-8"))
            assert details["command"] == "next run"


def test_the_lock_is_reentrant_in_one_process_and_released_after(tmp_path: Path) -> None:
    with runlock.hold(tmp_path, "outer"), runlock.hold(tmp_path, "inner step"):
        assert runlock.holder(tmp_path) is None  # this process is not "another run"
    probe = subprocess.run(
        [sys.executable, "-c", HOLDER_SCRIPT.replace("time.sleep(600)", ""), str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr  # released: another process takes it


def test_a_look_at_the_holder_does_not_refuse_a_run_starting_then(tmp_path: Path) -> None:
    """holder() (the sensor and the schedule, every tick) takes a shared flock for an instant; a run
    starting in that instant was refused, naming a run that had ended long before."""
    with runlock.hold(tmp_path, "an old run that ended long ago"):
        pass
    look = os.open(runlock.lock_path(tmp_path), os.O_RDONLY)
    fcntl.flock(look, fcntl.LOCK_SH)  # what holder() holds for an instant, here for 0.1 s
    let_go = threading.Timer(0.1, os.close, (look,))  # closing the descriptor drops its lock
    let_go.start()
    try:
        with runlock.hold(tmp_path, "run under test") as me:
            assert me.pid == os.getpid() and me.command == "run under test"
    finally:
        let_go.join()


def test_ops_run_is_refused_before_doing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines import ops

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("ASSESSMENT_DEMO", "1")
    (tmp_path / "landing" / "2025Q3" / "371602-X-001").mkdir(parents=True)
    with held_elsewhere(tmp_path) as proc:
        started = time.perf_counter()
        code = ops.main(["run", "--quarter", "2025Q3"])
        assert code == 3 and time.perf_counter() - started < 5
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"pid {proc.pid}" in err
    assert not (tmp_path / "raw").exists() and not (tmp_path / "logs").exists()
    assert proc.returncode is not None


def test_sensor_and_schedule_skip_while_another_run_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.defs.automation.schedules import quarter_after_deadline
    from pipelines.defs.automation.sensors import new_submissions

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    (tmp_path / "landing" / "2025Q3" / "371602-X-001").mkdir(parents=True)
    with dg.instance_for_test() as instance, held_elsewhere(tmp_path) as proc:
        result = new_submissions(dg.build_sensor_context(instance=instance, cursor='{"2025Q3": "old"}'))
        assert result.run_requests in (None, [])
        assert result.cursor is None  # nothing marked handled: the change is seen again later
        assert f"pid {proc.pid}" in str(result.skip_reason.skip_message)
        when = datetime(2025, 10, 20, 6, 0, tzinfo=UTC)
        skipped = quarter_after_deadline(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        )
        assert isinstance(skipped, dg.SkipReason) and f"pid {proc.pid}" in str(skipped.skip_message)


def test_the_ingest_job_refuses_at_its_first_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.defs.ingest.assets import ingest_quarter_assets

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    (tmp_path / "landing" / "2025Q3").mkdir(parents=True)
    with held_elsewhere(tmp_path) as proc:
        result = dg.materialize([ingest_quarter_assets], partition_key="2025Q3", raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert f"pid {proc.pid}" in str(failure.step_failure_data.user_failure_data.description)
    assert not (tmp_path / "raw").exists()


def test_ops_run_is_refused_while_a_dagster_run_is_past_its_ingest_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Dagster run holds the file lock during its ingest step only; while it builds and publishes the
    instance's run list says it is running, and the CLI refuses on that."""
    from pipelines import ops

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("ASSESSMENT_DEMO", "1")
    (tmp_path / "landing" / "2025Q3" / "371602-X-001").mkdir(parents=True)
    instance = ops.project_instance()
    building = dg.DagsterRun(
        job_name="quarterly_pipeline",
        run_id="0f1e2d3c-run-building",
        status=dg.DagsterRunStatus.STARTED,
        tags={"warehouse/writer": "true", "dagster/partition": "2025Q3"},
    )
    instance.add_run(building)
    assert ops.main(["run", "--quarter", "2025Q3"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "0f1e2d3c-run-building" in err and "quarterly_pipeline" in err
    assert not (tmp_path / "raw").exists()
    assert runlock.holder(tmp_path) is None  # the refused run let go of the file lock
    instance.report_run_failed(building)  # once it is over, the CLI runs again
    from pipelines.defs.automation.sensors import running_writers

    assert running_writers(instance, BUILD_TAG) == []


def test_a_killed_commands_run_left_started_is_marked_failed_by_the_next_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command killed outright (kill -9, the out-of-memory killer) leaves its Dagster run STARTED: the
    sensor then skipped that quarter for good. The next command holds the run lock, so no command's run is
    alive, and it marks those runs failed; a UI or daemon run still refuses it (test above)."""
    from pipelines import ops
    from pipelines.cli.runner import DATA_DIR_TAG, _refuse_if_dagster_writes
    from pipelines.defs.automation.sensors import busy_quarters

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path / "data"))
    instance = ops.project_instance()

    def command_run(run_id: str, data: Path, quarter: str) -> dg.DagsterRun:
        tags = {"warehouse/writer": "true", "dagster/partition": quarter, BUILD_TAG: "b1"}
        run = dg.DagsterRun(
            job_name="quarterly_pipeline",
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags={**tags, DATA_DIR_TAG: str(data.resolve())},
        )
        instance.add_run(run)
        return run

    abandoned = command_run("0f1e2d3c-killed-command", tmp_path / "data", "2025Q3")
    # a live command on another data directory that shares the Dagster instance is none of its business
    elsewhere = command_run("0f1e2d3c-other-data-dir", tmp_path / "other", "2025Q2")
    assert busy_quarters(instance) == {"2025Q3", "2025Q2"}
    with runlock.hold(tmp_path / "data"):
        _refuse_if_dagster_writes(instance)
    for run_id, status in ((abandoned.run_id, "FAILURE"), (elsewhere.run_id, "STARTED")):
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus[status]
    assert busy_quarters(instance) == {"2025Q2"}
