"""The versioned rules file of an assessment year (data/reference/rules/<year>.toml).

Every weight, threshold and quota of rules.md and quality.md lives in the file, so a new year is a new
file, not a code change. Results record `Rules.version` and `Rules.fingerprint`, so any figure can be
traced to the exact file that produced it. A file that breaks a hard constraint (regular share below
60%, weights not summing to 1, quotas above the national caps, ...) is refused as a whole, with every
problem listed at once so one edit can fix them all.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.domain.quarters import Quarter
from pipelines.domain.template import ANNUAL_GRADES, DIMENSIONS, QUARTER_GRADES, RATER_TIERS, TASK_STATUSES
from pipelines.paths import REFERENCE_DIR, rules_dir

RULES_DIR = REFERENCE_DIR / "rules"

# Hard limits that no year's file may relax: the source article (regular results ≥ 60% of the annual
# score), the national quotas (好 ≤ 40%, 优秀 ≤ 20%) and the template's section coefficient range.
MIN_REGULAR_SHARE = 0.60
TOP_QUOTA_CAP = 0.40
EXCELLENT_QUOTA_CAP = 0.20
SECTION_COEFFICIENT_RANGE = (0.80, 1.20)
WEIGHT_TOLERANCE = 1e-9
SEVERITIES = ("high", "medium", "low")
COMPLIANCE_METRICS = (
    "on_time_rate",
    "staff_coverage_rate",
    "rating_coverage_rate",
    "quota_compliance_rate",
    "grade_agreement_rate",
    "anomaly_rate",
)
# Grades with a lower score bound; the last grade of each scale is the remainder.
BANDED_QUARTER_GRADES = QUARTER_GRADES[:3]
BANDED_ANNUAL_GRADES = ANNUAL_GRADES[:3]

# Fields not read from the file but derived from it.
_DERIVED: dict[str, bool] = {"derived": True}


class RulesError(ValueError):
    """A rules file is unreadable or breaks a constraint; the message names the file and the keys."""


@dataclass(frozen=True)
class Calendar:
    deadline_days_after_quarter_end: int
    timezone: str

    def deadline(self, quarter: Quarter) -> datetime:
        """The last instant a submission for `quarter` counts as on time."""
        day = quarter.last_day + timedelta(days=self.deadline_days_after_quarter_end)
        return datetime.combine(day, time(23, 59, 59), tzinfo=ZoneInfo(self.timezone))


@dataclass(frozen=True)
class TaskVolume:
    intensity_step: float
    difficulty_step: float
    lead_share: float
    assist_share: float
    completion: Mapping[str, float]  # 完成情况 -> factor


@dataclass(frozen=True)
class WorkloadMethod:
    """workload_weighted: S_task = min(100, 100·C·(floor + slope·min(V, workload_cap)))."""

    floor: float
    slope: float
    workload_cap: float


@dataclass(frozen=True)
class SectionCoefficientMethod(WorkloadMethod):
    """section_coefficient: as WorkloadMethod with V over the section, times the section coefficient."""

    coefficient_min: float
    coefficient_max: float


@dataclass(frozen=True)
class CategoryPeerMethod:
    """category_peer: S_task = floor_score + span·percent_rank(E) within the post-category peer group."""

    min_group_size: int
    floor_score: float
    span: float


@dataclass(frozen=True)
class BaseScore:
    workload_weighted: WorkloadMethod
    section_coefficient: SectionCoefficientMethod
    category_peer: CategoryPeerMethod


@dataclass(frozen=True)
class RequiredTier:
    min_raters: int
    non_heads_only: bool
    min_section_participants: int


@dataclass(frozen=True)
class Evaluation:
    trim_min_raters: int
    official_fair_score: bool
    dimension_weights: Mapping[str, float]  # DIMENSIONS field name -> weight
    tier_weights: Mapping[str, float]  # RATER_TIERS name -> weight
    required_tiers: Mapping[str, RequiredTier]


@dataclass(frozen=True)
class Quarterly:
    task_weight: float
    eval_weight: float
    adjustment_min: float
    adjustment_max: float
    top_quota: float
    top_quota_min: int
    bands: Mapping[str, float]  # 好/较好/一般 -> lowest Q of the grade


@dataclass(frozen=True)
class Annual:
    min_scored_quarters: int
    default_regular_share: float
    min_regular_share: float
    excellent_quota: float
    excellent_quota_min: int
    excellent_min_top_share: float
    basic_min_poor_quarters: int
    incompetent_min_poor_quarters: int
    thresholds: Mapping[str, float]  # 优秀/称职/基本称职 -> lowest annual score of the grade


@dataclass(frozen=True)
class Compliance:
    anomaly_rate_scale: float
    anomaly_severity: str
    weights: Mapping[str, float]  # COMPLIANCE_METRICS -> weight in compliance_index


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str


@dataclass(frozen=True)
class SelfRating(Finding):
    pass


@dataclass(frozen=True)
class RatingConsensus:
    """The robust consensus the rater and pair findings (A3–A8) measure against (quality.md)."""

    min_other_raters: int  # a ratee's consensus needs this many other raters (leave-one-rater-out median)
    min_pool_raters: int  # a tier with fewer tested raters in the city-quarter borrows the all-tier pool
    max_score: float  # the top of the score scale: headroom = max_score − consensus


@dataclass(frozen=True)
class StraightLining(Finding):
    min_identical_share: float
    min_ratees: int
    strong_q: float  # severity stays the rules' severity at q ≤ strong_q, one step lower above


@dataclass(frozen=True)
class RaterLeniency(Finding):
    """A3/A4: empirical-Bayes z of the rater's median residual, Benjamini–Hochberg q ≤ max_q."""

    min_ratees: int
    max_q: float
    strong_q: float
    min_rater_sd: float  # floor of the between-rater spread (points) the z is scaled by
    min_effect: float  # points from the pool's centre a rater must be, unless the headroom is smaller
    min_headroom_share: float  # ... then this share of the median room toward max_score (or 0)


@dataclass(frozen=True)
class NoDiscrimination(Finding):
    min_ratees: int
    max_std_ratio: float  # rater's composite std / std of the same ratees' consensus
    min_reference_std: float  # the same ratees' consensus must differ by at least this std (points)
    max_ceiling_share: float  # raters with more of their rows at max_score are ceiling-bound, not A5
    max_q: float
    strong_q: float


@dataclass(frozen=True)
class Collusion(Finding):
    min_shared_ratees: int
    min_identical_share: float
    min_identical_below_ceiling: int  # identical vectors that are not all max_score
    max_q: float
    strong_q: float


@dataclass(frozen=True)
class ReciprocalInflation(Finding):
    min_points_above: float  # each direction, unless the headroom is smaller (then min_headroom_share)
    min_headroom_share: float
    min_points_floor: float  # never less than this many points, however little room is left
    min_rank_share: float  # share of the ratee's other raters each direction must be above (ties half)
    max_q: float
    strong_q: float


@dataclass(frozen=True)
class OutlierRating(Finding):
    min_distance: float
    min_other_raters: int
    max_q: float


@dataclass(frozen=True)
class GradeRotation(Finding):
    """U1 (docs/quality.md): among the ≥ min_participants people who stayed all year, the consecutive-
    quarter rank correlation of S_eval is far below the city's (BH q ≤ max_q over the year's unit-years
    tested, once ≥ min_reference_units are) and ≤ max_spearman, and the 好 went round at least
    min_top_turnover times as widely as a random draw of the same counts would."""

    min_participants: int
    max_spearman: float
    max_q: float
    min_top_turnover: float
    min_reference_units: int


@dataclass(frozen=True)
class RatingWorkDecoupling(Finding):
    """U2: Spearman(S_task, S_eval) ≤ max_spearman and far below the city's honest units of that size
    (BH q ≤ max_q over the quarter's units with ≥ min_participants, once ≥ min_reference_units are)."""

    min_participants: int
    max_spearman: float
    max_q: float
    min_reference_units: int


@dataclass(frozen=True)
class ScoreInflation(Finding):
    """U3: the unit's mean S_eval exceeds what its level group gives a unit of its S_task by ≥
    min(min_excess_points, min_headroom_share · (100 − that expectation)), significantly against the
    level's spread shrunk toward the city's with the weight of prior_units units (BH q ≤ max_q, once ≥
    min_reference_units units are tested)."""

    max_q: float
    min_excess_points: float
    min_headroom_share: float
    prior_units: int
    min_reference_units: int


@dataclass(frozen=True)
class ProposedGradeGaming(Finding):
    max_agreement: float


@dataclass(frozen=True)
class Quality:
    mad_scale: float
    consensus: RatingConsensus
    self_rating: SelfRating
    straight_lining: StraightLining
    lenient_rater: RaterLeniency
    severe_rater: RaterLeniency
    no_discrimination: NoDiscrimination
    collusion: Collusion
    reciprocal_inflation: ReciprocalInflation
    outlier_rating: OutlierRating
    grade_rotation: GradeRotation
    rating_work_decoupling: RatingWorkDecoupling
    score_inflation: ScoreInflation
    proposed_grade_gaming: ProposedGradeGaming

    def findings(self) -> dict[str, Finding]:
        """Finding type name -> its rule, in file order (A1..A8, U1..U4)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in FINDING_CODES}


FINDING_CODES = {
    "self_rating": "A1",
    "straight_lining": "A2",
    "lenient_rater": "A3",
    "severe_rater": "A4",
    "no_discrimination": "A5",
    "collusion": "A6",
    "reciprocal_inflation": "A7",
    "outlier_rating": "A8",
    "grade_rotation": "U1",
    "rating_work_decoupling": "U2",
    "score_inflation": "U3",
    "proposed_grade_gaming": "U4",
}


# -- results in use (issue 14): commendation candidates, 三等功 streaks, reviews (复核) ----------------


@dataclass(frozen=True)
class ResultsUse:
    """[results_use]: who is listed for the cadre division and how a review (复核) may change a grade."""

    commendation_min_good_quarters: int  # 好 in at least this many quarters of the year
    commendation_max_poor_quarters: int  # at most this many 较差 quarters (0: none)
    commendation_block_on_findings: bool  # a finding with the person as ratee in the year excludes them
    excellent_streak_years: int  # annual 优秀 this many years running (national rules: 三等功)
    review_may_exceed_top_quota: bool  # a review may push a unit over its 好 cap


def _check_results_use(r: ResultsUse, key: str, problems: list[str]) -> None:
    n = r.commendation_min_good_quarters
    _require(1 <= n <= 4, f"{key}.commendation_min_good_quarters", f"must be 1-4, got {n}", problems)
    n = r.commendation_max_poor_quarters
    _require(0 <= n <= 4, f"{key}.commendation_max_poor_quarters", f"must be 0-4, got {n}", problems)
    n = r.excellent_streak_years
    _require(2 <= n <= 10, f"{key}.excellent_streak_years", f"must be 2-10, got {n}", problems)


@dataclass(frozen=True)
class Rules:
    year: int
    version: str
    calendar: Calendar
    task_volume: TaskVolume
    base_score: BaseScore
    evaluation: Evaluation
    quarterly: Quarterly
    annual: Annual
    compliance: Compliance
    quality: Quality
    results_use: ResultsUse
    fingerprint: str = field(metadata=_DERIVED)  # sha256 of the file bytes, first 12 hex digits
    source: str = field(metadata=_DERIVED)  # the file (or label) the rules were parsed from

    def dbt_vars(self) -> dict[str, Any]:
        """Every scalar as one flat, JSON-serialisable dict for `dbt --vars`.

        Keys are the TOML path joined by "_" (e.g. `quarterly_task_weight`,
        `evaluation_tier_weights_分管领导`, `quality_collusion_min_shared_ratees`); provenance is
        `rules_year`, `rules_version` and `rules_fingerprint`.
        """
        out: dict[str, Any] = {
            "rules_year": self.year,
            "rules_version": self.version,
            "rules_fingerprint": self.fingerprint,
        }
        for f in fields(self):
            if is_dataclass(getattr(self, f.name)):
                _flatten(getattr(self, f.name), f.name, out)
        return out


def _flatten(value: Any, key: str, out: dict[str, Any]) -> None:
    if is_dataclass(value):
        for f in fields(value):
            _flatten(getattr(value, f.name), f"{key}_{f.name}", out)
    elif isinstance(value, Mapping):
        for name, item in value.items():
            _flatten(item, f"{key}_{name}", out)
    else:
        if key in out:  # only a badly chosen field name could cause this; fail loudly, not silently
            raise RuntimeError(f"dbt var {key!r} would be defined twice")
        out[key] = value


# -- loading --------------------------------------------------------------------------------------


def load_rules(year: int | str, directory: Path | str | None = None) -> Rules:
    """Load and validate `<directory>/<year>.toml` (default: pipelines.paths.rules_dir())."""
    key = str(year).strip()
    if not re.fullmatch(r"\d{4}", key):
        raise RulesError(f"rules year must be a four-digit year, got {year!r}")
    folder = Path(directory) if directory is not None else rules_dir()
    path = folder / f"{key}.toml"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        available = ", ".join(sorted(p.stem for p in folder.glob("*.toml"))) or "none"
        raise RulesError(f"{path}: no rules file for {key} (available years: {available})") from None
    try:
        mapping = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: not a valid UTF-8 TOML file: {exc}") from exc
    fingerprint = hashlib.sha256(data).hexdigest()[:12]
    return parse_rules(mapping, str(path), fingerprint=fingerprint, expected_year=int(key))


def parse_rules(
    mapping: Mapping[str, Any],
    source: str,
    *,
    fingerprint: str | None = None,
    expected_year: int | None = None,
) -> Rules:
    """Validate an already-parsed rules mapping. `source` names it in error messages.

    Without `fingerprint` (the file-bytes hash `load_rules` passes), the hash of the canonical JSON of
    the mapping is used, so equal content still gets an equal fingerprint.
    """
    problems: list[str] = []
    values = _parse_fields(Rules, mapping, "", problems)
    year, version = values.get("year"), values.get("version")
    if isinstance(year, int):
        if not 2000 <= year <= 2100:
            problems.append(f"year: {year} is not a plausible assessment year")
        if expected_year is not None and year != expected_year:
            problems.append(f"year: the file says {year} but is named for {expected_year}")
        if isinstance(version, str) and not version.startswith(str(year)):
            problems.append(f'version: {version!r} must start with the year {year} (e.g. "{year}")')
    if problems or len(values) != len([f for f in fields(Rules) if not f.metadata]):
        listing = "\n  - ".join(problems)
        raise RulesError(f"{source}: rules refused, {len(problems)} problem(s):\n  - {listing}")
    if fingerprint is None:
        canonical = json.dumps(mapping, sort_keys=True, ensure_ascii=False, default=str)
        fingerprint = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    return Rules(**values, fingerprint=fingerprint, source=source)


# -- structural parsing: types, missing and unknown keys --------------------------------------------

_INVALID = object()


def _parse_fields(cls: type, table: Any, path: str, problems: list[str]) -> dict[str, Any]:
    """The valid fields of `cls` read from `table`; problems are appended, bad fields left out."""
    where = path or "top level"
    if not isinstance(table, Mapping):
        problems.append(f"{where}: expected a table, got {type(table).__name__}")
        return {}
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls) if not f.metadata]
    unknown = [k for k in table if k not in names]
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    values: dict[str, Any] = {}
    for name in names:
        key = f"{path}.{name}" if path else name
        if name not in table:
            problems.append(f"{key}: missing")
            continue
        value = _coerce(hints[name], table[name], key, problems)
        if value is not _INVALID:
            values[name] = value
    return values


def _coerce(tp: Any, value: Any, key: str, problems: list[str]) -> Any:
    if is_dataclass(tp):
        values = _parse_fields(tp, value, key, problems)
        # A section with a missing or mistyped field cannot be built; its siblings are still checked.
        if len(values) != len([f for f in fields(tp) if not f.metadata]):
            return _INVALID
        instance = tp(**values)
        check = _CHECKS.get(tp)
        if check is not None:
            check(instance, key, problems)
        return instance
    if typing.get_origin(tp) is Mapping:
        item_type = typing.get_args(tp)[1]
        if not isinstance(value, Mapping):
            problems.append(f"{key}: expected a table, got {type(value).__name__}")
            return _INVALID
        items = {str(k): _coerce(item_type, v, f"{key}.{k}", problems) for k, v in value.items()}
        if any(v is _INVALID for v in items.values()):
            return _INVALID
        return MappingProxyType(items)
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is str and isinstance(value, str))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
    )
    if not ok:
        problems.append(f"{key}: expected {tp.__name__}, got {value!r}")
        return _INVALID
    if tp is float:
        if not math.isfinite(value):
            problems.append(f"{key}: must be a finite number, got {value!r}")
            return _INVALID
        return float(value)
    return value


# -- semantic checks: the hard constraints of rules.md ----------------------------------------------


def _require(condition: bool, key: str, message: str, problems: list[str]) -> None:
    if not condition:
        problems.append(f"{key}: {message}")


def _check_keys(
    mapping: Mapping[str, Any], expected: tuple[str, ...], key: str, problems: list[str], *, exact: bool
) -> None:
    unknown = [k for k in mapping if k not in expected]
    missing = [k for k in expected if k not in mapping] if exact else []
    if unknown:
        problems.append(f"{key}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(expected)})")
    if missing:
        problems.append(f"{key}: missing key(s) {', '.join(missing)}")


def _check_unit_interval(value: float, key: str, problems: list[str]) -> None:
    _require(0.0 <= value <= 1.0, key, f"must lie in [0, 1], got {value}", problems)


def _check_weights(weights: Mapping[str, float], key: str, problems: list[str]) -> None:
    negative = [f"{k}={v}" for k, v in weights.items() if v < 0]
    _require(not negative, key, f"negative weight(s) {', '.join(negative)}", problems)
    total = math.fsum(weights.values())
    _require(
        abs(total - 1.0) <= WEIGHT_TOLERANCE, key, f"weights must sum to 1, they sum to {total!r}", problems
    )


def _check_descending(
    bounds: Mapping[str, float], order: tuple[str, ...], key: str, problems: list[str]
) -> None:
    values = [bounds[g] for g in order if g in bounds]
    shown = ", ".join(f"{g} {bounds[g]}" for g in order if g in bounds)
    descending = all(a > b for a, b in pairwise(values))
    _require(descending, key, f"grade bounds must be strictly descending, got {shown}", problems)
    outside = [f"{g}={v}" for g, v in bounds.items() if not 0.0 < v <= 100.0]
    _require(not outside, key, f"grade bounds must lie in (0, 100], got {', '.join(outside)}", problems)


def _check_severity(severity: str, key: str, problems: list[str]) -> None:
    _require(
        severity in SEVERITIES,
        key,
        f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}",
        problems,
    )


def _check_calendar(c: Calendar, key: str, problems: list[str]) -> None:
    days = c.deadline_days_after_quarter_end
    _require(days >= 0, f"{key}.deadline_days_after_quarter_end", f"must be ≥ 0, got {days}", problems)
    try:
        ZoneInfo(c.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{key}.timezone: unknown time zone {c.timezone!r}")


def _check_task_volume(t: TaskVolume, key: str, problems: list[str]) -> None:
    for name in ("intensity_step", "difficulty_step"):
        _require(getattr(t, name) >= 0, f"{key}.{name}", f"must be ≥ 0, got {getattr(t, name)}", problems)
    _check_weights(
        {"lead_share": t.lead_share, "assist_share": t.assist_share},
        f"{key}.lead_share + assist_share",
        problems,
    )
    _check_keys(t.completion, TASK_STATUSES, f"{key}.completion", problems, exact=True)
    for status, factor in t.completion.items():
        _check_unit_interval(factor, f"{key}.completion.{status}", problems)


def _check_workload(m: WorkloadMethod, key: str, problems: list[str]) -> None:
    _require(m.floor >= 0, f"{key}.floor", f"must be ≥ 0, got {m.floor}", problems)
    _require(m.slope >= 0, f"{key}.slope", f"must be ≥ 0, got {m.slope}", problems)
    _require(m.workload_cap > 0, f"{key}.workload_cap", f"must be > 0, got {m.workload_cap}", problems)


def _check_section_coefficient(m: SectionCoefficientMethod, key: str, problems: list[str]) -> None:
    _check_workload(m, key, problems)
    lo, hi = SECTION_COEFFICIENT_RANGE
    ok = lo <= m.coefficient_min < m.coefficient_max <= hi
    got = f"got {m.coefficient_min} and {m.coefficient_max}"
    message = f"need {lo} ≤ coefficient_min < coefficient_max ≤ {hi}, {got}"
    _require(ok, f"{key}.coefficient_min/coefficient_max", message, problems)


def _check_category_peer(m: CategoryPeerMethod, key: str, problems: list[str]) -> None:
    _require(m.min_group_size >= 2, f"{key}.min_group_size", f"must be ≥ 2, got {m.min_group_size}", problems)
    ok = m.floor_score >= 0 and m.span >= 0 and m.floor_score + m.span <= 100
    message = f"need floor_score ≥ 0, span ≥ 0 and floor_score + span ≤ 100, got {m.floor_score} and {m.span}"
    _require(ok, f"{key}.floor_score/span", message, problems)


def _check_required_tier(r: RequiredTier, key: str, problems: list[str]) -> None:
    _require(r.min_raters >= 1, f"{key}.min_raters", f"must be ≥ 1, got {r.min_raters}", problems)
    n = r.min_section_participants
    _require(n >= 1, f"{key}.min_section_participants", f"must be ≥ 1, got {n}", problems)


def _check_evaluation(e: Evaluation, key: str, problems: list[str]) -> None:
    # Trimming one highest and one lowest rating needs at least three raters to leave one.
    _require(
        e.trim_min_raters >= 3, f"{key}.trim_min_raters", f"must be ≥ 3, got {e.trim_min_raters}", problems
    )
    _check_keys(e.dimension_weights, DIMENSIONS, f"{key}.dimension_weights", problems, exact=True)
    _check_weights(e.dimension_weights, f"{key}.dimension_weights", problems)
    _check_keys(e.tier_weights, RATER_TIERS, f"{key}.tier_weights", problems, exact=True)
    _check_weights(e.tier_weights, f"{key}.tier_weights", problems)
    _check_keys(e.required_tiers, RATER_TIERS, f"{key}.required_tiers", problems, exact=False)


def _check_quarterly(q: Quarterly, key: str, problems: list[str]) -> None:
    _check_weights(
        {"task_weight": q.task_weight, "eval_weight": q.eval_weight},
        f"{key}.task_weight + eval_weight",
        problems,
    )
    ok = q.adjustment_min <= 0 <= q.adjustment_max
    message = f"need adjustment_min ≤ 0 ≤ adjustment_max, got {q.adjustment_min} and {q.adjustment_max}"
    _require(ok, f"{key}.adjustment_min/adjustment_max", message, problems)
    ok = 0 < q.top_quota <= TOP_QUOTA_CAP
    message = f"the 好 quota must lie in (0, {TOP_QUOTA_CAP}] (national cap), got {q.top_quota}"
    _require(ok, f"{key}.top_quota", message, problems)
    _require(q.top_quota_min >= 0, f"{key}.top_quota_min", f"must be ≥ 0, got {q.top_quota_min}", problems)
    _check_keys(q.bands, BANDED_QUARTER_GRADES, f"{key}.bands", problems, exact=True)
    _check_descending(q.bands, BANDED_QUARTER_GRADES, f"{key}.bands", problems)


def _check_annual(a: Annual, key: str, problems: list[str]) -> None:
    n = a.min_scored_quarters
    _require(1 <= n <= 4, f"{key}.min_scored_quarters", f"must be 1-4, got {n}", problems)
    for name in ("default_regular_share", "min_regular_share"):
        share = getattr(a, name)
        message = f"regular results must make up {MIN_REGULAR_SHARE} to 1 of the annual score, got {share}"
        _require(MIN_REGULAR_SHARE <= share <= 1.0, f"{key}.{name}", message, problems)
    # Only worth saying when the default is otherwise legal; below the floor it is reported above.
    ok = a.default_regular_share >= a.min_regular_share or a.default_regular_share < MIN_REGULAR_SHARE
    message = f"{a.default_regular_share} is below min_regular_share {a.min_regular_share}"
    _require(ok, f"{key}.default_regular_share", message, problems)
    ok = 0 < a.excellent_quota <= EXCELLENT_QUOTA_CAP
    message = f"the 优秀 quota must lie in (0, {EXCELLENT_QUOTA_CAP}] (national cap), got {a.excellent_quota}"
    _require(ok, f"{key}.excellent_quota", message, problems)
    m = a.excellent_quota_min
    _require(m >= 0, f"{key}.excellent_quota_min", f"must be ≥ 0, got {m}", problems)
    _check_unit_interval(a.excellent_min_top_share, f"{key}.excellent_min_top_share", problems)
    ok = 1 <= a.basic_min_poor_quarters <= a.incompetent_min_poor_quarters <= 4
    message = (
        "need 1 ≤ basic_min_poor_quarters ≤ incompetent_min_poor_quarters ≤ 4, "
        f"got {a.basic_min_poor_quarters} and {a.incompetent_min_poor_quarters}"
    )
    _require(ok, f"{key}.basic_min_poor_quarters/incompetent_min_poor_quarters", message, problems)
    _check_keys(a.thresholds, BANDED_ANNUAL_GRADES, f"{key}.thresholds", problems, exact=True)
    _check_descending(a.thresholds, BANDED_ANNUAL_GRADES, f"{key}.thresholds", problems)


def _check_compliance(c: Compliance, key: str, problems: list[str]) -> None:
    scale = c.anomaly_rate_scale
    _require(scale > 0, f"{key}.anomaly_rate_scale", f"must be > 0, got {scale}", problems)
    _check_severity(c.anomaly_severity, f"{key}.anomaly_severity", problems)
    _check_keys(c.weights, COMPLIANCE_METRICS, f"{key}.weights", problems, exact=True)
    _check_weights(c.weights, f"{key}.weights", problems)


def _check_finding(f: Finding, key: str, problems: list[str]) -> None:
    # Parameters are checked by naming convention: *_share/max_agreement/*_q are proportions, min_* counts
    # are at least 1, Spearman bounds are correlations, everything else is a non-negative magnitude.
    for item in fields(f):
        name, value, where = item.name, getattr(f, item.name), f"{key}.{item.name}"
        if name in ("code", "severity"):
            continue
        if name.endswith("_share") or name == "max_agreement" or name.endswith("_q"):
            _check_unit_interval(value, where, problems)
        elif "spearman" in name:
            _require(-1.0 <= value <= 1.0, where, f"must lie in [-1, 1], got {value}", problems)
        elif isinstance(value, int):
            _require(value >= 1, where, f"must be ≥ 1, got {value}", problems)
        else:
            _require(value > 0, where, f"must be > 0, got {value}", problems)
    _check_severity(f.severity, f"{key}.severity", problems)


def _check_consensus(c: RatingConsensus, key: str, problems: list[str]) -> None:
    # A median of fewer than 3 others is the mean of 2, which one dishonest rater drags.
    _require(
        c.min_other_raters >= 3, f"{key}.min_other_raters", f"must be ≥ 3, got {c.min_other_raters}", problems
    )
    _require(
        c.min_pool_raters >= 10, f"{key}.min_pool_raters", f"must be ≥ 10, got {c.min_pool_raters}", problems
    )
    _require(c.max_score > 0, f"{key}.max_score", f"must be > 0, got {c.max_score}", problems)


def _check_quality(q: Quality, key: str, problems: list[str]) -> None:
    _require(q.mad_scale > 0, f"{key}.mad_scale", f"must be > 0, got {q.mad_scale}", problems)
    for name in ("lenient_rater", "severe_rater", "no_discrimination", "collusion", "reciprocal_inflation"):
        f = getattr(q, name)
        ok = f.strong_q <= f.max_q
        _require(ok, f"{key}.{name}.strong_q", f"must be ≤ max_q ({f.max_q}), got {f.strong_q}", problems)
    for name, finding in q.findings().items():
        expected = FINDING_CODES[name]
        ok = finding.code == expected
        _require(ok, f"{key}.{name}.code", f"must be {expected!r}, got {finding.code!r}", problems)


_FINDING_TYPES: tuple[type[Finding], ...] = (
    SelfRating, StraightLining, RaterLeniency, NoDiscrimination, Collusion, ReciprocalInflation,
    OutlierRating, GradeRotation, RatingWorkDecoupling, ScoreInflation, ProposedGradeGaming,
)  # fmt: skip
_CHECKS: dict[type, Callable[[Any, str, list[str]], None]] = {
    ResultsUse: _check_results_use,
    Calendar: _check_calendar,
    TaskVolume: _check_task_volume,
    WorkloadMethod: _check_workload,
    SectionCoefficientMethod: _check_section_coefficient,
    CategoryPeerMethod: _check_category_peer,
    RequiredTier: _check_required_tier,
    Evaluation: _check_evaluation,
    Quarterly: _check_quarterly,
    Annual: _check_annual,
    Compliance: _check_compliance,
    Quality: _check_quality,
    RatingConsensus: _check_consensus,
    **dict.fromkeys(_FINDING_TYPES, _check_finding),
}
