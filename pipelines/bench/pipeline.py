"""One timed pipeline run (pipelines.ops.run_quarters) in a child process of its own.

The parent (`run_pipeline`) starts `python -m pipelines.bench.pipeline <data dir> <quarter> <events>`,
samples the memory of the child's process tree (memory.PeakSampler) and relays progress. The child's
stdout and stderr (Dagster's and dbt's chatter) go to a log file; what the benchmark needs comes back as
JSON lines in the events file:

    {"event": "stage", "stage": "ingest", "quarter": "2025Q3", "seconds": 12.3, "at": 15.1, "wall": …}
    {"event": "progress", "message": "quarter 2025Q3", "at": 3.2}
    {"event": "done", "seconds": 80.1, "published": "...", "dbt": {...}}

Stage times come from run_quarters' `on_stage` callback. Each event carries its wall-clock time, so the
parent can attribute the memory samples it took to the stage that was running.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.bench.calibration import SpeedProbe
from pipelines.bench.floor import MARTS_BY_TIME
from pipelines.bench.memory import PeakSampler

MART_SCHEMAS = ("marts", "quality")


# -- child side ---------------------------------------------------------------------------------------
class _Events:
    def __init__(self, path: Path) -> None:
        self.fh = path.open("a", encoding="utf-8")
        self.started = time.perf_counter()

    def emit(self, event: str, **fields: Any) -> None:
        record = {
            "event": event,
            "at": round(time.perf_counter() - self.started, 3),
            "wall": time.time(),
            **fields,
        }
        self.fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.fh.flush()


def dbt_results(run_ids: list[str]) -> dict[str, Any]:
    """What dbt's run_results.json files of these Dagster runs say: time in models and in tests, and the
    analyst-facing marts (schema marts or quality, fct_/dim_) with their compiled SQL, slowest first."""
    from pipelines.defs.dbt.project import DBT_PROJECT_DIR

    models: list[dict[str, Any]] = []
    totals: dict[str, dict[str, float]] = {}
    for rid in run_ids:
        for results in (DBT_PROJECT_DIR / "target").glob(f"*-{rid[:7]}-*/run_results.json"):
            try:
                data = json.loads(results.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for r in data.get("results", []):
                kind = r["unique_id"].split(".", 1)[0]
                t = totals.setdefault(kind, {"n": 0, "seconds": 0.0})
                t["n"] += 1
                t["seconds"] = round(t["seconds"] + float(r.get("execution_time") or 0), 3)
                if kind == "model":
                    models.append(
                        {
                            "unique_id": r["unique_id"],
                            "relation": r.get("relation_name") or "",
                            "seconds": round(float(r.get("execution_time") or 0), 3),
                            "compiled_code": r.get("compiled_code") or "",
                        }
                    )
    marts = sorted((m for m in models if is_mart(m["relation"])), key=lambda m: -m["seconds"])
    top = sorted(models, key=lambda m: -m["seconds"])[:8]
    return {
        "totals": totals,
        "top_models": [{k: v for k, v in m.items() if k != "compiled_code"} for m in top],
        MARTS_BY_TIME: marts,
    }


def is_mart(relation: str) -> bool:
    """`"build-x"."marts"."fct_person_quarter"` → True (an analyst-facing fct_/dim_ table)."""
    parts = [p.strip('"') for p in relation.split(".")]
    return len(parts) == 3 and parts[1] in MART_SCHEMAS and parts[2].startswith(("fct_", "dim_"))


def child_main(data: Path, quarter: str, events_path: Path) -> int:
    from pipelines.bench.sizes import use_data_dir

    events = _Events(events_path)
    use_data_dir(data)
    import_started = time.perf_counter()
    import dagster as dg

    from pipelines import ops

    events.emit("imported", seconds=round(time.perf_counter() - import_started, 3))

    def on_stage(stage: str, q: str | None, seconds: float) -> None:
        events.emit("stage", stage=stage, quarter=q, seconds=round(seconds, 3))

    def progress(message: str) -> None:
        events.emit("progress", message=message)

    started = time.perf_counter()
    published_after: list[float] = []

    def on_stage_timed(stage: str, q: str | None, seconds: float) -> None:
        on_stage(stage, q, seconds)
        if stage == "publish":  # analysts see the new figures from here on; the report follows
            published_after.append(round(time.perf_counter() - started, 3))

    try:
        published = ops.run_quarters([quarter], progress=progress, on_stage=on_stage_timed)
    except BaseException as exc:
        events.emit("error", message=f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - started
    run_ids = [r.run_id for r in dg.DagsterInstance.get().get_runs()]
    events.emit(
        "done",
        seconds=round(seconds, 3),
        seconds_to_published=published_after[-1] if published_after else None,
        published=str(published),
        dbt=dbt_results(run_ids),
    )
    return 0


# -- parent side --------------------------------------------------------------------------------------
@dataclass
class PipelineRun:
    seconds: float  # run_quarters, call to return: the end-to-end figure
    seconds_to_published: float | None  # call to the switch of the published release (report not yet)
    process_seconds: float  # the whole child process, imports included
    import_seconds: float
    stages: list[dict[str, Any]]
    published: Path
    peak_rss_bytes: int
    memory_method: str
    dbt: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None
    speed: dict[str, float | int] = field(default_factory=dict)  # the pace meanwhile (calibration.py)

    def dbt_summary(self) -> dict[str, Any]:
        """dbt's own figures with the slowest mart, without the compiled SQL (kept for the floor, too
        long for the JSON)."""
        summary = {k: v for k, v in self.dbt.items() if k != MARTS_BY_TIME}
        marts = self.dbt.get(MARTS_BY_TIME) or []
        if marts:
            summary["heaviest_mart"] = {k: v for k, v in marts[0].items() if k != "compiled_code"}
        return summary

    def stage_peaks(self) -> dict[str, int]:
        """The largest tree RSS seen while each stage ran (over all its calls)."""
        out: dict[str, int] = {}
        for s in self.stages:
            if s.get("peak_memory_bytes") is not None:
                out[s["stage"]] = max(out.get(s["stage"], 0), int(s["peak_memory_bytes"]))
        return out

    def stage_totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in self.stages:
            out[s["stage"]] = round(out.get(s["stage"], 0.0) + float(s["seconds"]), 3)
        return out


class PipelineError(RuntimeError):
    pass


def _follow(
    child: subprocess.Popen[bytes],
    events_path: Path,
    records: list[dict[str, Any]],
    progress: Callable[[str], None],
) -> int:
    """Relay the child's events until it exits; returns the number of event lines read."""
    seen = 0
    while True:
        finished = child.poll() is not None
        if events_path.exists():
            lines = events_path.read_text(encoding="utf-8").splitlines()
            for line in lines[seen:]:
                rec = json.loads(line)
                records.append(rec)
                if rec["event"] == "stage":
                    where = f" {rec['quarter']}" if rec.get("quarter") else ""
                    progress(f"    {rec['stage']}{where}: {rec['seconds']:.1f}s")
                elif rec["event"] == "progress":
                    progress(f"    · {rec['message']}")
            seen = len(lines)
        if finished:
            return seen
        time.sleep(0.25)


def _stop_tree(pid: int) -> None:
    """Terminate the child and its descendants (parse workers, dbt)."""
    try:
        import psutil

        procs = psutil.Process(pid).children(recursive=True)
    except Exception:
        procs = []
    for proc in procs:
        try:
            proc.terminate()
        except Exception:
            continue
    with contextlib.suppress(OSError):
        os.kill(pid, 15)


def run_pipeline(
    data: Path, quarter: str, label: str, progress: Callable[[str], None] = print
) -> PipelineRun:
    """Run the pipeline on `data` for `quarter` in a child process; stages, times, peak memory."""
    events_path = data / f".bench-{label}-events.jsonl"
    log_path = data / f".bench-{label}.log"
    events_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.bench.pipeline", str(data), quarter, str(events_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        sampler = PeakSampler(pid=child.pid).start()
        probe = SpeedProbe().start()
        records: list[dict[str, Any]] = []
        try:
            _follow(child, events_path, records, progress)
        finally:
            probe.stop()
            sampler.stop()
            if child.poll() is None:  # interrupted: do not leave the pipeline running on its own
                _stop_tree(child.pid)
                child.wait()
    process_seconds = time.perf_counter() - started
    done = next((r for r in records if r["event"] == "done"), None)
    if child.returncode != 0 or done is None:
        error = next((r["message"] for r in records if r["event"] == "error"), "no result")
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise PipelineError(f"pipeline run {label} failed ({error}); log {log_path}:\n{tail}")
    imported = next((r for r in records if r["event"] == "imported"), {"seconds": 0.0})
    return PipelineRun(
        seconds=float(done["seconds"]),
        seconds_to_published=done.get("seconds_to_published"),
        process_seconds=round(process_seconds, 3),
        import_seconds=float(imported["seconds"]),
        stages=[
            {
                "stage": r["stage"],
                "quarter": r.get("quarter"),
                "seconds": r["seconds"],
                "peak_memory_bytes": sampler.peak_between(r["wall"] - r["seconds"], r["wall"]),
            }
            for r in records
            if r["event"] == "stage"
        ],
        published=Path(done["published"]),
        peak_rss_bytes=sampler.peak_bytes,
        memory_method=sampler.method,
        dbt=done.get("dbt") or {},
        log=log_path,
        speed=probe.summary(),
    )


if __name__ == "__main__":
    raise SystemExit(child_main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
