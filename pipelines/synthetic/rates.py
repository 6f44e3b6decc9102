"""Every configurable rate of the generator, with its default, in one place.

`--clean` zeroes them all; `--set name=value` overrides one (see `apply_overrides`). The defaults are
documented in docs/generator.md and checked by tests that measure the generated data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class MessRates:
    """How untidy the city is, per unit-quarter unless said otherwise."""

    missing: float = 0.015  # submits nothing at all
    late: float = 0.07  # the (first) file arrives after the deadline
    broken_then_corrected: float = 0.03  # a broken file first, a corrected one later
    rejected_only: float = 0.006  # a broken file and no correction
    csv: float = 0.03  # one CSV per sheet instead of a workbook
    csv_gb18030: float = 0.7  # share of CSV units that write GB18030 (the rest UTF-8, half with BOM)
    sloppy_unit: float = 0.10  # per unit: leaves some staff without tasks and some raters out
    no_proposal: float = 0.15  # per unit: does not fill in 拟定等次
    over_quota: float = 0.04  # proposes more 好 than the 40% cap this quarter
    low_regular_share: float = 0.04  # per unit and year: declares a regular share below 60%
    unassigned_task: float = 0.015  # per task: nobody assigned
    lead_missing: float = 0.01  # per task: assistants but no lead


@dataclass(frozen=True)
class AnomalyRates:
    """Injected dishonest-rating patterns (quality.md), each labelled in data/ground_truth/."""

    self_rating: float = 0.002  # A1, per participant
    straight_lining: float = 0.003  # A2, per rater with >= 3 ratees
    lenient_rater: float = 0.002  # A3, per rater with >= 5 ratees
    severe_rater: float = 0.002  # A4, per rater with >= 5 ratees
    no_discrimination: float = 0.003  # A5, per rater with >= 5 ratees
    collusion: float = 0.03  # A6, per unit-quarter with a rater pair sharing >= 5 ratees
    reciprocal_inflation: float = 0.03  # A7, per unit-quarter
    outlier_rating: float = 0.0005  # A8, per rating row
    grade_rotation: float = 0.02  # U1, per unit-year (units with >= 14 participants)
    rating_work_decoupling: float = 0.02  # U2, per unit-quarter (>= 10 participants)
    score_inflation: float = 0.015  # U3, per unit-quarter
    # U4, per unit-year (units that propose grades). 0.04 rather than 0.02 so that a 100-unit benchmark
    # sample shows a few (≈ 3.4 expected; 0.02 gave none with seed 7, so U4 went unmeasured).
    proposed_grade_gaming: float = 0.04


def zero(rates: Any) -> Any:
    """The same rates object with every rate set to 0."""
    return replace(rates, **{f.name: 0.0 for f in fields(rates) if not f.name.startswith("csv_")})


def apply_overrides(groups: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply `name=value` overrides to whichever group has the field; unknown names are an error."""
    out = dict(groups)
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects name=value, got {item!r}")
        name = name.strip()
        owners = [g for g, obj in out.items() if name in {f.name for f in fields(obj)}]
        if not owners:
            known = sorted(f.name for obj in out.values() for f in fields(obj))
            raise ValueError(f"unknown rate {name!r}; known rates: {', '.join(known)}")
        rate = float(value)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {name} must be between 0 and 1, got {rate}")
        out[owners[0]] = replace(out[owners[0]], **{name: rate})
    return out
