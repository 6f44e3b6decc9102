"""Benchmark: ingest a full city quarter from scratch, then again with no new files.

    python -m pipelines.bench.ingest                       # 2025Q3, scale 1, seed 7
    python -m pipelines.bench.ingest --quarter 2026Q1 --scale 2
    python -m pipelines.bench.ingest --baseline             # then openpyxl + pandas on the same files

The generated landing area is cached under <data dir>/bench/ (generated once, ~12 s). Each run
happens in a fresh temporary data directory, in a child process of its own so its peak memory
(ru_maxrss of the process and of its worker processes) is measured alone. The machine's load
average is printed too: figures taken while other jobs run are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.discover import discover_quarter
from pipelines.ingest.pseudonym import DEMO_ENV
from pipelines.paths import data_dir


def _generated(quarter: str, scale: float, seed: int, root: Path) -> Path:
    """The cached generated data directory for these parameters (generated when absent)."""
    target = root / f"{quarter}-scale{scale:g}-seed{seed}"
    if (target / "landing" / quarter).is_dir():
        return target
    from pipelines.synthetic.city import GeneratorConfig, generate

    print(f"generating {quarter} (scale {scale:g}, seed {seed}) into {target} …", flush=True)
    generate(GeneratorConfig(quarters=(parse_quarter(quarter),), seed=seed, scale=scale), target)
    return target


def _child(data: Path, quarter: str, workers: int) -> dict[str, object]:
    """Run one ingestion in this process (the child) and describe it."""
    os.environ["ASSESSMENT_DATA_DIR"] = str(data)
    from pipelines.ingest.run import IngestSettings, ingest_quarter

    started = time.perf_counter()
    report = ingest_quarter(quarter, IngestSettings(workers=workers))
    seconds = time.perf_counter() - started
    own_usage = resource.getrusage(resource.RUSAGE_SELF)
    child_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own, children = own_usage.ru_maxrss, child_usage.ru_maxrss
    return {
        "seconds": round(seconds, 2),
        # CPU seconds compare across machine loads better than wall time (imports included).
        "cpu_seconds_main": round(own_usage.ru_utime + own_usage.ru_stime, 2),
        "cpu_seconds_workers": round(child_usage.ru_utime + child_usage.ru_stime, 2),
        "timings": report.timings,
        "parsed_now": report.parsed_now,
        "submissions": report.submissions,
        "statuses": report.statuses,
        "peak_rss_mb_main": round(own / 1024, 1),
        "peak_rss_mb_largest_child": round(children / 1024, 1),
    }


def _seconds(run: dict[str, object], key: str) -> float:
    value = run[key]
    assert isinstance(value, int | float)
    return float(value)


def _baseline(landing: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the openpyxl + pandas baseline over the same landing files."""
    from pipelines.bench.baseline import run_baseline
    from pipelines.bench.sizes import landing_files

    files = landing_files(landing)
    cpu = time.process_time()
    figures = run_baseline(files, max_files=len(files))
    return figures.seconds, time.process_time() - cpu


def _run(data: Path, quarter: str, workers: int) -> dict[str, object]:
    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.bench.ingest",
            "--child",
            str(data),
            "--quarter",
            quarter,
            "--workers",
            str(workers),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, DEMO_ENV: "1"},  # generated data: persons keyed with the public demo key
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.bench.ingest", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quarter", default="2025Q3")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=None, help="where generated data is kept (default <data dir>/bench)"
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="then read the same files with openpyxl + pandas (pipelines.bench.baseline), for a ratio "
        "taken under the same load",
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.child, args.quarter, args.workers)))
        return 0

    generated = _generated(args.quarter, args.scale, args.seed, args.cache or data_dir() / "bench")
    landing = generated / "landing" / args.quarter
    n_deliveries = len(discover_quarter(landing, args.quarter).deliveries)
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        data = Path(tmp)
        # copytree keeps mtimes (copy2), and mtimes are the arrival times.
        shutil.copytree(landing, data / "landing" / args.quarter)
        load_before = os.getloadavg()
        first = _run(data, args.quarter, args.workers)
        again = _run(data, args.quarter, args.workers)
        base = _baseline(landing) if args.baseline else None
        load_after = os.getloadavg()
    setup = f"{args.quarter}, scale {args.scale:g}, {n_deliveries} deliveries, {args.workers} workers"
    print(f"ingestion benchmark: {setup}")
    for label, run in (("first run (from scratch):", first), ("re-run (no new files):   ", again)):
        print(
            f"  {label}  {run['seconds']:6.2f} s  (whole process incl. start-up {run['process_seconds']} s)"
        )
    print(
        f"  peak RSS first run:        main {first['peak_rss_mb_main']} MB, largest worker "
        f"{first['peak_rss_mb_largest_child']} MB"
    )
    print(f"  peak RSS re-run:           main {again['peak_rss_mb_main']} MB")
    print(f"  units by status:           {first['statuses']}")
    print(
        f"  CPU, first run:            {first['cpu_seconds_main']} s main, "
        f"{first['cpu_seconds_workers']} s workers"
    )
    print(f"  phases, first run (s):     {first['timings']}")
    if base is not None:
        wall, cpu = base
        ours_cpu = _seconds(first, "cpu_seconds_main") + _seconds(first, "cpu_seconds_workers")
        print(
            f"  openpyxl + pandas baseline: {wall:.2f} s ({cpu:.2f} s CPU): "
            f"{wall / _seconds(first, 'seconds'):.2f}x our first run's wall time, "
            f"{cpu / ours_cpu:.2f}x its CPU"
        )
    print(f"  load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
