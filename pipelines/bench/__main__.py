"""Command line: `python -m pipelines.bench` (make bench). See docs/benchmark.md.

python -m pipelines.bench                                  # city, province4, province16 (2025Q3)
python -m pipelines.bench --sizes city                     # one size
python -m pipelines.bench --smoke --root /tmp/bench        # a dozen units, seconds of work
"""

from __future__ import annotations

import argparse
import errno
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.bench import report
from pipelines.bench.baseline import DEFAULT_MAX_FILES, run_baseline
from pipelines.bench.calibration import python_loop_seconds, speed_note
from pipelines.bench.floor import heaviest_mart_sql, read_all
from pipelines.bench.incremental import current_submission, resubmit, unit_fingerprint
from pipelines.bench.measure import stage_rows, warehouse_paths, warehouse_sizes
from pipelines.bench.memory import mb
from pipelines.bench.pipeline import PipelineError, run_pipeline
from pipelines.bench.sizes import (
    DEFAULT_SIZES,
    MARKER,
    SIZES,
    Size,
    fresh_run_dir,
    generated,
    landing_files,
    parse_sizes,
)
from pipelines.paths import PROJECT_ROOT

SMOKE_BASELINE_FILES = 5


def _say(msg: str) -> None:
    print(msg, flush=True)


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return None


def _cached_generation_seconds(gen: Path) -> float | None:
    import json

    try:
        return float(json.loads((gen / MARKER).read_text(encoding="utf-8")).get("seconds"))
    except (OSError, ValueError, TypeError):
        return None


def stages_with_rows(
    totals: dict[str, float], rows: dict[str, int], peaks: dict[str, int] | None = None
) -> dict[str, dict[str, Any]]:
    peaks = peaks or {}
    return {
        st: {"seconds": totals[st], "rows": rows.get(st), "peak_memory_bytes": peaks.get(st)}
        for st in report.ordered_stages(totals)
    }


def bench_size(
    size: Size,
    quarter: str,
    root: Path,
    *,
    baseline_files: int | None,
    incremental: bool,
    say: Callable[[str], None] = _say,
) -> dict[str, Any]:
    """Generate (or reuse) the data of one size, run the pipeline, the references and the incremental run."""
    tag = f"[{size.name}]"
    say(f"{tag} {size.describe()}, quarter {quarter}")
    gen, gen_seconds = generated(size, quarter, root, progress=lambda m: say(f"{tag} {m}"))
    if gen_seconds is None:
        say(f"{tag} using cached data in {gen}")
    files = landing_files(gen / "landing" / quarter)
    run = fresh_run_dir(gen, root / size.key(quarter) / "run")
    out: dict[str, Any] = {
        "name": size.name,
        "description": size.describe(),
        "cities": size.cities,
        "units": size.n_units,
        "scale": size.scale,
        "seed": size.seed,
        "data_dir": str(run),
        "generation_seconds": gen_seconds if gen_seconds is not None else _cached_generation_seconds(gen),
        "generation_cached": gen_seconds is None,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "load_before": _load(),
    }

    say(f"{tag} pipeline (run_quarters [{quarter}]) on {len(files)} files …")
    full = run_pipeline(run, quarter, "full", progress=lambda m: say(f"{tag}{m}"))
    rows = stage_rows(run, quarter)
    totals = full.stage_totals()
    out.update(
        {
            "end_to_end_seconds": full.seconds,
            "seconds_to_published": full.seconds_to_published,
            "process_seconds": full.process_seconds,
            "import_seconds": full.import_seconds,
            "stages": stages_with_rows(totals, rows, full.stage_peaks()),
            "stage_calls": full.stages,
            "unaccounted_seconds": round(full.seconds - sum(totals.values()), 3),
            "peak_memory_bytes": full.peak_rss_bytes,
            "memory_method": full.memory_method,
            "warehouse_bytes": warehouse_sizes(run),
            "dbt": full.dbt_summary(),
            "dagster_events": dagster_events(run),
            "log": str(full.log),
            "speed_during": full.speed,
        }
    )
    say(
        f"{tag} end to end {full.seconds:.1f}s (process {full.process_seconds:.1f}s), "
        f"peak memory {mb(full.peak_rss_bytes):.0f} MB"
    )

    say(f"{tag} floor: reading every cell with fastexcel …")
    read = read_all(files)
    mart = heaviest_mart_sql(warehouse_paths(run)["work"], full.dbt, run)
    floor_seconds = read.seconds + (mart.seconds if mart else 0.0)
    out["floor"] = {
        "read": read.__dict__,
        "mart_sql": None if mart is None else mart.__dict__,
        "seconds": round(floor_seconds, 3),
    }
    say(
        f"{tag} floor {floor_seconds:.1f}s = read {read.seconds:.1f}s ({read.cells / 1e6:.2f}M cells, "
        f"{read.workers} processes)" + (f" + {mart.mart} SQL {mart.seconds:.2f}s" if mart else "")
    )

    ingest_seconds = ingestion_seconds(run, quarter, totals.get("ingest"))
    if ingest_seconds != totals.get("ingest"):
        say(
            f"{tag} ingestion {ingest_seconds:.1f}s: the ingest step {totals.get('ingest'):.1f}s, less its "
            "wait for the prefetch, plus the prefetch's own time (it ran while the command started)"
        )
    if baseline_files is not None:
        say(f"{tag} baseline: openpyxl + pandas …")
        base = run_baseline(files, baseline_files)
        out["baseline"] = {**base.__dict__, "description": base.describe()}
        say(f"{tag} {base.describe()}")
    else:
        out["baseline"] = None
    out["ingestion_seconds"] = ingest_seconds
    out["ratios"] = {
        "end_to_end_over_floor": report.ratio(full.seconds, floor_seconds),
        "baseline_ingest_over_our_ingest": report.ratio(
            out["baseline"]["seconds"] if out["baseline"] else None, ingest_seconds
        ),
    }

    if incremental:
        out["incremental"] = bench_incremental(run, quarter, full.published, tag, say)
    out["load_after"] = _load()
    return out


def ingestion_seconds(run: Path, quarter: str, stage_seconds: float | None) -> float | None:
    """What ingesting the quarter took, whichever process did it: the ingest step's seconds, less the
    time it waited for the operator command's prefetch, plus the prefetch's own seconds (it archived
    and parsed while the command loaded Dagster and dbt: pipelines/ingest/prefetch.py). The ingest stage
    alone would flatter the comparison with the baseline, which reads every file itself."""
    if stage_seconds is None:
        return None
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(run / ".dagster"))
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["raw", "submissions"]), asset_partitions=[quarter]),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return stage_seconds
    timings = records[0].asset_materialization.metadata.get("timings_s")
    values = timings.value if isinstance(timings, dg.JsonMetadataValue) else None
    if not isinstance(values, dict) or "prefetch" not in values:
        return stage_seconds
    head_start = float(values["prefetch"]) - float(values.get("prefetch_wait", 0.0))
    return round(stage_seconds + max(head_start, 0.0), 3)


def dagster_events(run: Path) -> dict[str, int]:
    """Events each run stored in the run folder's Dagster instance (sqlite: one file per run), by run id.
    What every dbt model and test costs in the event log shows here (issue 16)."""
    import sqlite3

    counts: dict[str, int] = {}
    for db in sorted((run / ".dagster" / "history" / "runs").glob("*.db")):
        if db.stem == "index":
            continue
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            counts[db.stem] = int(con.execute("select count(*) from event_logs").fetchone()[0])
        except sqlite3.Error:
            continue
        finally:
            con.close()
    return counts


def bench_incremental(
    run: Path, quarter: str, published: Path, tag: str, say: Callable[[str], None]
) -> dict[str, Any]:
    resub = resubmit(run, quarter)
    say(
        f"{tag} incremental: {resub.unit_code} resubmits {resub.corrected.name} "
        f"({resub.cell}: {resub.old_value:g} → {resub.new_value:g}) …"
    )
    before = unit_fingerprint(published, resub.unit_code, quarter)
    release_before = published.resolve()
    events_before = dagster_events(run)
    inc = run_pipeline(run, quarter, "incremental", progress=lambda m: say(f"{tag}{m}"))
    after = unit_fingerprint(inc.published, resub.unit_code, quarter)
    out = {
        "unit_code": resub.unit_code,
        "file": resub.corrected.name,
        "cell": resub.cell,
        "old_value": resub.old_value,
        "new_value": resub.new_value,
        "seconds": inc.seconds_to_published,
        "seconds_with_report": inc.seconds,
        "process_seconds": inc.process_seconds,
        "stages": {st: {"seconds": s} for st, s in inc.stage_totals().items()},
        "peak_memory_bytes": inc.peak_rss_bytes,
        "speed_during": inc.speed,
        "dagster_events": {k: v for k, v in dagster_events(run).items() if k not in events_before},
        "published_changed": inc.published.resolve() != release_before,
        "unit_rows_changed": before != after,
        "corrected_file_is_current": current_submission(run, quarter, resub.unit_code)
        == resub.corrected.name,
    }
    say(
        f"{tag} incremental re-run {inc.seconds_to_published or 0:.1f}s to the published warehouse "
        f"({inc.seconds:.1f}s with the report); new release {out['published_changed']}, "
        f"unit's rows changed {out['unit_rows_changed']}, "
        f"corrected file current {out['corrected_file_is_current']}"
    )
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default=",".join(DEFAULT_SIZES),
        help=f"comma list of {', '.join(SIZES)} or provinceN (default %(default)s)",
    )
    p.add_argument("--quarter", default="2025Q3")
    p.add_argument(
        "--root", type=Path, default=PROJECT_ROOT / "data" / "bench", help="cache and results folder"
    )
    p.add_argument("--skip-baseline", action="store_true", help="do not time the openpyxl+pandas baseline")
    p.add_argument(
        "--incremental",
        choices=("first", "all", "none"),
        default="first",
        help="the single-unit resubmission run on the first size only (default), on every size, or none",
    )
    p.add_argument(
        "--baseline-files",
        type=int,
        default=DEFAULT_MAX_FILES,
        help="read all files with openpyxl up to this many, else a sample of this many (default %(default)s)",
    )
    p.add_argument("--smoke", action="store_true", help="the smoke size only, baseline on a few files")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """One line on stderr and an exit code for every mistake the operator can fix (as `assessment run`
    does, pipelines/cli/errors.py): 2 a wrong argument, 3 a root folder that cannot be written, 130
    Ctrl-C; 1 when a size's pipeline run failed."""
    args = build_parser().parse_args(argv)
    from pipelines.cli.errors import UserError, check_quarter, stopped_or_refused

    try:
        # a quarter the pipeline knows (a rules file covers its year), before any data is generated
        quarter = check_quarter(args.quarter)
        sizes = [SIZES["smoke"]] if args.smoke else parse_sizes(args.sizes)
    except (ValueError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    os.environ.setdefault("ASSESSMENT_DEMO", "1")  # generated data: the public demo key is allowed

    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) unwinds like Ctrl-C, so a running pipeline child is stopped with us.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        return _bench(args, quarter, sizes)
    except (KeyboardInterrupt, OSError) as exc:  # the root under /proc, a read-only folder, Ctrl-C
        told = stopped_or_refused(exc)
        if told is None:
            raise
        print(f"error: {told}", file=sys.stderr)
        return told.code


def _writable_root(path: Path) -> Path:
    """The results and cache folder, created; refused at once when it cannot be written (rather than
    after the calibration, or after generating a size)."""
    root = path.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(root))
    return root


def _bench(args: argparse.Namespace, quarter: str, sizes: list[Size]) -> int:
    baseline_files = (
        None if args.skip_baseline else (SMOKE_BASELINE_FILES if args.smoke else args.baseline_files)
    )
    root = _writable_root(args.root)
    now = datetime.now(UTC)
    result: dict[str, Any] = {
        "schema": 1,
        "stamp": report.stamp(now),
        "started_at": now.isoformat(),
        "quarter": quarter,
        "root": str(root),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_bytes": _memory_total(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_before": _load(),
        },
        "git_commit": _git_commit(),
        "sizes": {},
    }
    result["machine"]["speed_before"] = python_loop_seconds()
    load = result["machine"]["load_before"]
    if load and load[0] > 1.5:
        _say(
            f"warning: load average {load[0]} on {os.cpu_count()} CPUs: "
            "figures will be slower than on a quiet machine"
        )
    started = time.perf_counter()
    status = 0
    for i, size in enumerate(sizes):
        incremental = args.incremental == "all" or (args.incremental == "first" and i == 0)
        try:
            result["sizes"][size.name] = bench_size(
                size, quarter, root, baseline_files=baseline_files, incremental=incremental
            )
        except PipelineError as exc:
            _say(f"[{size.name}] {exc}")
            result["sizes"][size.name] = {"name": size.name, "units": size.n_units, "error": str(exc)}
            status = 1
    total = time.perf_counter() - started
    result["total_seconds"] = round(total, 1)
    generated_now = sum(
        s.get("generation_seconds") or 0
        for s in result["sizes"].values()
        if not s.get("generation_cached", True)
    )
    cached = sum(
        s.get("generation_seconds") or 0 for s in result["sizes"].values() if s.get("generation_cached")
    )
    result["generation_seconds_this_run"] = round(generated_now, 1)
    result["clean_clone_seconds_estimate"] = round(total + cached, 1)
    result["machine"]["load_after"] = _load()
    result["machine"]["speed_after"] = python_loop_seconds()
    result["scaling"] = report.scaling(result["sizes"])
    result["targets"] = report.targets(result)

    results_dir = root / "results"
    json_path = results_dir / f"bench-{result['stamp']}.json"
    prev = report.previous_result(results_dir, exclude=json_path)
    result["previous"] = str(prev[0]) if prev else None
    report.write_json(result, json_path)
    chart_path = report.chart(
        result, prev[1] if prev else None, results_dir / f"bench-{result['stamp']}.html"
    )
    _say("\n" + report.table(result))
    _say(
        f"\nbenchmark {total:.0f}s (estimated from a clean clone, generation included: "
        f"{result['clean_clone_seconds_estimate']:.0f}s); load average {result['machine']['load_after']}"
    )
    _say(speed_note(result, prev[1] if prev else None))
    _say(f"figures: {json_path}\nchart:   {chart_path}" + (f"\ncompared with {prev[0]}" if prev else ""))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
