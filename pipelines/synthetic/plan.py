"""When and how each unit delivers its quarter: on time, late, broken first, as CSV, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from pipelines.domain.quarters import Quarter
from pipelines.synthetic.rates import MessRates
from pipelines.synthetic.workbook import Delivery


@dataclass(frozen=True)
class SubmissionPlan:
    deliveries: tuple[Delivery, ...]
    expected_status: str  # on_time / late / rejected / missing

    @property
    def accepted(self) -> Delivery | None:
        valid = [d for d in self.deliveries if d.breakage is None]
        return valid[-1] if valid else None


def plan_submission(
    unit_name: str,
    quarter: Quarter,
    deadline_days: int,
    mess: MessRates,
    breakages: tuple[str, ...],
    rng: np.random.Generator,
) -> SubmissionPlan:
    deadline = quarter.deadline(deadline_days)
    draws = rng.random(4)
    if draws[0] < mess.missing:
        return SubmissionPlan((), "missing")
    late = draws[1] < mess.late
    if late:
        first = deadline + timedelta(hours=float(rng.uniform(1, 20 * 24)))
    else:
        # Most units file in the last days before the deadline.
        first = deadline - timedelta(hours=float(14 * 24 * rng.beta(1.2, 2.5)) + 0.25)
    first = first.replace(microsecond=0)
    stem = f"{unit_name}{quarter.key}平时考核"
    broken = rng.choice(breakages) if breakages else None
    if broken is not None and draws[2] < mess.rejected_only:
        return SubmissionPlan((Delivery(f"{stem}.xlsx", first, "xlsx", breakage=str(broken)),), "rejected")
    if broken is not None and draws[2] < mess.rejected_only + mess.broken_then_corrected:
        fixed_at = (first + timedelta(hours=float(rng.uniform(2, 6 * 24)))).replace(microsecond=0)
        deliveries = (
            Delivery(f"{stem}.xlsx", first, "xlsx", breakage=str(broken)),
            Delivery(f"{stem}（修改版）.xlsx", fixed_at, "xlsx"),
        )
        return SubmissionPlan(deliveries, "on_time" if fixed_at <= deadline else "late")
    if draws[3] < mess.csv:
        if rng.random() < mess.csv_gb18030:
            encoding = "gb18030"
        else:
            encoding = "utf-8-sig" if rng.random() < 0.5 else "utf-8"
        return SubmissionPlan((Delivery("", first, "csv", encoding=encoding),), "late" if late else "on_time")
    name = f"{stem}.xlsx" if rng.random() < 0.7 else f"{quarter.key}_{unit_name}.xlsx"
    return SubmissionPlan((Delivery(name, first, "xlsx"),), "late" if late else "on_time")
