"""Run a function over many inputs in isolated worker processes, each call under a timeout.

concurrent.futures cannot stop one running call: a worker stuck in native code (a parser looping
on a hostile file) would hold its slot until the run ends. Here each worker is a process of our
own with a pipe; a call that exceeds its timeout gets its process killed and replaced, and the
call is reported as timed out. A worker that dies (a crash, or the memory cap) is reported and
replaced the same way. Other calls are unaffected.

Workers are spawned, not forked: the parent may be a Dagster run with threads (forking a
multi-threaded process can deadlock the child), and each worker caps its own address space.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKER_MEMORY_BYTES = 3 * 1024**3  # address space per worker; a parse needs < 1 GB
STARTUP_TIMEOUT_SECONDS = 120.0  # importing polars/fastexcel in a fresh process on a busy machine

TIMEOUT = "timeout"
CRASHED = "crashed"
ERROR = "error"


@dataclass(frozen=True)
class Outcome(Generic[R]):
    value: R | None
    failure: str | None = None  # None, "timeout", "crashed" or "error"
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


def _serve(
    conn: Connection,
    fn: Callable[[Any], Any],
    memory_bytes: int | None,
    initializer: Callable[[], None] | None = None,
) -> None:
    """Worker main loop: receive (index, task), send (index, status, payload) until told to stop."""
    if memory_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if initializer is not None:
        initializer()
    conn.send(("ready", None, None))
    while True:
        message = conn.recv()
        if message is None:
            # Nothing to flush or clean up: exit now rather than tear down the interpreter (and
            # polars) for a few hundred milliseconds while the run waits for this process.
            conn.close()
            os._exit(0)
        index, task = message
        try:
            reply = (index, "ok", fn(task))
        except Exception as exc:  # the caller turns it into a result; the worker lives on
            reply = (index, ERROR, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result
            conn.send((index, ERROR, f"cannot return result: {type(exc).__name__}: {exc}"))


# Calls sent to a worker ahead of its answer: the next file is already in the worker's pipe when it
# finishes one, so it never waits for this process to receive, unpickle and dispatch (about a millisecond
# per file, on ~10 ms files). Only the first is running; the timeout clock of the next starts when the
# answer to the first arrives, and if the worker is killed the waiting one goes back to the queue.
PIPELINE_DEPTH = 2


@dataclass
class _Slot:
    process: Any
    conn: Connection
    ready: bool = False
    queue: deque[int] = field(default_factory=deque)  # sent, unanswered; the first is running
    started: float = 0.0  # when the running call started
    born: float = 0.0


def run_isolated(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int = 2,
    timeout: float = 20.0,
    memory_bytes: int | None = WORKER_MEMORY_BYTES,
    on_done: Callable[[int], None] | None = None,
    initializer: Callable[[], None] | None = None,
) -> list[Outcome[R]]:
    """fn(task) for every task, results in task order. `workers=0` runs inline (no isolation).
    `on_done(n)` is called in this process each time a task ends (n tasks ended so far), for progress.
    `initializer()` runs once in each worker process before its first task (never inline)."""
    with WorkerPool(
        fn, workers=workers, timeout=timeout, memory_bytes=memory_bytes, initializer=initializer
    ) as pool:
        for task in tasks:
            pool.submit(task)
        return pool.results(on_done)


class WorkerPool(Generic[T, R]):
    """Isolated workers that take tasks while the caller is still producing them.

    Ingestion archives a quarter's deliveries one by one; submitting each as soon as it is archived
    lets the workers start (a fresh interpreter importing fastexcel: a few hundred milliseconds) and
    parse while the rest are copied, instead of after. A worker is started by a submitted task, at
    most `workers` of them, so a run with one new file starts one. `results()` waits for every task;
    leaving the `with` block stops the workers whatever happened."""

    def __init__(
        self,
        fn: Callable[[T], R],
        *,
        workers: int = 2,
        timeout: float = 20.0,
        memory_bytes: int | None = WORKER_MEMORY_BYTES,
        initializer: Callable[[], None] | None = None,
        depth: int = PIPELINE_DEPTH,
    ) -> None:
        self._fn = fn
        self._depth = max(1, depth)
        self._initializer = initializer
        self._workers = workers
        self._timeout = timeout
        self._memory_bytes = memory_bytes
        self._tasks: list[T] = []
        self._results: list[Outcome[R] | None] = []
        self._pending: deque[int] = deque()
        self._ended: deque[int] = deque()  # tasks ended and not yet handed to `on_result`
        # Counted, not looked up: counting the unfinished in the results list at every step costs
        # O(tasks) a step, ~50 million comparisons over a 16-city province's 8,000 files.
        self._n_ended = 0
        self._slots: list[_Slot] = []
        self._ctx = mp.get_context("spawn")

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *_: object) -> None:
        _stop_all(self._slots)
        self._slots = []

    def submit(self, task: T) -> None:
        """Queue a task and hand what is queued to idle workers, without waiting for any."""
        self._tasks.append(task)
        self._results.append(None)
        if self._workers <= 0:
            return  # inline: run by results()
        self._pending.append(len(self._tasks) - 1)
        if len(self._slots) < self._workers:
            self._slots.append(self._start())
        self._step(0.0)

    def results(
        self,
        on_done: Callable[[int], None] | None = None,
        on_result: Callable[[int, Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        """Every submitted task's outcome, in submission order, once all have ended.
        `on_done(n)`: called each time a task ends (n ended so far), for progress.
        `on_result(index, outcome)`: called once per task as it ends, in the order they end, while the
        workers go on with the rest (so the caller can work on early results during the parse). An
        outcome handed over is kept without its value, which the caller has: a parse result holds
        every cell of a file as Python objects, and a run's worth of them was ~100 MB at 4 cities."""
        if self._workers <= 0:
            for i, task in enumerate(self._tasks):
                if self._results[i] is None:
                    self._results[i] = _inline(self._fn, task)
                    self._end(i)
                    if on_done is not None:
                        on_done(i + 1)
                    self._hand_over(on_result)
            return [r for r in self._results if r is not None]
        reported = 0
        while True:
            # `on_result` may poll, and so take in the last outcomes: the count is read after it,
            # or the wait below would be for results that have all arrived (forever).
            self._hand_over(on_result)
            ended = self._n_ended
            if on_done is not None and ended != reported:
                reported = ended
                on_done(ended)
            if ended >= len(self._tasks):
                return [r for r in self._results if r is not None]
            self._step(None)

    def poll(self) -> None:
        """Take in what the workers have finished and send them more, without waiting: for a caller
        busy inside `on_result`, so the workers neither sit on a finished result nor run dry."""
        if self._workers <= 0:
            return
        for _ in range(len(self._slots) * self._depth):
            ended = self._n_ended
            self._step(0.0)
            if self._n_ended == ended:
                return

    def _end(self, index: int) -> None:
        self._n_ended += 1
        self._ended.append(index)

    def _hand_over(self, on_result: Callable[[int, Outcome[R]], None] | None) -> None:
        """Pass the tasks ended since the last call to `on_result` (each task once)."""
        ended, results = self._ended, self._results
        while ended:
            index = ended.popleft()
            outcome = results[index]
            if on_result is not None and outcome is not None:
                on_result(index, outcome)
                results[index] = replace(outcome, value=None)

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_serve, args=(child, self._fn, self._memory_bytes, self._initializer), daemon=True
        )
        with _main_left_out(self._fn, self._initializer):
            process.start()
        child.close()
        return _Slot(process, parent, born=time.monotonic())

    def _replace(self, slot: _Slot, failure: str, detail: str) -> _Slot | None:
        """Kill a worker, record its running call as failed and put the calls waiting behind it back
        in the queue; a fresh worker only if work remains."""
        if not slot.ready and not slot.queue:
            raise RuntimeError(f"a parse worker died while starting ({detail})")
        if slot.queue:
            running = slot.queue.popleft()
            self._results[running] = Outcome(None, failure, detail, time.monotonic() - slot.started)
            self._end(running)
            self._pending.extendleft(reversed(slot.queue))
            slot.queue.clear()
        _kill(slot)
        return self._start() if self._pending else None

    def _step(self, longest: float | None) -> None:
        """Dispatch queued tasks, then wait (at most `longest` seconds, None: until something
        happens or a deadline passes) and take in answers, crashes and timeouts."""
        pending, results, timeout = self._pending, self._results, self._timeout
        live = self._slots
        for slot in live:
            while slot.ready and pending and len(slot.queue) < self._depth:
                task = pending.popleft()
                try:
                    slot.conn.send((task, self._tasks[task]))
                except OSError:  # the worker died (its running call crashed it): seen below
                    pending.appendleft(task)
                    break
                if not slot.queue:
                    slot.started = time.monotonic()
                slot.queue.append(task)
        now = time.monotonic()
        deadlines = [s.started + timeout for s in live if s.queue]
        deadlines += [s.born + STARTUP_TIMEOUT_SECONDS for s in live if not s.ready]
        wait_for = max(0.0, min(deadlines) - now) if deadlines else None
        if longest is not None:
            wait_for = longest if wait_for is None else min(wait_for, longest)
        ready = set(wait([s.conn for s in live] + [s.process.sentinel for s in live], wait_for))
        slots: list[_Slot | None] = list(live)
        for i, slot in enumerate(live):
            if slot.conn in ready:
                try:
                    index, status, payload = slot.conn.recv()
                except (EOFError, OSError):
                    slots[i] = self._replace(slot, CRASHED, "worker process ended")
                    continue
                if index == "ready":
                    slot.ready = True
                    continue
                now = time.monotonic()
                elapsed = now - slot.started
                results[index] = (
                    Outcome(payload, seconds=elapsed)
                    if status == "ok"
                    else Outcome(None, ERROR, str(payload), elapsed)
                )
                self._end(index)
                slot.queue.popleft()
                slot.started = now  # the next call in its pipe starts now
            elif slot.process.sentinel in ready:
                slots[i] = self._replace(slot, CRASHED, f"exit code {slot.process.exitcode}")
        now = time.monotonic()
        for i, slot in enumerate(live):
            if slots[i] is not slot:
                continue
            if slot.queue and now - slot.started > timeout:
                slots[i] = self._replace(slot, TIMEOUT, f"no result after {timeout:g} s")
            elif not slot.ready and now - slot.born > STARTUP_TIMEOUT_SECONDS:
                raise RuntimeError("a parse worker did not start within the startup timeout")
        self._slots = [s for s in slots if s is not None]


@contextlib.contextmanager
def _main_left_out(*functions: Callable[..., Any] | None) -> Iterator[None]:
    """While a worker is started: a spawned child imports the parent's main module first (as
    __mp_main__) unless that module is a package's __main__, so that functions defined in it can be
    unpickled. A worker needs none of it when every function it is given lives in an importable
    module, yet paid for it: the benchmark's child (`python -m pipelines.bench.pipeline`) imports
    DuckDB, the `assessment` script the whole CLI with polars, ~0.2 s of CPU before each worker could
    parse, on the critical path of a one-unit resubmission. multiprocessing decides from the main
    module's __spec__ and __file__ as the process starts (spawn.get_preparation_data, in start()), so
    they are hidden for that moment only."""
    main = sys.modules.get("__main__")
    if main is None or _refers_to_main(functions):
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _refers_to_main(objects: object) -> bool:
    """Whether unpickling `objects` needs the main module (a function defined there, or wrapped in
    a partial): pickle names a function by its module. Unpicklable: yes, and start() will say why."""
    try:
        return b"__main__" in pickle.dumps(objects)
    except Exception:
        return True


def _kill(slot: _Slot) -> None:
    if slot.process.is_alive():
        slot.process.kill()
    slot.process.join(timeout=5)
    slot.conn.close()


def _stop_all(slots: list[_Slot]) -> None:
    """Tell every worker to exit, then wait for them together (not one after the other)."""
    for slot in slots:
        if slot.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                slot.conn.send(None)
    deadline = time.monotonic() + 5
    for slot in slots:
        slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
        _kill(slot)


def _inline(fn: Callable[[T], R], task: T) -> Outcome[R]:
    started = time.monotonic()
    try:
        return Outcome(fn(task), seconds=time.monotonic() - started)
    except Exception as exc:
        return Outcome(None, ERROR, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        # A panic inside a Rust parser (calamine's "TimeDelta::milliseconds out of bounds" on a hostile
        # duration cell) arrives as pyo3's PanicException, a BaseException. It kills a worker process,
        # which the pool reports as crashed; inline it is the same outcome, not the end of the run.
        return Outcome(None, CRASHED, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
