"""`python -m pipelines.bench.resub RUN_DIR [-n N]`: time one unit's corrected resubmission N times from the
same built state, with the checkout's current code.

RUN_DIR is a data folder after a full run, e.g. the benchmark's
`data/bench/2025Q3-c1-scale1-uall-seed7/run` after `python -m pipelines.bench --sizes city`. It is never
changed: each repetition copies it to a scratch folder, writes a corrected workbook there
(pipelines.bench.incremental.resubmit) and runs the pipeline in a child process as the benchmark does
(pipelines.bench.pipeline). One line per repetition: seconds to published, end to end, the load
average and the machine's pace at the start and during the run (pipelines/bench/calibration.py), and
every Dagster step of 0.2 s or more (from the run log). The benchmark's own figure is a single
resubmission; this is for comparing two versions of the code on the same state, alternating them
(docs/benchmark.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

STEP_EVENT = re.compile(r"(\S+ \S+) .* - (\S+) - (STEP_START|STEP_SUCCESS) - ")
SHOWN_FROM_SECONDS = 0.2


def step_seconds(log_lines: Iterable[str]) -> dict[str, float]:
    """Each step's STEP_START → STEP_SUCCESS seconds, from a run log's lines (steps that never finished
    are left out)."""
    started: dict[str, datetime] = {}
    seconds: dict[str, float] = {}
    for line in log_lines:
        match = STEP_EVENT.match(line)
        if match is None:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        step = match.group(2)
        if match.group(3) == "STEP_START":
            started[step] = at
        elif step in started:
            seconds[step] = round((at - started[step]).total_seconds(), 2)
    return seconds


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.bench.resub",
        description="Time one unit's corrected resubmission from the same built data folder.",
    )
    parser.add_argument("run_dir", type=Path, help="a data folder after a full run (left unchanged)")
    parser.add_argument("-n", "--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--quarter", default="2025Q3", help="the quarter resubmitted (default 2025Q3)")
    parser.add_argument("--keep", action="store_true", help="keep each scratch copy and print its path")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not (args.run_dir / "raw" / "submissions").is_dir():
        parser.error(f"{args.run_dir} is not a data folder after a full run (no raw/submissions)")
    return args


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    from pipelines.bench.calibration import python_loop_seconds
    from pipelines.bench.incremental import resubmit
    from pipelines.bench.pipeline import PipelineError, run_pipeline
    from pipelines.bench.sizes import use_data_dir

    os.environ.setdefault("ASSESSMENT_DEMO", "1")  # generated data: the public demo key is allowed
    for i in range(args.repeat):
        scratch = Path(tempfile.mkdtemp(prefix="resub-"))
        data = scratch / "run"
        try:
            subprocess.run(["cp", "-a", str(args.run_dir), str(data)], check=True)
            use_data_dir(data)
            resubmit(data, args.quarter)
            load = os.getloadavg()[0]
            speed = python_loop_seconds()  # the machine's pace at this run (calibration.py)
            try:
                run = run_pipeline(data, args.quarter, f"resub{i}", progress=lambda _message: None)
            except PipelineError as exc:
                print(f"[{i}] failed: {exc}", file=sys.stderr)
                return 1
            logs = sorted((data / "logs").glob("run-*.log"))
            lines = logs[-1].read_text(encoding="utf-8", errors="replace").splitlines() if logs else []
            steps = {k: v for k, v in step_seconds(lines).items() if v >= SHOWN_FROM_SECONDS}
            print(
                f"[{i}] load {load:.2f}  speed {speed:.3f} s (during {run.speed.get('median', '-')} s)  "
                f"to published {run.seconds_to_published} s  "
                f"end to end {run.seconds} s  steps {steps}",
                flush=True,
            )
        finally:
            if args.keep:
                print(f"    kept {data}")
            else:
                shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
