"""The operator command's runner (pipelines/cli/runner.py) apart from the command line: the garbage
collector while a command starts, and how a run's events reach the operator's progress and the stage
hook (real Dagster runs on an ephemeral instance)."""

from __future__ import annotations

import gc
import uuid

import dagster as dg
import pytest

from pipelines.cli.runner import AssetIndex, QuietObserver, Watcher, gc_paused


class _Cycle:
    """An object in a reference cycle with itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_no_automatic_collection_while_a_command_starts_and_the_collector_as_it_was_after() -> None:
    """runner.gc_paused: allocations that would trigger collections trigger none inside; the collector's
    state (on, or off when a caller had turned it off) is restored after, also on an error."""
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with gc_paused():
            cycles = [_Cycle() for _ in range(20 * gc.get_threshold()[0])]
            assert collections == []
        assert gc.isenabled()
        del cycles
        _ = [_Cycle() for _ in range(2 * gc.get_threshold()[0])]
        assert collections  # and back on afterwards
        gc.disable()
        try:
            with pytest.raises(RuntimeError), gc_paused():
                raise RuntimeError("fails while starting")
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)


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
