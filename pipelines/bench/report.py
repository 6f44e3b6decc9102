"""The benchmark's outputs: the JSON figures, the printed table and a chart comparing with the last run.

Files go to `<root>/results/`: `bench-<UTC stamp>.json` and `bench-<UTC stamp>.html` (plotly, with
plotly.min.js written once next to it, so the chart works offline and stays small). The previous run is
the newest other `bench-*.json` in that folder; the chart puts its bars next to this run's.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STAGE_ORDER = (
    "reference",
    "ingest",
    "validation",
    "findings",
    "dbt",
    "publish",
    "extracts",
    "report",
    "deliverables",
)
GB = 1024**3

# Targets of issue 16 (2-core machine); the first benchmark's were 90 s, 20 s, 15 min and 8 GB.
CITY_E2E_MAX_S = 25.0
INCREMENTAL_MAX_S = 10.0
PROVINCE16_E2E_MAX_S = 150.0
PROVINCE16_MEMORY_MAX_BYTES = 4 * GB
INGEST_SPEEDUP_MIN = 10.0
WHOLE_BENCHMARK_MAX_S = 30 * 60.0
LINEAR_TOLERANCE = 1.10  # time per unit may grow by 10 % between sizes before it counts as superlinear


# The references get colours of their own: sharing the stage palette made "end to end" look like "dbt".
REFERENCE_COLOURS = ["#1f1f1f", "#9e9e9e", "#bcbd22", "#17becf", "#8c564b"]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def ordered_stages(stages: Iterable[str]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in stages]
    return known + sorted(s for s in stages if s not in STAGE_ORDER)


def scaling(sizes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive sizes by units: does end-to-end time grow at most linearly with the number of units?"""
    runs = sorted(
        (s for s in sizes.values() if s.get("end_to_end_seconds")),
        key=lambda s: s["units"],
    )
    out = []
    for small, large in itertools.pairwise(runs):
        size_ratio = large["units"] / small["units"]
        time_ratio = large["end_to_end_seconds"] / small["end_to_end_seconds"]
        out.append(
            {
                "from": small["name"],
                "to": large["name"],
                "units_ratio": round(size_ratio, 2),
                "time_ratio": round(time_ratio, 2),
                "at_most_linear": time_ratio <= size_ratio * LINEAR_TOLERANCE,
            }
        )
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue that this run measured: value, limit, met."""
    sizes: dict[str, dict[str, Any]] = result["sizes"]
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, at_most: bool = True, unit: str = "s") -> None:
        if value is None:
            return
        met = value <= limit if at_most else value >= limit
        out.append({"target": name, "value": round(value, 2), "limit": limit, "unit": unit, "met": met})

    city = sizes.get("city")
    if city:
        add("city quarter end to end", city.get("end_to_end_seconds"), CITY_E2E_MAX_S)
        add(
            "incremental single-unit re-run to a published warehouse (city)",
            (city.get("incremental") or {}).get("seconds"),
            INCREMENTAL_MAX_S,
        )
    p16 = sizes.get("province16")
    if p16:
        add("16-city province quarter end to end", p16.get("end_to_end_seconds"), PROVINCE16_E2E_MAX_S)
        peak = p16.get("peak_memory_bytes")
        add(
            "16-city province peak memory",
            peak / GB if peak else None,
            PROVINCE16_MEMORY_MAX_BYTES / GB,
            unit="GB",
        )
    for name, size in sizes.items():
        speedup = (size.get("ratios") or {}).get("baseline_ingest_over_our_ingest")
        add(
            f"ingest vs openpyxl+pandas baseline ({name})",
            speedup,
            INGEST_SPEEDUP_MIN,
            at_most=False,
            unit="×",
        )
    for step in result.get("scaling", []):
        out.append(
            {
                "target": f"time grows at most linearly ({step['from']} → {step['to']})",
                "value": step["time_ratio"],
                "limit": round(step["units_ratio"] * LINEAR_TOLERANCE, 2),
                "unit": "× time",
                "met": step["at_most_linear"],
            }
        )
    total = result.get("clean_clone_seconds_estimate")
    if total is not None and set(sizes) >= {"city", "province4", "province16"}:
        add("whole benchmark from a clean clone", total, WHOLE_BENCHMARK_MAX_S)
    return out


def previous_result(results_dir: Path, exclude: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    candidates = sorted(p for p in results_dir.glob("bench-*.json") if p != exclude)
    for path in reversed(candidates):
        try:
            return path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def _fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _fmt_gb(x: int | None) -> str:
    return "-" if x is None else f"{x / GB:.2f} GB"


def _fmt_rows(x: int | None) -> str:
    if x is None:
        return "-"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k" if x >= 1e4 else str(x)


def _fmt_speed(speed: dict[str, Any] | None) -> str:
    return f"{speed['median']:.3f}s" if speed and speed.get("median") else "-"


def table(result: dict[str, Any]) -> str:
    """A plain-text summary: stages × sizes (seconds and rows), then the references, ratios and targets."""
    sizes: dict[str, dict[str, Any]] = result["sizes"]
    names = list(sizes)
    stages = ordered_stages({st for s in sizes.values() for st in s.get("stages", {})})
    width = 22
    lines = [f"{'stage (s / rows)':<20}" + "".join(f"{n:>{width}}" for n in names)]
    for st in stages:
        cells = []
        for n in names:
            info = sizes[n].get("stages", {}).get(st)
            cells.append(
                "-" if info is None else f"{_fmt_s(info['seconds'])}s / {_fmt_rows(info.get('rows'))}"
            )
        lines.append(f"{st:<20}" + "".join(f"{c:>{width}}" for c in cells))

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"{label:<20}" + "".join(f"{fn(sizes[n]):>{width}}" for n in names))

    row("(between stages)", lambda s: f"{_fmt_s(s.get('unaccounted_seconds'))}s")
    row("end to end", lambda s: f"{_fmt_s(s.get('end_to_end_seconds'))}s")
    row("process (+imports)", lambda s: f"{_fmt_s(s.get('process_seconds'))}s")
    row("peak memory", lambda s: f"{(s.get('peak_memory_bytes') or 0) / GB:.2f} GB")
    for st in stages:
        row(
            f"  during {st}",
            lambda s, st=st: _fmt_gb((s.get("stages", {}).get(st) or {}).get("peak_memory_bytes")),
        )
    row("warehouse (pub.)", lambda s: f"{(s.get('warehouse_bytes') or {}).get('published', 0) / 1e6:.1f} MB")
    row("warehouse (work)", lambda s: f"{(s.get('warehouse_bytes') or {}).get('work', 0) / 1e6:.1f} MB")
    row("floor: read cells", lambda s: f"{_fmt_s((s.get('floor') or {}).get('read', {}).get('seconds'))}s")
    row(
        "floor: mart SQL",
        lambda s: f"{_fmt_s(((s.get('floor') or {}).get('mart_sql') or {}).get('seconds'))}s",
    )
    row("floor", lambda s: f"{_fmt_s((s.get('floor') or {}).get('seconds'))}s")
    row("baseline (openpyxl)", lambda s: f"{_fmt_s((s.get('baseline') or {}).get('seconds'))}s")
    row("e2e / floor", lambda s: f"{(s.get('ratios') or {}).get('end_to_end_over_floor') or '-'}×")
    row(
        "baseline / ingest",
        lambda s: f"{(s.get('ratios') or {}).get('baseline_ingest_over_our_ingest') or '-'}×",
    )
    row("incremental", lambda s: f"{_fmt_s((s.get('incremental') or {}).get('seconds'))}s")
    row("  (+ report)", lambda s: f"{_fmt_s((s.get('incremental') or {}).get('seconds_with_report'))}s")
    # the machine's pace while each run went on (calibration.py): seconds per 2M additions, median
    row("speed during run", lambda s: _fmt_speed(s.get("speed_during")))
    row("  during re-run", lambda s: _fmt_speed((s.get("incremental") or {}).get("speed_during")))
    for n in names:
        b = sizes[n].get("baseline")
        if b:
            lines.append(f"  baseline {n}: {b['description']}")
        mart = (sizes[n].get("floor") or {}).get("mart_sql")
        if mart:
            lines.append(f"  floor mart {n}: {mart['mart']} ({mart['chosen_by']})")
    if result.get("targets"):
        lines.append("targets:")
        for t in result["targets"]:
            mark = "met   " if t["met"] else "MISSED"
            lines.append(f"  {mark} {t['target']}: {t['value']} {t['unit']} (limit {t['limit']})")
    return "\n".join(lines)


def chart(result: dict[str, Any], previous: dict[str, Any] | None, path: Path) -> Path:
    """Plotly HTML: stage seconds per size (this run and the previous one side by side), the end-to-end
    time against the floor and the baseline, and peak memory."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("seconds per stage", "end to end vs references (s)", "peak memory (GB)"),
        column_widths=[0.45, 0.35, 0.2],
    )
    runs = [("this run", result)] + ([("previous", previous)] if previous else [])
    sizes = list(result["sizes"])
    stages = ordered_stages({st for s in result["sizes"].values() for st in s.get("stages", {})})
    palette = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#9d755d"]
    for r_i, (label, run) in enumerate(runs):
        present = [s for s in sizes if s in run.get("sizes", {})]
        for s_i, st in enumerate(stages):
            fig.add_trace(
                go.Bar(
                    name=st,
                    legendgroup=st,
                    showlegend=r_i == 0,
                    x=[[label] * len(present), present],
                    y=[(run["sizes"][s].get("stages", {}).get(st) or {}).get("seconds", 0) for s in present],
                    marker_color=palette[s_i % len(palette)],
                    opacity=1.0 if r_i == 0 else 0.5,
                ),
                row=1,
                col=1,
            )
    refs = (
        ("end to end", lambda s: s.get("end_to_end_seconds")),
        ("floor", lambda s: (s.get("floor") or {}).get("seconds")),
        ("baseline ingest", lambda s: (s.get("baseline") or {}).get("seconds")),
        ("our ingest", lambda s: (s.get("stages", {}).get("ingest") or {}).get("seconds")),
        ("incremental", lambda s: (s.get("incremental") or {}).get("seconds")),
    )
    for i, (label, get) in enumerate(refs):
        ys = [get(result["sizes"][s]) for s in sizes]
        fig.add_trace(
            go.Bar(name=label, x=sizes, y=ys, marker_color=REFERENCE_COLOURS[i % len(REFERENCE_COLOURS)]),
            row=1,
            col=2,
        )
        if previous and label == "end to end":
            prev = [get(previous["sizes"][s]) if s in previous.get("sizes", {}) else None for s in sizes]
            fig.add_trace(
                go.Scatter(name="end to end (previous)", x=sizes, y=prev, mode="markers", marker_symbol="x"),
                row=1,
                col=2,
            )
    for label, run in runs:
        present = [s for s in sizes if s in run.get("sizes", {})]
        fig.add_trace(
            go.Bar(
                name=f"memory ({label})",
                x=present,
                y=[(run["sizes"][s].get("peak_memory_bytes") or 0) / GB for s in present],
            ),
            row=1,
            col=3,
        )
    fig.update_layout(barmode="stack", title=f"benchmark {result.get('stamp', '')}", height=520)
    fig.update_xaxes(type="multicategory", row=1, col=1)
    # Stacking only makes sense for the stages; the other panels are side by side.
    for trace in fig.data:
        if trace.xaxis != "x":
            trace.offsetgroup = trace.name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs="directory", full_html=True)
    return path
