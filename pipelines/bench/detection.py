"""Detection benchmark (quality.md, "How detection is evaluated").

    uv run python -m pipelines.bench.detection --units 100 --quarters 2025Q1..2025Q4
    uv run python -m pipelines.bench.detection --units 100 --no-clean --data-root /tmp/qbench
    uv run python -m pipelines.bench.detection --units 100 --scenarios default,lenient,small,turnover,weak \
        --data-root /tmp/qbench --json /tmp/qbench/bench.json

With --scenarios, each named generator scenario (pipelines/synthetic/scenarios.py) gets its own anomalous
and clean city under <data-root>/<scenario>/; the summary table gives, per scenario and type, precision
and recall, and per scenario the clean city's findings per 100 participant-quarters and whether any of
them is high severity. Results are written to --json after every scenario, so a long run that is stopped
keeps what it measured.

Generates a city with injected anomalies (and, unless --no-clean, a --clean city) into
<data-root>/anom and <data-root>/clean (generation is skipped when the landing area already exists),
runs the real pipeline (pipelines.cli.runner.run_quarters: Dagster jobs → dbt → publish) on each, reads
quality.fct_rating_findings read-only from the run's private work warehouse (the published file aliases
rater codes), and prints precision and recall per
finding type against the generator's ground truth (match_findings), and the findings per 100
participant-quarters by type on the clean city. The pipeline never reads the ground truth; only this
benchmark does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from pipelines.publish.warehouse import layout
from pipelines.quality.evaluation import match_findings
from pipelines.synthetic.city import LABEL_COLUMNS

LABEL_SCHEMA = dict.fromkeys(LABEL_COLUMNS, pl.String)


def _use_data_dir(root: Path) -> None:
    os.environ["ASSESSMENT_DATA_DIR"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / ".dagster")
    os.environ.pop("ASSESSMENT_DUCKDB", None)
    os.environ.pop("ASSESSMENT_REGISTRY_CSV", None)


def generate(
    root: Path, quarters: str, units: str, seed: int, clean: bool, scenario: str = "default"
) -> None:
    if (root / "landing").exists():
        print(f"using generated data in {root}", flush=True)
        return
    from pipelines.synthetic.__main__ import main as synth

    args = ["--quarters", quarters, "--units", units, "--seed", str(seed), "--data-dir", str(root)]
    args += ["--scenario", scenario]
    if clean:
        args.append("--clean")
    if synth(args) != 0:
        raise RuntimeError(f"generation into {root} failed")


def run_pipeline(root: Path) -> Path:
    _use_data_dir(root)
    from pipelines.cli.runner import landed_quarters, run_quarters

    started = time.perf_counter()
    published = run_quarters(landed_quarters(), progress=lambda msg: print(f"  {msg}", flush=True))
    print(f"pipeline on {root}: {time.perf_counter() - started:.0f}s", flush=True)
    return published


def read_findings(published: Path) -> tuple[pl.DataFrame, int]:
    """fct_rating_findings and the participant-quarters of the run's warehouse (read-only).

    Read from the pipeline's private work warehouse next to the published file, not from the analyst
    file: publishing replaces rater codes by aliases where a row also names the ratee (rater anonymity,
    pipelines.publish.export), and the ground truth names the real raters.
    """
    work = layout(published.parent).work
    with duckdb.connect(str(work if work.exists() else published), read_only=True) as con:
        findings = con.sql("select * from quality.fct_rating_findings").pl()
        participants = con.execute(
            "select coalesce(sum(n_participants), 0) from marts.fct_unit_quarter"
        ).fetchone()
    return findings, int(participants[0] if participants else 0)


def read_labels(root: Path) -> pl.DataFrame:
    files = sorted((root / "ground_truth").glob("*/anomalies.csv"))
    frames = [pl.read_csv(f, schema_overrides=LABEL_SCHEMA, infer_schema_length=0) for f in files]
    frames = [f.select(list(LABEL_SCHEMA)) for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=LABEL_SCHEMA)


NOT_DELIVERED = ("missing", "rejected")


def detectable_labels(labels: pl.DataFrame, root: Path) -> tuple[pl.DataFrame, int]:
    """The labels whose data reached the warehouse, and how many were dropped.

    The generator labels the anomalies it injected into a unit's workbook even when that unit then sends
    nothing or only a broken file (submissions.csv: expected_status missing / rejected); no detector can
    see those. A quarter label is dropped when its unit-quarter was not delivered, a year label (U1, U4)
    when any quarter of that unit's year was not.
    """
    files = sorted((root / "ground_truth").glob("*/submissions.csv"))
    frames = [
        pl.read_csv(f, infer_schema_length=0).select("quarter", "unit_code", "expected_status") for f in files
    ]
    if not frames or labels.is_empty():
        return labels, 0
    lost = (
        pl.concat(frames)
        .filter(pl.col("expected_status").is_in(NOT_DELIVERED))
        .select("quarter", "unit_code")
        .unique()
    )
    lost_periods = pl.concat(
        [
            lost.rename({"quarter": "period"}),
            lost.select(pl.col("quarter").str.slice(0, 4).alias("period"), "unit_code"),
        ]
    ).unique()
    kept = labels.join(lost_periods, on=["period", "unit_code"], how="anti")
    return kept, labels.height - kept.height


def _fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def report_detection(findings: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    table = match_findings(
        findings.select("code", *[c for c in LABEL_SCHEMA if c not in ("code", "type")]), labels
    )
    print("\ncode type                      labels findings   tp   fp   fn precision recall")
    for r in table.iter_rows(named=True):
        print(
            f"{r['code']:<4} {r['type']:<25} {r['n_labels']:>6} {r['n_findings']:>8} "
            f"{r['tp']:>4} {r['fp']:>4} {r['fn']:>4}   {_fmt(r['precision'])}  {_fmt(r['recall'])}"
        )
    return table


def report_rates(findings: pl.DataFrame, participants: int) -> pl.DataFrame:
    counts = findings.group_by("code", "severity").len().sort("code")
    rates = counts.with_columns((100 * pl.col("len") / max(participants, 1)).alias("per_100"))
    print(f"\nclean city: {findings.height} findings over {participants} participant-quarters")
    for r in rates.iter_rows(named=True):
        print(f"  {r['code']:<4} {r['severity']:<7} {r['len']:>5}  {r['per_100']:.3f} per 100 participants")
    return rates


UNIT_MODELS = (
    "int_rules",
    "int_unit_tests_quarter",
    "int_findings_units",
    "fct_rating_findings_quarterly",
    "int_unit_tests_year",
    "int_findings_unit_year",
    "fct_rating_findings",
    "fct_findings_summary",
    "fct_review_queue",
)


# Every quality model (A and U findings, the review queue) plus the rules table they read.
ALL_QUALITY_MODELS = ("int_rules", "path:models/quality")


def rebuild_findings(root: Path, models: Sequence[str] = ALL_QUALITY_MODELS) -> None:
    """Re-run quality models in an existing run's work warehouse with the current rules files and SQL,
    without generating or ingesting again: for measuring a detector change on cities a full benchmark
    already built. A full refresh, so the incremental finding tables take the current columns (a
    warehouse built before a column was added would otherwise refuse the append)."""
    import subprocess

    from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_executable
    from pipelines.defs.dbt.rules_table import write_rules_table

    work = layout(root / "warehouse").work
    write_rules_table(root)
    env = {**os.environ, "ASSESSMENT_DATA_DIR": str(root), "ASSESSMENT_DUCKDB": str(work)}
    cmd = [dbt_executable(), "run", "--quiet", "--full-refresh", "--profiles-dir", str(DBT_PROJECT_DIR)]
    subprocess.run([*cmd, "-s", *models], cwd=DBT_PROJECT_DIR, env=env, check=True)


def rebuild_unit_findings(root: Path) -> None:
    """Only the unit-level finding models and the marts over them (the rater findings stay as built)."""
    rebuild_findings(root, UNIT_MODELS)


def _rebuild(root: Path, args: argparse.Namespace) -> bool:
    """Rebuild the findings of an existing city as the flags ask; False when the city is to be built."""
    if args.rebuild_findings:
        rebuild_findings(root)
    elif args.rebuild_unit_findings:
        rebuild_unit_findings(root)
    else:
        return False
    return True


def clean_rates(findings: pl.DataFrame, participants: int) -> dict[str, object]:
    """The clean city's false alarms: all findings, per 100 participant-quarters, and the high ones."""
    per_code = findings.group_by("code").len().sort("code")
    return {
        "participant_quarters": participants,
        "findings": findings.height,
        "per_100": 100 * findings.height / max(participants, 1),
        "high": int((findings["severity"] == "high").sum()) if findings.height else 0,
        "by_code": {r["code"]: r["len"] for r in per_code.iter_rows(named=True)},
    }


def _built_city(root: Path, args: argparse.Namespace, scenario: str, *, clean: bool) -> Path:
    """The city's published warehouse: its findings rebuilt as the flags ask, else generated and run."""
    if _rebuild(root, args):
        return root / "warehouse" / "assessment.duckdb"
    generate(root, args.quarters, args.units, args.seed, clean=clean, scenario=scenario)
    return run_pipeline(root)


def run_scenario(root: Path, args: argparse.Namespace, scenario: str) -> dict[str, object]:
    """Anomalous and clean city of one scenario: P/R per type and the clean false-alarm rate."""
    out: dict[str, object] = {"scenario": scenario}
    anom = root / "anom"
    findings, participants = read_findings(_built_city(anom, args, scenario, clean=False))
    labels, dropped = detectable_labels(read_labels(anom), anom)
    print(f"\n[{scenario}] {dropped} labels dropped: their submission never reached the warehouse")
    table = report_detection(findings, labels)
    out["participant_quarters_anomalous"] = participants
    out["labels_dropped"] = dropped
    out["detection"] = table.to_dicts()
    if not args.no_clean:
        findings, participants = read_findings(_built_city(root / "clean", args, scenario, clean=True))
        report_rates(findings, participants)
        out["clean"] = clean_rates(findings, participants)
    return out


def summary_markdown(results: list[dict[str, object]]) -> str:
    """One table: a row per type, per scenario precision / recall (n labels), then the clean rates."""
    from pipelines.quality.evaluation import CODES

    names = [str(r["scenario"]) for r in results]
    lines = ["| type | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for code in CODES:
        cells = []
        for r in results:
            row = next(d for d in r["detection"] if d["code"] == code)  # type: ignore[union-attr]
            cells.append(
                f"{_fmt(row['precision']).strip()} / {_fmt(row['recall']).strip()} ({row['n_labels']})"
            )
        lines.append(f"| {code} | " + " | ".join(cells) + " |")
    clean_cells = []
    for r in results:
        c = r.get("clean")
        clean_cells.append(
            "–" if not isinstance(c, dict) else f"{c['per_100']:.3f} ({c['findings']}, {c['high']} high)"
        )
    lines.append("| clean per 100 (findings, high) | " + " | ".join(clean_cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pipelines.bench.detection", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--units", default="100", help="units to generate (a number or unit codes; default 100)")
    p.add_argument("--quarters", default="2025Q1..2025Q4")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data-root", type=Path, default=None, help="cache folder (default: a new temp dir)")
    p.add_argument("--no-clean", action="store_true", help="skip the clean city")
    p.add_argument("--clean-only", action="store_true", help="only the clean city")
    p.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated generator scenarios, each benchmarked under <data-root>/<scenario>/",
    )
    p.add_argument("--json", type=Path, default=None, help="write the per-scenario results here")
    p.add_argument(
        "--rebuild-unit-findings",
        action="store_true",
        help="with --scenarios: reuse the cities and warehouses already under --data-root and only rebuild "
        "the unit-level finding models (current SQL and rules files) before scoring",
    )
    p.add_argument(
        "--rebuild-findings",
        action="store_true",
        help="with --scenarios: reuse the cities and warehouses already under --data-root and rebuild every "
        "quality model (A and U findings, summary, review queue) with the current SQL and rules files",
    )
    args = p.parse_args(argv)
    root = args.data_root or Path(tempfile.mkdtemp(prefix="quality-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    if args.scenarios:
        from pipelines.synthetic.scenarios import scenario as known

        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        for name in names:
            known(name)  # fail before hours of work on a typo
        results = []
        for name in names:
            started = time.perf_counter()
            result = run_scenario(root / name, args, name)
            result["seconds"] = round(time.perf_counter() - started)
            results.append(result)
            if args.json:
                args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        print("\n" + summary_markdown(results))
        return 0
    if not args.clean_only:
        anom = root / "anom"
        generate(anom, args.quarters, args.units, args.seed, clean=False)
        findings, _ = read_findings(run_pipeline(anom))
        labels, dropped = detectable_labels(read_labels(anom), anom)
        print(f"\n{dropped} labels dropped: their unit-quarter's submission never reached the warehouse")
        report_detection(findings, labels)
    if not args.no_clean:
        clean = root / "clean"
        generate(clean, args.quarters, args.units, args.seed, clean=True)
        findings, participants = read_findings(run_pipeline(clean))
        report_rates(findings, participants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
