"""The operator command's runner (pipelines/cli/runner.py) apart from the command line: the garbage
collector while a command starts, and how a run's events reach the operator's progress and the stage
hook (real Dagster runs on an ephemeral instance)."""

from __future__ import annotations

import contextlib
import gc
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli.runner import AssetIndex, QuietObserver, Watcher, command_collector


class _Cycle:
    """An object in a reference cycle with itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@contextlib.contextmanager
def _collections() -> Iterator[list[int]]:
    """The generation of every collection the collector starts meanwhile."""
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        yield collections
    finally:
        gc.callbacks.remove(count)


def test_the_collector_is_off_while_a_command_starts_then_walks_only_what_the_run_makes() -> None:
    """runner.command_collector: no collection before `settle` however much is allocated; after it,
    what existed before is not walked (a cycle already garbage then stays until the end) while what
    the run makes is collected; afterwards everything is collectable again."""
    with _collections() as collections:
        with command_collector() as settle:
            inherited = [_Cycle() for _ in range(20 * gc.get_threshold()[0])]
            assert collections == []
            inherited_ref = weakref.ref(inherited[0])
            del inherited
            settle()
            assert gc.isenabled() and gc.get_freeze_count() > 0
            made_ref = weakref.ref(_Cycle())
            gc.collect()
            assert made_ref() is None
            assert inherited_ref() is not None
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert inherited_ref() is None


def test_the_collector_is_left_as_the_caller_had_it_also_when_the_start_fails() -> None:
    gc.disable()
    try:
        with pytest.raises(RuntimeError), command_collector():
            raise RuntimeError("fails while starting")
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), command_collector() as settle:
        settle()
        raise RuntimeError("fails during the run")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_the_watcher_hears_each_step_as_it_ends_while_the_run_goes_on() -> None:
    """runner.Watcher: the stage hook and the observer hear of a step when the instance stores its
    success, before the next step starts (no polling delay: the moment of publication the benchmark
    and the operator see is the step's own); a failing observer does not fail the run."""
    heard: list[tuple[str, str | None]] = []
    seen_by_second: list[list[tuple[str, str | None]]] = []

    @dg.asset
    def first() -> None:
        pass

    @dg.asset(deps=[first])
    def second() -> None:
        seen_by_second.append(list(heard))

    class BrokenObserver(QuietObserver):
        def step_started(self, stage: str, step: str, total: int | None) -> None:
            raise BrokenPipeError("the terminal is gone")

    run_id = str(uuid.uuid4())
    index = AssetIndex([], [], [], [], [], {"first": "ingest", "second": "publish"}, {}, {})
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(assets=[first, second]).resolve_implicit_global_asset_job_def()
    with Watcher(
        instance, run_id, index, BrokenObserver(), lambda s, q, _t: heard.append((s, q)), "2025Q3"
    ) as w:
        result = job.execute_in_process(instance=instance, run_id=run_id)
    assert result.success
    assert seen_by_second == [[("ingest", "2025Q3")]]
    assert heard == [("ingest", "2025Q3"), ("publish", None)]
    assert w.succeeded == {"first", "second"}


def test_a_failed_step_is_told_by_its_cause_not_by_dagsters_wrapper() -> None:
    """A probe saw only `ingest_quarter: DagsterExecutionStepExecutionError` on the console."""
    from pipelines.cli.runner import _first_line

    @dg.op
    def refuses() -> None:
        raise ValueError("未设置假名化密钥，拒绝运行\n(details for the log)")

    @dg.job
    def refusing() -> None:
        refuses()

    result = refusing.execute_in_process(raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert _first_line(failure) == "ValueError: 未设置假名化密钥，拒绝运行"


@pytest.mark.parametrize(
    ("content", "told"),
    [
        # tomllib's error is the cause; the project's, which names the file, is what the operator reads
        (b"year = \n", "规则文件有误 {path}: not a valid UTF-8 TOML file: Invalid value"),
        # the problems follow the first line of the refusal: they are the message, not log detail
        (b"year = 2026\n", "规则文件有误 {path}: rules refused, 10 problem(s): version: missing; calendar: "),
    ],
)
def test_a_refused_rules_file_is_told_by_its_path_and_its_problems(
    tmp_path: Path, content: bytes, told: str
) -> None:
    """A probe saw `reference_data: tomllib.TOMLDecodeError: …` (no file named) and `… rules refused, 1
    problem(s):` with the problem itself only in the log."""
    from pipelines.cli.runner import _first_line
    from pipelines.domain.rules import load_rules

    (tmp_path / "2026.toml").write_bytes(content)

    @dg.op
    def loads_rules() -> None:
        load_rules(2026, tmp_path)

    @dg.job
    def loading() -> None:
        loads_rules()

    result = loading.execute_in_process(raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert _first_line(failure).startswith(told.format(path=tmp_path / "2026.toml"))
    assert "\n" not in _first_line(failure)


def test_what_the_runs_helper_processes_write_to_stderr_goes_to_the_run_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Dagster's compute-log watchers, children of the command, printed a KeyboardInterrupt traceback each
    on the operator's terminal at Ctrl-C, around the command's one line."""
    import subprocess
    import sys

    from pipelines.paths import output_to

    log = tmp_path / "run.log"
    with output_to(log):
        child = "import sys; sys.stderr.write('Traceback (child)\\n')"
        subprocess.run([sys.executable, "-c", child], check=True)
    sys.stderr.write("after the run\n")
    assert "Traceback (child)" in log.read_text(encoding="utf-8")
    assert capfd.readouterr().err == "after the run\n"
