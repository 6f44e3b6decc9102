"""Generate a city's (or a province's) quarterly submissions and the ground truth behind them."""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.domain.quarters import Quarter
from pipelines.domain.registry import load_registry, province_registry
from pipelines.ingest.receiving import Entry, write_log
from pipelines.synthetic.anomalies import CODE_OF
from pipelines.synthetic.breakage import BREAKAGES
from pipelines.synthetic.deliver import deliver, epoch_ns, receiving_entries
from pipelines.synthetic.noise import NoiseRates, NoiseReport
from pipelines.synthetic.plan import SubmissionPlan, plan_submission
from pipelines.synthetic.population import City, Member, Person
from pipelines.synthetic.rates import AnomalyRates, MessRates, zero
from pipelines.synthetic.scenarios import apply_scenario, scenario
from pipelines.synthetic.scoring_params import rules_for_year, scoring_params
from pipelines.synthetic.unit_quarter import UnitQuarter, UnitTraits, build_unit_quarter

# Stream ids keep each random purpose independent, so changing one part of the generator does not
# reshuffle everything else.
STREAM_TRAITS, STREAM_YEAR, STREAM_CONTENT, STREAM_PLAN, STREAM_WRITE = 3, 4, 5, 6, 7


@dataclass(frozen=True)
class GeneratorConfig:
    quarters: tuple[Quarter, ...]
    seed: int = 7
    scale: float = 1.0
    units: tuple[str, ...] | int | None = None  # codes, a count (a spread sample), or all
    cities: int = 1
    clean: bool = False
    mess: MessRates = field(default_factory=MessRates)
    anomalies: AnomalyRates = field(default_factory=AnomalyRates)
    noise: NoiseRates = field(default_factory=NoiseRates)
    workers: int = 0  # 0: one per core
    scenario: str = "default"  # pipelines/synthetic/scenarios.py


@dataclass
class QuarterSummary:
    quarter: str
    units: int = 0
    files: int = 0
    participants: int = 0
    rating_rows: int = 0
    labels: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)


def pick_units(registry: pl.DataFrame, units: tuple[str, ...] | int | None) -> pl.DataFrame:
    """The registry rows to generate: all, the named codes, or N units spread over levels and methods."""
    if units is None:
        return registry
    if isinstance(units, int):
        if not 1 <= units <= registry.height:
            raise ValueError(f"--units must be between 1 and {registry.height}, got {units}")
        # Round-robin over (base method, level) groups, each walked at an even stride, so that even
        # ten units cover every base method and level and a larger sample stays representative.
        groups = [
            g["unit_code"].to_list()
            for _, g in sorted(registry.group_by(["base_method", "level"]), key=lambda kv: kv[0])
        ]
        order: list[str] = []
        for round_ in range(max(len(g) for g in groups)):
            for g in groups:
                if round_ < len(g):
                    # Walk each group by a stride coprime to its size: spread out, every unit once.
                    stride = next(s for s in (7, 11, 13, 17, 19, 23, 1) if len(g) % s)
                    order.append(g[(round_ * stride) % len(g)])
        return registry.filter(pl.col("unit_code").is_in(order[:units]))
    unknown = sorted(set(units) - set(registry["unit_code"].to_list()))
    if unknown:
        raise ValueError(f"unknown unit codes: {', '.join(unknown)}")
    return registry.filter(pl.col("unit_code").is_in(list(units)))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def unit_traits(
    seed: int,
    city: int,
    unit_index: int,
    years: Iterable[int],
    sizes: dict[int, int],
    mess: MessRates,
    anomalies: AnomalyRates,
    staff_by_year: dict[int, list[int]] | None = None,
) -> UnitTraits:
    """A unit's stable character and its year-level anomaly (if any), from its own random stream."""
    rng = _rng(seed, city, unit_index, STREAM_TRAITS)
    sloppy = bool(rng.random() < mess.sloppy_unit)
    proposes = bool(rng.random() >= mess.no_proposal)
    level_effect = float(rng.normal(0, 1.2))
    shares: dict[int, float] = {}
    year_anomaly: dict[int, str | None] = {}
    rotation: dict[int, dict[int, int]] = {}
    for year in years:
        yr = _rng(seed, city, unit_index, STREAM_YEAR, year)
        u = yr.random(3)
        shares[year] = (
            float(yr.choice([0.5, 0.55]))
            if u[0] < mess.low_regular_share
            else float(yr.choice([0.6, 0.6, 0.6, 0.65, 0.7, 0.7, 0.8]))
        )
        kind = None
        if u[1] < anomalies.grade_rotation and sizes.get(year, 0) >= 14:
            kind = "grade_rotation"
        elif u[2] < anomalies.proposed_grade_gaming and proposes and sizes.get(year, 0) >= 5:
            kind = "proposed_grade_gaming"
        year_anomaly[year] = kind
        if kind == "grade_rotation":
            # The unit splits its staff of the year's first quarter into three groups that take turns.
            pids = sorted((staff_by_year or {}).get(year, []))
            order = yr.permutation(len(pids))
            rotation[year] = {pids[int(i)]: k % 3 for k, i in enumerate(order)}
    return UnitTraits(sloppy, proposes, shares, level_effect, year_anomaly, rotation)


@dataclass(frozen=True)
class UnitJob:
    unit: dict[str, str]
    unit_index: int
    city: int
    quarter: Quarter
    members: list[Member]
    people: dict[int, Person]
    thetas: dict[int, float]
    traits: UnitTraits
    plan: SubmissionPlan


@dataclass
class UnitResult:
    unit_code: str
    quarter: Quarter
    content: UnitQuarter | None
    noise: NoiseReport
    files: int
    received: list[Entry] = field(default_factory=list)  # the receiving log's lines for this unit


def _run_job(job: UnitJob, cfg: GeneratorConfig, landing: Path) -> UnitResult:
    apply_scenario(scenario(cfg.scenario))  # a spawned worker starts from the module defaults
    rules = rules_for_year(job.quarter.year)
    params = scoring_params(rules)
    q = job.quarter
    rng = _rng(cfg.seed, job.city, q.year, q.q, job.unit_index, STREAM_CONTENT)
    first = (
        job.plan.deliveries[0].arrival
        if job.plan.deliveries
        else q.deadline(rules.calendar.deadline_days_after_quarter_end)
    )
    accepted = job.plan.accepted
    submitted_on = (accepted.arrival if accepted else first).date()
    content = build_unit_quarter(
        job.unit,
        q,
        job.members,
        job.people,
        job.thetas,
        job.traits,
        rng,
        cfg.mess,
        cfg.anomalies,
        params,
        submitted_on,
    )
    report = NoiseReport()
    received: list[Entry] = []
    unit_dir = landing / q.key / job.unit["unit_code"]
    for k, delivery in enumerate(job.plan.deliveries):
        wrng = _rng(cfg.seed, job.city, q.year, q.q, job.unit_index, STREAM_WRITE, k)
        written = deliver(unit_dir, content.workbook, delivery, wrng, cfg.noise)
        # Hashed as written: a later CSV resubmission overwrites these names, and the log's lines for
        # the overwritten bytes then match nothing in landing (ingestion ignores them).
        received += receiving_entries(unit_dir, written.paths, delivery.arrival)
        report.merge(written)
    # Ratings are the heavy part of the truth; drop the workbook before pickling the result back.
    content.workbook.sheets = {"_counts": [{"ratings": len(content.workbook.sheets["ratings"])}]}
    return UnitResult(job.unit["unit_code"], q, content, report, len(job.plan.deliveries), received)


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


LABEL_COLUMNS = [
    "code",
    "type",
    "period",
    "unit_code",
    "rater_tier",
    "rater_code",
    "rater_tier_2",
    "rater_code_2",
    "ratee_code",
]


def generate(
    cfg: GeneratorConfig,
    data_dir: Path,
    progress: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
) -> list[QuarterSummary]:
    """Write landing folders and ground truth for every quarter of `cfg` under `data_dir`."""
    if cfg.clean:
        cfg = GeneratorConfig(
            cfg.quarters,
            cfg.seed,
            cfg.scale,
            cfg.units,
            cfg.cities,
            True,
            zero(cfg.mess),
            zero(cfg.anomalies),
            NoiseRates.clean(),
            cfg.workers,
            cfg.scenario,
        )
    apply_scenario(scenario(cfg.scenario))
    registry = province_registry(cfg.cities) if cfg.cities > 1 else load_registry()
    landing, truth = data_dir / "landing", data_dir / "ground_truth"
    if cfg.cities > 1:
        (data_dir / "registry").mkdir(parents=True, exist_ok=True)
        registry.write_csv(data_dir / "registry" / "units.csv")
    selected = pick_units(registry, cfg.units)
    selected_codes = set(selected["unit_code"].to_list())
    years = sorted({q.year for q in cfg.quarters})
    city_of = {code: int(i // 500) for i, code in enumerate(registry["unit_code"].to_list())}
    index_of = {code: i % 500 for i, code in enumerate(registry["unit_code"].to_list())}
    cities = {}
    for c in sorted({city_of[code] for code in selected_codes}):
        part = registry.slice(c * 500, 500)
        progress(f"simulating staff of city {c + 1}/{cfg.cities} from 2021Q1 …")
        cities[c] = City(part, cfg.seed, c, cfg.scale)
    traits: dict[str, UnitTraits] = {}
    for row in selected.iter_rows(named=True):
        city = cities[city_of[row["unit_code"]]]
        sizes, staff = {}, {}
        for y in years:
            snap = city.snapshot(Quarter(y, 1))[row["unit_code"]]
            staff[y] = [m.pid for m in snap if not (m.is_leader or m.on_leave or m.new_hire)]
            sizes[y] = len(staff[y])
        traits[row["unit_code"]] = unit_traits(
            cfg.seed,
            city_of[row["unit_code"]],
            index_of[row["unit_code"]],
            years,
            sizes,
            cfg.mess,
            cfg.anomalies,
            staff,
        )

    workers = cfg.workers or os.cpu_count() or 1
    summaries = []
    scores: dict[tuple[str, Quarter], dict[int, tuple[float, str]]] = {}  # the units' own Q and grade
    breakages = tuple(sorted(BREAKAGES))
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else _Inline() as pool:
        for q in sorted(cfg.quarters):
            started = time.perf_counter()
            rules = rules_for_year(q.year)
            days = rules.calendar.deadline_days_after_quarter_end
            _reset_quarter(landing / q.key)
            jobs = []
            plans: dict[str, SubmissionPlan] = {}
            for row in selected.iter_rows(named=True):
                code = row["unit_code"]
                c, i = city_of[code], index_of[code]
                plan = plan_submission(
                    row["unit_name"],
                    q,
                    days,
                    cfg.mess,
                    breakages,
                    _rng(cfg.seed, c, q.year, q.q, i, STREAM_PLAN),
                )
                plans[code] = plan
                members = cities[c].snapshot(q)[code]
                thetas_all = cities[c].thetas(q)
                jobs.append(
                    UnitJob(
                        row,
                        i,
                        c,
                        q,
                        members,
                        {m.pid: cities[c].people[m.pid] for m in members},
                        {m.pid: thetas_all[m.pid] for m in members},
                        traits[code],
                        plan,
                    )
                )
            summary = QuarterSummary(q.key, units=len(jobs))
            labels, raters, persons, noise = [], [], [], NoiseReport()
            received: list[Entry] = []
            futures = [pool.submit(_run_job, job, cfg, landing) for job in jobs]
            for n, fut in enumerate(futures, 1):
                res = fut.result()
                summary.files += res.files
                summary.participants += res.content.participants
                summary.rating_rows += res.content.workbook.sheets["_counts"][0]["ratings"]
                labels += [lb.as_row() for lb in res.content.labels]
                raters += res.content.raters
                persons += res.content.persons
                if traits[res.unit_code].year_anomaly.get(q.year) == "grade_rotation":
                    scores[(res.unit_code, q)] = {pid: (v, g) for pid, v, g in res.content.scores.values()}
                noise.merge(res.noise)
                received += res.received
                if n % 50 == 0 or n == len(futures):
                    progress(f"  {q.key}: {n}/{len(futures)} units written")
            for plan in plans.values():
                summary.statuses[plan.expected_status] = summary.statuses.get(plan.expected_status, 0) + 1
            # The receiving side's record of when each file came in: ingestion's arrival times.
            log = write_log(landing / q.key, received)
            # Its mtime as the receiving side last wrote it, so equal arguments give identical files.
            stamp = epoch_ns(max((e.received_at for e in received), default=q.deadline(days)))
            os.utime(log, ns=(stamp, stamp))
            _write_truth(truth / q.key, q, plans, labels, raters, persons, noise, days)
            summary.labels = len(labels)
            summary.seconds = round(time.perf_counter() - started, 2)
            summaries.append(summary)
            progress(
                f"{q.key}: {summary.units} units, {summary.files} files, "
                f"{summary.participants} participants, {summary.rating_rows} rating rows, "
                f"{summary.labels} anomaly labels in {summary.seconds}s"
            )
    _write_year_truth(truth, cfg, selected, traits, scores)
    _write_manifest(data_dir, cfg, summaries)
    return summaries


MARKER = ".synthetic"


class LandingNotSyntheticError(RuntimeError):
    """The quarter folder holds data the generator did not write; it will not touch it."""


def _reset_quarter(folder: Path) -> None:
    """Replace a quarter the generator made before; refuse to touch a folder it did not make.

    Real submissions are never deleted, so a landing quarter without the generator's marker file is
    left alone and the run stops with an explanation.
    """
    if folder.exists():
        if not (folder / MARKER).exists():
            raise LandingNotSyntheticError(
                f"{folder} exists and was not written by the generator (no {MARKER} marker); "
                "move it away or choose another --data-dir"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text(
        "written by python -m pipelines.synthetic; safe to regenerate\n", encoding="utf-8"
    )


def _write_truth(
    folder: Path,
    q: Quarter,
    plans: dict[str, SubmissionPlan],
    labels: list[dict],
    raters: list[dict],
    persons: list[dict],
    noise: NoiseReport,
    deadline_days: int,
) -> None:
    deadline = q.deadline(deadline_days)
    rows = []
    for code, plan in sorted(plans.items()):
        for k, d in enumerate(plan.deliveries):
            rows.append(
                {
                    "quarter": q.key,
                    "unit_code": code,
                    "expected_status": plan.expected_status,
                    "delivery": k + 1,
                    "file_name": d.file_name,
                    "format": d.fmt,
                    "encoding": d.encoding if d.fmt == "csv" else "",
                    "arrival": d.arrival.isoformat(),
                    "late": d.arrival > deadline,
                    "breakage": d.breakage or "",
                    "expected_error": BREAKAGES[d.breakage].error_kind if d.breakage else "",
                }
            )
        if not plan.deliveries:
            rows.append({"quarter": q.key, "unit_code": code, "expected_status": "missing", "delivery": 0})
    _write_csv(
        folder / "submissions.csv",
        rows,
        [
            "quarter",
            "unit_code",
            "expected_status",
            "delivery",
            "file_name",
            "format",
            "encoding",
            "arrival",
            "late",
            "breakage",
            "expected_error",
        ],
    )
    _write_csv(folder / "anomalies.csv", labels, LABEL_COLUMNS)
    _write_csv(
        folder / "raters.csv", raters, ["quarter", "unit_code", "rater_tier", "rater_code", "leniency"]
    )
    _write_csv(
        folder / "persons.csv",
        persons,
        ["quarter", "unit_code", "person_code", "pid", "national_id", "participates", "theta", "is_leader"],
    )
    counts = {
        kind: {"applied": noise.applied[kind], "eligible": noise.eligible[kind]}
        for kind in sorted(set(noise.eligible) | set(noise.applied))
    }
    (folder / "noise.json").write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")


def rotation_shows(quarters: list[dict[int, tuple[float, str]]], min_stayers: int) -> bool:
    """Whether a rotating unit-year's own grades show the rotation (pid -> (Q, grade) per quarter).

    The label is the behaviour, not a detector's formula: among the people scored in all four quarters
    (at least `min_stayers`), the 好 changed hands — on average over consecutive quarters, at most half
    of a quarter's 好 holders also held it the quarter before. A rotation the unit intended but its
    numbers do not show (too few people stayed, or the 好 stayed put) is not labelled.
    """
    if len(quarters) != 4:
        return False
    cohort = set.intersection(*(set(q) for q in quarters))
    if len(cohort) < min_stayers:
        return False
    tops = [{p for p in cohort if q[p][1] == "好"} for q in quarters]
    kept = [len(now & before) / len(now) for before, now in itertools.pairwise(tops) if now]
    return bool(kept) and float(np.mean(kept)) <= 0.5


def _write_year_truth(
    truth: Path,
    cfg: GeneratorConfig,
    selected: pl.DataFrame,
    traits: dict[str, UnitTraits],
    scores: dict[tuple[str, Quarter], dict[int, tuple[float, str]]],
) -> None:
    """Year-level labels (U1, U4), only for years generated in full: a partial year cannot show them.

    A rotating unit (U1) is labelled only when its year, scored by the unit's own sheet, meets the
    definition: the rotation is what the unit intended, the label what its numbers show.
    """
    for year in sorted({q.year for q in cfg.quarters}):
        if sum(q.year == year for q in cfg.quarters) < 4:
            continue
        u1 = rules_for_year(year).quality.grade_rotation
        rows = []
        for code in selected["unit_code"].to_list():
            kind = traits[code].year_anomaly.get(year)
            if kind == "grade_rotation":
                quarters = [
                    scores[(code, Quarter(year, k))]
                    for k in range(1, 5)
                    if (code, Quarter(year, k)) in scores
                ]
                if not rotation_shows(quarters, u1.min_participants):
                    continue
            if kind:
                rows.append({"code": CODE_OF[kind], "type": kind, "period": str(year), "unit_code": code})
        _write_csv(truth / str(year) / "anomalies.csv", rows, LABEL_COLUMNS)


def _write_manifest(data_dir: Path, cfg: GeneratorConfig, summaries: list[QuarterSummary]) -> None:
    manifest = {
        "generator": "pipelines.synthetic",
        "seed": cfg.seed,
        "scale": cfg.scale,
        "cities": cfg.cities,
        "clean": cfg.clean,
        "scenario": scenario(cfg.scenario).parameters(),
        "units": cfg.units if not isinstance(cfg.units, tuple) else list(cfg.units),
        "quarters": [q.key for q in cfg.quarters],
        "mess": asdict(cfg.mess),
        "anomalies": asdict(cfg.anomalies),
        "noise": asdict(cfg.noise),
        "summaries": [asdict(s) for s in summaries],
    }
    path = data_dir / "ground_truth" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


class _Inline:
    """A stand-in for a process pool that runs jobs in this process (workers=1, and for debugging)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        return _Done(fn(*args))


@dataclass
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value
