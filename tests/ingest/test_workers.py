"""Isolated workers: a call that hangs or crashes is killed and reported; the others complete."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from pipelines.ingest.parse import prepare_worker
from pipelines.ingest.workers import CRASHED, ERROR, TIMEOUT, Outcome, WorkerPool, run_isolated
from tests.ingest.misbehave import parse_and_report_numpy, read_as_text, square_or_misbehave


def test_results_come_back_in_task_order() -> None:
    outcomes = run_isolated(square_or_misbehave, list(range(12)), workers=2, timeout=30)
    assert [o.value for o in outcomes] == [i * i for i in range(12)]
    assert all(o.ok for o in outcomes)


def test_a_hanging_call_is_killed_and_the_rest_complete() -> None:
    started = time.monotonic()
    tasks: list[object] = [1, "hang", 2, "crash", 3, "fail", 4]
    outcomes = run_isolated(square_or_misbehave, tasks, workers=2, timeout=2.0)
    assert time.monotonic() - started < 30  # the hang (60 s) was not waited for
    assert [o.failure for o in outcomes] == [None, TIMEOUT, None, CRASHED, None, ERROR, None]
    assert [o.value for o in outcomes if o.ok] == [1, 4, 9, 16]
    assert "bad input" in outcomes[5].detail


def test_inline_mode_runs_in_this_process() -> None:
    outcomes = run_isolated(square_or_misbehave, [3, "fail"], workers=0)
    assert outcomes[0].value == 9
    assert outcomes[1].failure == ERROR


def test_a_call_waiting_behind_a_hanging_one_is_run_by_a_fresh_worker() -> None:
    """Calls are sent ahead (PIPELINE_DEPTH): the one queued behind a hang is not lost or timed out."""
    outcomes = run_isolated(square_or_misbehave, ["hang", 5, "crash", 6], workers=1, timeout=1.5)
    assert [o.failure for o in outcomes] == [TIMEOUT, None, CRASHED, None]
    assert outcomes[1].value == 25 and outcomes[3].value == 36


def test_each_call_has_its_own_timeout_clock() -> None:
    """Two 1.2 s calls in one worker's pipe under a 2 s timeout: neither is timed out."""
    outcomes = run_isolated(square_or_misbehave, ["slow", "slow", "slow"], workers=1, timeout=2.0)
    assert [o.value for o in outcomes] == ["slow", "slow", "slow"]


def _our_children() -> int:
    return len(multiprocessing.active_children())


def test_a_pool_starts_a_worker_per_submitted_task_up_to_its_size() -> None:
    """Ingestion submits each file as it is archived: no file, no worker; one file, one worker."""
    before = _our_children()
    with WorkerPool(square_or_misbehave, workers=2, timeout=30) as pool:
        assert _our_children() == before
        pool.submit(3)
        assert _our_children() == before + 1
        pool.submit(4)
        pool.submit(5)
        assert _our_children() == before + 2
        assert [o.value for o in pool.results()] == [9, 16, 25]
        pool.submit(6)  # after results: taken by the running workers
        assert [o.value for o in pool.results()] == [9, 16, 25, 36]
    assert _our_children() == before


@pytest.mark.parametrize(("workers", "second", "failure"), [(2, "crash", CRASHED), (0, "fail", ERROR)])
def test_each_outcome_is_handed_over_once_as_it_ends(workers: int, second: str, failure: str) -> None:
    """Ingestion types and checks early results while the workers parse the rest (`on_result`), and
    from inside that work calls `poll` to keep them fed; nothing is handed over twice or lost.
    (Inline, a "crash" would end this process: the second task fails by raising there.)"""
    seen: list[tuple[int, object]] = []
    with WorkerPool(square_or_misbehave, workers=workers, timeout=5.0) as pool:

        def take(index: int, outcome: Outcome[object]) -> None:
            pool.poll()
            seen.append((index, outcome.value if outcome.ok else outcome.failure))

        for task in [1, second, 2, "fail", 3]:
            pool.submit(task)
        assert len(pool.results(on_result=take)) == 5
        pool.submit(4)
        outcomes = pool.results(on_result=take)
    # Kept without their values once handed over (the caller has them), failures still told.
    assert [(o.value, o.failure) for o in outcomes] == [
        (None, None),
        (None, failure),
        (None, None),
        (None, ERROR),
        (None, None),
        (None, None),
    ]
    assert sorted(seen, key=lambda s: s[0]) == [(0, 1), (1, failure), (2, 4), (3, ERROR), (4, 9), (5, 16)]


def test_results_return_when_the_last_outcomes_came_in_through_a_poll() -> None:
    """A chunk's work in `on_result` can outlast the remaining files, and its `poll` then takes in the
    last outcomes: `results` must see that and return, not wait for answers that have all come."""
    handed: list[int] = []
    with WorkerPool(square_or_misbehave, workers=2, timeout=30) as pool:

        def slow_take(index: int, outcome: Outcome[object]) -> None:
            if not handed:
                for _ in range(50):  # 5 s of work, polling: the other three calls end meanwhile
                    time.sleep(0.1)
                    pool.poll()
            handed.append(index)

        for task in [1, 2, 3, 4]:
            pool.submit(task)
        returned: list[list[Outcome[object]]] = []

        def wait_for_all() -> None:
            returned.append(pool.results(on_result=slow_take))

        waiter = threading.Thread(target=wait_for_all, daemon=True)
        waiter.start()
        waiter.join(timeout=30)
        assert not waiter.is_alive(), "results() still waiting after every call ended"
    assert len(returned[0]) == 4 and sorted(handed) == [0, 1, 2, 3]


def test_an_empty_pool_returns_nothing_and_starts_nothing() -> None:
    before = _our_children()
    with WorkerPool(square_or_misbehave, workers=2) as pool:
        assert pool.results() == []
    assert _our_children() == before


def test_a_parser_panic_is_a_crashed_call_inline_as_in_a_worker(tmp_path: Path) -> None:
    """calamine panics on a huge negative duration ("TimeDelta::milliseconds out of bounds"); pyo3 raises
    that as PanicException, a BaseException. A worker dies of it and is reported crashed; inline (the
    debugging mode, and the hostile-file tests) it used to escape and end the whole run."""
    book = tmp_path / "duration.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "填报时间"
    wb.active["A2"] = -1e15
    wb.active["A2"].number_format = "[h]:mm:ss"
    wb.save(book)
    fine = tmp_path / "fine.xlsx"
    wb.active["A2"] = 1.5
    wb.save(fine)
    tasks = [str(book), str(fine)]
    for workers in (0, 1):
        outcomes = run_isolated(read_as_text, tasks, workers=workers, timeout=60)
        assert [o.failure for o in outcomes] == [CRASHED, None], workers
        assert outcomes[1].ok and outcomes[1].value is not None and outcomes[1].value[0] == "填报时间"


def test_a_parse_worker_reads_workbooks_without_importing_numpy(tmp_path: Path) -> None:
    # prepare_worker keeps NumPy out of the parse workers (0.15 s of CPU per start); pyarrow, which
    # hands fastexcel's sheets over, must work without it and give the same cells.
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("评议打分")
    ws.write_row(0, 0, ["被评议人编号", "强度"])
    ws.write_row(1, 0, ["P001", 85])
    book.close()
    plain, prepared = (
        run_isolated(parse_and_report_numpy, [str(path)], workers=1, timeout=60, initializer=init)[0]
        for init in (None, prepare_worker)
    )
    assert plain.value is not None and prepared.value is not None
    assert plain.value[2]  # pyarrow does import NumPy when it may: else prepare_worker is pointless
    assert prepared.value == (plain.value[0], plain.value[1], False)
    assert prepared.value[:2] == (True, 1)


_MAIN_SCRIPT = """
import sys
from pathlib import Path

with Path(sys.argv[1]).open("a") as marker:  # every process that imports this module says so
    marker.write(__name__ + "\\n")


def cube(x):
    return x * x * x


if __name__ == "__main__":
    from pipelines.ingest.workers import run_isolated
    from tests.ingest.misbehave import square_or_misbehave

    fn = cube if sys.argv[2] == "own" else square_or_misbehave
    print([o.value for o in run_isolated(fn, [2, 3], workers=1, timeout=60)])
"""


@pytest.mark.parametrize(
    ("task", "imports", "values"), [("module", [], "[4, 9]"), ("own", ["__mp_main__"], "[8, 27]")]
)
def test_a_worker_imports_the_parents_main_module_only_for_a_function_defined_there(
    tmp_path: Path, task: str, imports: list[str], values: str
) -> None:
    """The parent's main module (the CLI, the benchmark's child: DuckDB, polars) is not imported
    again by each worker, unless the worker's function is defined in it."""
    script, marker = tmp_path / "main.py", tmp_path / "imported.txt"
    script.write_text(_MAIN_SCRIPT, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), str(marker), task],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == values
    assert marker.read_text().split() == ["__main__", *imports]
