"""dbt in a process of its own beside the run: the dbt steps' two halves on two cores (issue 16).

A dbt step has two halves that are both Python. dbt renders and runs each node on its threads (Jinja,
the materialisation macros, its events); the step turns each result into Dagster events and stores
them in Dagster's SQLite history (a materialisation, its data-version look-ups, a check). With dbt
inside the run's process (inprocess.py) the two halves share one interpreter lock: measured on a
city resubmission, the quarter step used 1.4 of the 2 cores and ended 0.7 s after dbt did, with
events still queued. Here dbt runs in a child process that has its own lock, and the step's process
only turns results into events as they arrive.

What in-process dbt bought is kept. The operator command (`pipelines.cli.runner.run_quarters`, which
executes every step of its runs in the command's own process) starts the child before it loads Dagster,
on the core the start leaves idle; the child does dbt's one-time work (imports, schemas: warmup.py) and
loads the cached parse meanwhile, and a run's second dbt step reuses the parse of its first. Runs
launched from the Dagster UI, the schedule or the sensors execute each step in a process of its own
(Dagster's default executor): there no child is running (`running`), and the step runs dbt itself, as
before, since a child would only add its start-up to the step's.

One command at a time, over a pipe, as pickled tuples: the step sends a request (the dbt argv, the
parse args, the run id, the environment and working folder of the moment, where dbt's console lines
go); the child answers with ("log", text), ("event", dbt's structured result event as a dict: the same
event the in-process path converts) and finally ("done", error or None). The child closes dbt-duckdb's
DuckDB instance before it answers "done", so the next step opens the file as it always did.

If the child dies, the step fails with its exit code. A command the step abandons (a failure while
converting, an interrupted run) stops the child, which holds the build file open while dbt runs. Either
way the run's later dbt steps run dbt in their own process (no child is `running`), and the next
operator command starts a new child. `ASSESSMENT_DBT_WORKER=0` runs dbt in the step's process instead,
as before.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from pipelines.paths import PROJECT_ROOT, output_to

LOG = logging.getLogger(__name__)
WORKER_ENV = "ASSESSMENT_DBT_WORKER"  # "0": dbt runs in the step's own process (inprocess.py)
STOP_GRACE_S = 10.0
ORPHAN_CHECK_S = 0.5
# The warm-up's nice value: on a city resubmission the command's start-up, the prefetch and the warm-up
# wanted 4.5 s of CPU in the first 2.5 s on 2 cores, and the start-up came out 0.4-0.5 s later than
# without the worker. Niced, the warm-up takes what the other two leave.
WARM_UP_NICE = 10


def enabled() -> bool:
    return os.environ.get(WORKER_ENV, "1").strip() != "0"


class DbtWorkerDiedError(RuntimeError):
    """The child ended during a command."""


@dataclass(frozen=True)
class DbtRequest:
    """One dbt command for the child."""

    run_id: str
    args: list[str]
    parse_args: list[str]
    project_dir: str
    target_path: str
    env: dict[str, str]
    cwd: str
    console: str | None  # a file dbt's console lines are appended to; None: the child's own stdout


class DbtWorker:
    """A running child and the two ends of its pipes."""

    def __init__(self, output: IO[Any] | None = None) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipelines.defs.dbt.worker", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )
        except BaseException:
            os.close(to_child_w)
            os.close(from_child_r)
            raise
        finally:  # the child's ends: its own copies live on in it
            os.close(to_child_r)
            os.close(from_child_w)
        self._requests = Connection(to_child_w, readable=False)
        self._answers = Connection(from_child_r, writable=False)
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def command(self, request: DbtRequest) -> Iterator[tuple[str, Any]]:
        """The child's answers to `request`, its final ("done", error) included. Raises
        DbtWorkerDiedError when the child ends first. Stops the child when abandoned before "done" (it
        may still be building)."""
        with self._lock:
            finished = False
            try:
                try:
                    self._requests.send(request)
                except OSError as ended:  # a broken pipe: the child is gone
                    raise self._died() from ended
                while True:
                    try:
                        kind, payload = self._answers.recv()
                    except (EOFError, OSError) as ended:
                        raise self._died() from ended
                    finished = kind == "done"
                    yield kind, payload
                    if finished:
                        return
            finally:
                if not finished:
                    self.stop(kill=True)

    def _died(self) -> DbtWorkerDiedError:
        code = self.process.wait()
        return DbtWorkerDiedError(f"the dbt worker process ended during the command (exit code {code})")

    def stop(self, kill: bool = False) -> None:
        with contextlib.suppress(OSError):
            self._requests.close()
        if kill:
            self.process.kill()
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self._answers.close()


_current: list[DbtWorker] = []
_start_lock = threading.Lock()


def start(output: IO[Any] | None = None) -> DbtWorker | None:
    """This process's child, started on the first call (or after it died); None when turned off or
    when no process could be started. `output` receives the child's own stdout and stderr (None: this
    process's)."""
    if not enabled():
        return None
    with _start_lock:
        if _current and _current[0].alive():
            return _current[0]
        _current.clear()
        try:
            worker = DbtWorker(output)
        except OSError as failed:  # no process to be had (limits, memory): dbt runs in the steps
            LOG.warning("dbt's worker process could not start (%s); dbt runs in the run's process", failed)
            return None
        _current.append(worker)
        atexit.register(worker.stop)
        return worker


def running() -> DbtWorker | None:
    """This process's child if one was started and is alive (and the worker is not switched off)."""
    if not enabled():
        return None
    with _start_lock:
        return _current[0] if _current and _current[0].alive() else None


def request_for(
    run_id: str, args: list[str], parse_args: list[str], project_dir: Path, target_path: Path
) -> DbtRequest:
    """A request carrying this process's environment and folder as they are now (tests and runs set
    variables after the child started), and its console file when stdout is redirected into one."""
    console = getattr(sys.stdout, "name", None)
    return DbtRequest(
        run_id=run_id,
        args=list(args),
        parse_args=list(parse_args),
        project_dir=str(project_dir),
        target_path=str(target_path),
        env=dict(os.environ),
        cwd=str(Path.cwd()),
        console=console if isinstance(console, str) and Path(console).is_file() else None,
    )


# -- the child -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _as_in_the_step(request: DbtRequest) -> Iterator[None]:
    """The step's variables and working folder for the command, and dbt's console lines (Python's
    sys.stdout) into the step's console file when it has one, as in the step's own process."""
    os.environ.clear()
    os.environ.update(request.env)
    os.chdir(request.cwd)
    with contextlib.ExitStack() as stack:
        if request.console is not None:
            stack.enter_context(output_to(Path(request.console)))
        yield


def _exit_with_parent(parent: int) -> None:
    """A parent killed outright cannot close the pipe politely, and the child may be building: it
    leaves as soon as it is orphaned, releasing the build file."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)


def _warm_up(nice: int) -> None:
    """dbt's imports and one-time work (warmup.py) and the cached parse, at a lower priority: while the
    run starts, the command's own start-up and the prefetch need the two cores first. On Linux a
    thread's priority is its own, so the dbt commands, run from the child's main thread, keep the normal
    one; elsewhere the warm-up runs at the normal priority."""
    if sys.platform.startswith("linux"):
        os.nice(nice)
    from pipelines.defs.dbt import dbt_api
    from pipelines.defs.dbt.warmup import warm_dbt

    warm_dbt()
    dbt_api.preload_cached_parse(PROJECT_ROOT / "dbt_project" / "target")


def serve(requests: Connection, answers: Connection) -> int:
    """The child's loop: warm up, then one command per request until the pipe closes."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="orphan-check", daemon=True).start()
    warming = threading.Thread(target=_warm_up, args=(WARM_UP_NICE,), name="warm-up")
    warming.start()
    warming.join()
    from pipelines.defs.dbt import dbt_api

    send_lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        with send_lock:  # dbt calls back from its threads
            answers.send((kind, payload))

    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return 0
        error = dbt_api.run_step_command(
            request.run_id,
            request.args,
            request.parse_args,
            Path(request.project_dir),
            Path(request.target_path),
            on_log=lambda text: send("log", text),
            on_result=lambda event: send("event", event),
            environment=functools.partial(_as_in_the_step, request),
        )
        try:
            send("done", error)
        except OSError:  # the step's process is gone: nobody is left to serve
            return 0


if __name__ == "__main__":
    requests_fd, answers_fd = int(sys.argv[1]), int(sys.argv[2])
    sys.exit(serve(Connection(requests_fd, writable=False), Connection(answers_fd, readable=False)))
