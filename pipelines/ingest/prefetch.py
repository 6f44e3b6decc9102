"""Ingestion's first half, started by the operator's command before it loads Dagster and dbt.

Loading the orchestrator takes the command 2-3 s of one core (importing dbt and dagster-dbt, building
the definitions, opening the instance, planning the run) while the machine's other core has nothing to
do. The ingest step's first half, archiving what is new and parsing what the cache lacks
(`run.archive_and_parse`), depends on none of that, so `start` runs it meanwhile in a process of its
own (`python -m pipelines.ingest.prefetch`), one quarter after the other. The ingest step then waits
for its quarter (`wait_for`) before it starts, finds every delivery archived and parsed, and is left
with the assembly and the writing. Nothing changes in what is written: the archive and the parse cache
are the ones the step would have made itself (both are built to be written by more than one process,
the archive by the receiving sensor too), and the step never starts before the prefetch of its quarter
has ended, so it sees a finished archive as it always did.

The prefetch is only a head start. If it fails or dies, the step does the same work itself, as it does
in a Dagster run started from the UI, which has no prefetch. `ASSESSMENT_PREFETCH=0` turns it off.

The child reports on its stdout, one JSON object per line:

    {"quarter": "2025Q3", "done": 120, "total": 508}                    progress (throttled)
    {"quarter": "2025Q3", "archived": 3, "parsed": 3, "seconds": 0.8,   the quarter is finished, and
     "deliveries": 508, "landed": [[unit, id], …], "skipped": […],     the landing area as it was,
     "receiving_notes": […], "notes": [[30, "…"], …],                  and its warnings and errors
     "notes_left_out": 0}                                               for the step's log
    {"quarter": "2025Q3", "error": "…"}                                  it failed (the step will do it)
    {"gx_offered": true}                   it has imported great-expectations and will run the GX check
    {"quarter": "2025Q3", "gx": {…}}       the check's outcome, after the step asked on its stdin

and logs to its stderr, which is the command's run log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipelines.ingest.prefetched import Prefetched
from pipelines.paths import PROJECT_ROOT

PREFETCH_ENV = "ASSESSMENT_PREFETCH"  # "0": the ingest step archives and parses by itself
PROGRESS_EVERY_S = 0.25
# What of the child's warnings and errors reaches the step's log (all of them are in the run log)
MAX_NOTES = 200
MAX_NOTE_CHARS = 4000
STOP_GRACE_S = 10.0  # a stopped prefetch finishes the copy it is in, then its workers are stopped
LOG = logging.getLogger(__name__)


def enabled() -> bool:
    return os.environ.get(PREFETCH_ENV, "1").strip() != "0"


@dataclass
class Prefetch:
    """A running prefetch child and what it has reported so far."""

    process: subprocess.Popen[str]
    data_dir: Path
    quarters: tuple[str, ...]
    finished: dict[str, dict[str, object]] = field(default_factory=dict)
    gx_offered: bool | None = None  # None: not said yet
    gx_results: dict[str, dict[str, object]] = field(default_factory=dict)

    def wait(
        self, quarter: str, on_file: Callable[[int, int], None] | None = None
    ) -> dict[str, object] | None:
        """Block until the child has finished `quarter` (or ended); its final line, or None when it did
        not finish it. Progress lines read meanwhile go to `on_file`."""
        if quarter not in self.quarters:
            return None
        while quarter not in self.finished and self._read(quarter, on_file):
            pass
        return self.finished.get(quarter)

    def gx_check(self, quarter: str) -> dict[str, object] | None:
        """The child's GX check of `quarter` (a GxOutcome as JSON), when it offered to run it; else None.
        Blocks until it has answered (or ended)."""
        while self.gx_offered is None and self._read():
            pass
        stdin = self.process.stdin
        if not self.gx_offered or quarter not in self.quarters or stdin is None:
            return None
        try:
            stdin.write(quarter + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        while quarter not in self.gx_results and self._read():
            pass
        return self.gx_results.get(quarter)

    def _read(self, quarter: str | None = None, on_file: Callable[[int, int], None] | None = None) -> bool:
        """Take in the child's next line; False once it has ended."""
        stdout = self.process.stdout
        line = stdout.readline() if stdout is not None else ""
        if not line:  # the child ended: whatever it did not report, the step does itself
            self.process.wait()
            if self.gx_offered is None:
                self.gx_offered = False
            return False
        try:
            message = json.loads(line)
        except ValueError:
            return True
        if not isinstance(message, dict):
            return True
        if "gx_offered" in message:
            self.gx_offered = bool(message["gx_offered"])
            return True
        q = str(message.get("quarter"))
        if "done" in message:
            if on_file is not None and q == quarter:
                on_file(int(message["done"]), int(message["total"]))
        elif "gx" in message:
            self.gx_results[q] = message
        else:
            self.finished[q] = message
        return True


# One per data directory, for the command that started it (the ingest step runs in the same process).
_ACTIVE: dict[Path, Prefetch] = {}


def start(quarters: Sequence[str], data_dir: Path, log_file: Path) -> Prefetch | None:
    """Start the prefetch of `quarters` (in this order) under `data_dir`; its log is appended to
    `log_file`. The caller must hold the data directory's run lock (pipelines/runlock.py) until `stop`:
    the child takes none, it works for the command that started it.

    A prefetch of the same quarters this process already started for `data_dir` is returned instead of
    a second one: the operator's command starts it before it imports Dagster (`head_start`), and
    `run_quarters`, which starts one for every other caller, then finds it."""
    if not enabled() or not quarters:
        return None
    data = data_dir.resolve()
    running = _ACTIVE.get(data)
    if running is not None and running.quarters == tuple(quarters):
        return running
    with log_file.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, "--data-dir", str(data), *quarters],
            stdin=subprocess.PIPE,  # the GX check's requests (gx_check)
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
            cwd=PROJECT_ROOT,
            # its own process group: `stop` ends it and its parse workers together, and the operator's
            # Ctrl-C reaches the command, which stops it, not the child halfway through a copy
            start_new_session=True,
        )
    handle = Prefetch(process, data, tuple(quarters))
    _ACTIVE[data] = handle
    return handle


@contextlib.contextmanager
def head_start(quarters: Sequence[str], data_dir: Path, new_log: Callable[[], Path]) -> Iterator[Path]:
    """The data directory's run lock for the block and, once it is held, the command's log file (named
    by `new_log`) and the prefetch of `quarters`; yields the log file's path. For a command that has not
    imported Dagster yet: importing it and the runner takes ~0.6 s of one core, which the prefetch's
    first files use instead. A command refused the lock has written nothing, not even its log.
    `run_quarters` re-enters the lock and finds the prefetch (`start`)."""
    from pipelines import runlock

    with runlock.hold(data_dir):
        log_file = new_log()
        handle = start(quarters, data_dir, log_file)
        try:
            yield log_file
        finally:
            stop(handle)


def wait_for(
    data_dir: Path,
    quarter: str,
    on_file: Callable[[int, int], None] | None = None,
    log: logging.Logger | None = None,
) -> Prefetched | None:
    """What this process's prefetch did for `quarter` under `data_dir`, once it is done with it; None
    when there is none (a run from the UI) or it did not finish the quarter."""
    handle = _ACTIVE.get(data_dir.resolve())
    if handle is None:
        return None
    result = handle.wait(quarter, on_file)
    if result is None:
        if quarter in handle.quarters:
            (log or LOG).warning(
                "预读未完成 prefetch of %s ended early (exit %s): the step archives and parses itself",
                quarter,
                handle.process.returncode,
            )
        return None
    if "error" in result:
        (log or LOG).warning("预读失败 prefetch of %s failed: %s", quarter, result["error"])
        return None
    try:
        done = Prefetched.from_json(result)
    except (KeyError, TypeError, ValueError):
        return None
    _relog_notes(result, log or LOG)
    return done


def _relog_notes(result: dict[str, object], log: logging.Logger) -> None:
    """The prefetch's warnings and errors for this quarter, again in `log` (the step's, in a run): the
    step would have logged them there had it parsed the files itself."""
    notes = result.get("notes")
    for note in notes if isinstance(notes, list) else []:
        if isinstance(note, list) and len(note) == 2 and isinstance(note[0], int):
            log.log(note[0], "预读 prefetch: %s", note[1])
    left_out = result.get("notes_left_out")
    if isinstance(left_out, int) and left_out > 0:
        log.warning("预读 prefetch: %d more warnings and errors in the run log", left_out)


def gx_check(data_dir: Path, quarter: str, log: logging.Logger | None = None) -> dict[str, object] | None:
    """The GX check of `quarter` (GxOutcome as JSON, pipelines/ingest/gx_check.py) as this process's
    prefetch child ran it, having imported great-expectations while the ingest step wrote the raw
    tables; None when there is no such child or it did not run it (the check then runs here)."""
    handle = _ACTIVE.get(data_dir.resolve())
    if handle is None:
        return None
    result = handle.gx_check(quarter)
    if result is None:
        return None
    outcome = result.get("gx")
    if not isinstance(outcome, dict):
        (log or LOG).warning("预读进程的GX检查失败 GX check in the prefetch process failed: %s", outcome)
        return None
    return outcome


def stop(handle: Prefetch | None) -> None:
    """End the child if it still runs (the run failed or stopped before its ingest step) and forget it."""
    if handle is None:
        return
    if _ACTIVE.get(handle.data_dir) is handle:
        del _ACTIVE[handle.data_dir]
    process = handle.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # parse workers a stopped child left behind (its group: nothing else joins it)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


# -- the child ------------------------------------------------------------------------------------------


def _emit(out: IO[str], **fields: object) -> None:
    out.write(json.dumps(fields, ensure_ascii=False) + "\n")
    out.flush()


def _progress(out: IO[str], quarter: str) -> Callable[[int, int], None]:
    last = [0.0]

    def on_file(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            _emit(out, quarter=quarter, done=done, total=total)

    return on_file


class _Notes(logging.Handler):
    """The warnings and errors of one quarter's prefetch (files it could not read, their incidents), for
    the step's log: the child's own log goes to the command's run log only. Lines the step logs itself
    from the prefetch's result (files not ingested, the receiving log's notes) are left out."""

    def __init__(self, step_logs_itself: frozenset[str]) -> None:
        super().__init__(logging.WARNING)
        self.step_logs_itself = step_logs_itself  # formats the step logs anyway (run.NOT_INGESTED, …)
        self.kept: list[tuple[int, str]] = []
        self.left_out = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg in self.step_logs_itself:
            return
        if len(self.kept) >= MAX_NOTES:
            self.left_out += 1
            return
        self.kept.append((record.levelno, record.getMessage()[:MAX_NOTE_CHARS]))


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds the stack: an archive copy in progress removes its staged file, the worker
    # pool stops its workers (Python's default would end the process on the spot)
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ingest.prefetch",
        description="Archive and parse the quarters' new deliveries (started by the operator's command).",
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("quarters", nargs="+")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s prefetch - %(message)s"
    )
    from pipelines.ingest.run import NOT_INGESTED, RECEIVING_NOTE, archive_and_parse
    from pipelines.paths import using_data_dir

    out = sys.stdout
    failed = False
    with using_data_dir(args.data_dir):
        for quarter in args.quarters:
            notes = _Notes(frozenset({NOT_INGESTED, RECEIVING_NOTE}))
            LOG.addHandler(notes)
            try:
                done = archive_and_parse(quarter, log=LOG, on_file=_progress(out, quarter))
            except Exception as exc:  # the step does it again and reports what is wrong with it
                LOG.exception("prefetch of %s failed", quarter)
                _emit(out, quarter=quarter, error=f"{type(exc).__name__}: {exc}"[:500])
                failed = True
                continue
            finally:
                LOG.removeHandler(notes)
            LOG.info("%s: %d archived, %d parsed in %.2fs", quarter, done.archived, done.parsed, done.seconds)
            _emit(out, quarter=quarter, **done.to_json(), notes=notes.kept, notes_left_out=notes.left_out)
    with using_data_dir(args.data_dir):
        _serve_gx(args.quarters, out)
    return 1 if failed else 0


def _serve_gx(quarters: Sequence[str], out: IO[str]) -> None:
    """Import great-expectations now and run the GX check when the step asks, if the check will need it.

    It will when the quarter was never validated under the current suites (no remembered values:
    a first run); a resubmission's check is usually decided without GX (gx_check.py) and is left to
    the step. Only for a run of one quarter: with more, the first check would wait for every quarter's
    prefetch. Importing GX costs ~2 s of one core, which the ingest step's assembly leaves idle."""
    from pipelines.ingest import cache
    from pipelines.ingest.gx_check import check_quarter, never_validated, outcome_to_json
    from pipelines.paths import data_dir, raw_dir, restricted_dir

    root = cache.cache_root(data_dir())
    offered = len(quarters) == 1 and never_validated(root, quarters[0])
    if offered:
        from pipelines.ingest.validate import gx_batch_definition

        gx_batch_definition()  # the import, the ephemeral context and the suites: what the check waits on
    _emit(out, gx_offered=offered)
    if not offered:
        return
    request = sys.stdin.readline().strip()
    if request != quarters[0]:
        return
    try:
        outcome = check_quarter(raw_dir(), restricted_dir(), root, request)
    except Exception as exc:  # the step runs the check itself and reports what is wrong
        LOG.exception("GX check of %s failed", request)
        _emit(out, quarter=request, gx=f"{type(exc).__name__}: {exc}"[:500])
        return
    LOG.info("%s: GX check run here (%d submissions checked)", request, outcome.checked_submissions)
    _emit(out, quarter=request, gx=outcome_to_json(outcome))


if __name__ == "__main__":
    sys.exit(main())
