"""Command line: `python -m pipelines.synthetic --quarters 2025Q1..2026Q4 --seed 7`."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from pipelines.domain.quarters import quarter_range
from pipelines.paths import data_dir
from pipelines.synthetic.city import GeneratorConfig, LandingNotSyntheticError, generate
from pipelines.synthetic.noise import NoiseRates
from pipelines.synthetic.rates import AnomalyRates, MessRates, apply_overrides
from pipelines.synthetic.scenarios import SCENARIOS

# The largest --scale accepted. Scale 1 is a real city (≈17,000 people, docs/generator.md); 100 is a
# city of ≈1.7 million civil servants (16 cities: 27 million), far beyond any real one, and already
# minutes of work for a single unit (the whole city's population is built). Larger values are typing
# mistakes: 1e300 overflows numpy's staff counts, and inf or nan cannot become a head count at all.
MAX_SCALE = 100.0


def _units(text: str | None) -> tuple[str, ...] | int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)  # its range is checked against the registry (pick_units)
    codes = tuple(code.strip() for code in text.split(",") if code.strip())
    if not codes:
        raise ValueError(f"--units names no unit: {text!r}; give a number N or comma-separated unit codes")
    return codes


def _check_overrides(assignments: list[str]) -> None:
    """Each --set value is a number (apply_overrides checks the name and the 0..1 range)."""
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            continue
        try:
            float(value)
        except ValueError:
            raise ValueError(
                f"--set {item}: rate {name.strip()} must be a number between 0 and 1, got {value!r}"
            ) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipelines.synthetic",
        description="Generate a synthetic city's quarterly assessment submissions (workbooks in the landing "
        "area) and the ground truth behind them.",
    )
    p.add_argument(
        "--quarters",
        default="2025Q1..2025Q4",
        help="quarters to generate: 2025Q1..2026Q4, a comma list, or one key (default %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=7, help="random seed; same arguments give the same files (default 7)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="people multiplier per unit (default 1.0)")
    p.add_argument(
        "--units",
        default=None,
        help="a number N (N units spread over levels and base methods) or comma-separated unit codes",
    )
    p.add_argument(
        "--cities", type=int, default=1, help="N cities' worth of units: a province (1-16, default 1)"
    )
    p.add_argument(
        "--scenario",
        default="default",
        choices=sorted(SCENARIOS),
        help="city scenario (docs/generator.md, Scenarios; default %(default)s)",
    )
    p.add_argument("--clean", action="store_true", help="no mess, no noise and no anomalies")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="RATE=VALUE",
        help="override one rate, e.g. --set late=0.2 --set lenient_rater=0.01 (repeatable)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="root of generated data (default: $ASSESSMENT_DATA_DIR or ./data)",
    )
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        quarters = tuple(quarter_range(args.quarters))
        _check_overrides(args.overrides)
        groups = apply_overrides(
            {"mess": MessRates(), "anomalies": AnomalyRates(), "noise": NoiseRates()}, args.overrides
        )
        if not 1 <= args.cities <= 16:
            raise ValueError(f"--cities must be between 1 and 16, got {args.cities}")
        if not math.isfinite(args.scale) or not 0 < args.scale <= MAX_SCALE:
            raise ValueError(f"--scale must be a number above 0 and at most {MAX_SCALE:g}, got {args.scale}")
        if args.seed < 0:
            raise ValueError(f"--seed must be 0 or more, got {args.seed}")
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1 (default: one per core), got {args.workers}")
        cfg = GeneratorConfig(
            quarters=quarters,
            seed=args.seed,
            scale=args.scale,
            units=_units(args.units),
            cities=args.cities,
            clean=args.clean,
            mess=groups["mess"],
            anomalies=groups["anomalies"],
            noise=groups["noise"],
            workers=args.workers or 0,  # 0: one per core
            scenario=args.scenario,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = (args.data_dir or data_dir()).resolve()
    started = time.perf_counter()
    try:
        summaries = generate(cfg, root)
    except (ValueError, LandingNotSyntheticError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = time.perf_counter() - started
    files = sum(s.files for s in summaries)
    print(f"generated {len(summaries)} quarter(s), {files} files in {total:.1f}s")
    print(f"  landing area: {root / 'landing'}")
    print(f"  ground truth: {root / 'ground_truth'} (never read by the pipeline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
