"""Who rates whom, and what they give.

Scores follow a simple, documented model (docs/generator.md):
  composite = unit level + 4.2 · signal(ratee) + leniency(rater) + tier offset + row noise
where signal mixes the ratee's latent performance with the work they visibly delivered this
quarter, so honest units show ratings that agree with task volume. Dimensions scatter around the
composite. The lenient skew of real assessments is built in (most scores 80–95), and scores are
whole numbers for most raters, halves for some.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.domain.template import DIMENSIONS

DIM_WEIGHTS = np.array([0.20, 0.20, 0.20, 0.25, 0.15])
DIM_OFFSETS = np.array([0.3, -0.4, 0.2, -0.3, 0.4])  # raters find 难度/成效 a little harder to credit
TIER_OFFSET = {"科室工作人员": 1.0, "科室负责人": 0.4, "分管领导": 0.0, "服务对象": 0.6, "亮晒评": 1.4}
UNIT_LEVEL_MEAN = 85.5
SIGNAL_POINTS = 4.2
LENIENCY_SD = 2.0
ROW_NOISE_SD = 2.0
DIM_NOISE_SD = 1.4
MAX_PEERS = 6


@dataclass
class RatingTable:
    """Rating rows of one unit-quarter, kept as arrays until written."""

    ratee: list[str] = field(default_factory=list)
    tier: list[str] = field(default_factory=list)
    rater: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    def __len__(self) -> int:
        return len(self.ratee)

    def composites(self) -> np.ndarray:
        return self.scores @ DIM_WEIGHTS

    def rows(self) -> list[dict]:
        out = []
        for i in range(len(self)):
            row = {"ratee_code": self.ratee[i], "rater_tier": self.tier[i], "rater_code": self.rater[i]}
            for d, value in zip(DIMENSIONS, self.scores[i], strict=True):
                row[d] = int(value) if float(value).is_integer() else float(value)
            out.append(row)
        return out

    def append(self, ratee: str, tier: str, rater: str, scores: np.ndarray) -> None:
        self.ratee.append(ratee)
        self.tier.append(tier)
        self.rater.append(rater)
        self.scores = np.vstack([self.scores, scores.reshape(1, 5)])

    def consensus(self, row: int) -> tuple[float, int]:
        """Mean composite of the ratee's other raters (any tier), and how many there are."""
        comp = self.composites()
        others = [
            i
            for i in range(len(self))
            if self.ratee[i] == self.ratee[row] and i != row and self.rater[i] != self.ratee[i]
        ]
        return (float(comp[others].mean()) if others else float("nan")), len(others)


@dataclass(frozen=True)
class RaterPlan:
    """The (ratee, tier, rater) triples of one unit-quarter before any scores are drawn."""

    ratee: list[str]
    tier: list[str]
    rater: list[str]


def plan_raters(
    participants: list[str],
    section_of: dict[str, str],
    heads: dict[str, str],
    leader_of_section: dict[str, str],
    rng: np.random.Generator,
    drop_required_share: float = 0.0,
) -> RaterPlan:
    """Assign raters of every tier to every participant.

    Peers are the other participants of the ratee's section (at most six, drawn); the section head
    rates its staff; the leader in charge rates everyone in the sections they oversee; service
    recipients (F..) and the showcase panel (L..) are anonymous panels of the unit.
    `drop_required_share` is the share of ratees a sloppy unit leaves without one required tier.
    """
    n = len(participants)
    n_f = max(3, round(n / 5))
    n_l = max(3, round(n / 6))
    f_codes = [f"F{i + 1:02d}" for i in range(n_f)]
    l_codes = [f"L{i + 1:02d}" for i in range(n_l)]
    by_section: dict[str, list[str]] = {}
    for c in participants:
        by_section.setdefault(section_of[c], []).append(c)
    ratee: list[str] = []
    tier: list[str] = []
    rater: list[str] = []

    def add(p: str, t: str, r: str) -> None:
        ratee.append(p)
        tier.append(t)
        rater.append(r)

    for p in participants:
        section = section_of[p]
        head = heads.get(section)
        peers = [c for c in by_section[section] if c != p and c != head]
        if p == head:
            peers = [c for c in by_section[section] if c != p]
        if len(peers) > MAX_PEERS:
            peers = [peers[i] for i in sorted(rng.choice(len(peers), MAX_PEERS, replace=False))]
        drop = rng.random() < drop_required_share
        drop_tier = rng.choice(["科室工作人员", "科室负责人", "分管领导"]) if drop else None
        if drop_tier != "科室工作人员":
            for c in peers:
                add(p, "科室工作人员", c)
        if head and head != p and head in section_of and drop_tier != "科室负责人":
            add(p, "科室负责人", head)
        if drop_tier != "分管领导":
            add(p, "分管领导", leader_of_section[section])
        for i in rng.choice(n_f, 3 if n_f >= 3 else n_f, replace=False):
            add(p, "服务对象", f_codes[int(i)])
        for i in rng.choice(n_l, int(rng.integers(2, 4)), replace=False):
            add(p, "亮晒评", l_codes[int(i)])
    return RaterPlan(ratee, tier, rater)


def draw_scores(
    plan: RaterPlan,
    signal: dict[str, float],
    leniency: dict[tuple[str, str], float],
    unit_level: float,
    rng: np.random.Generator,
    half_point_raters: set[str],
) -> RatingTable:
    """Draw five dimension scores per planned row (vectorised)."""
    n = len(plan.ratee)
    sig = np.array([signal[p] for p in plan.ratee])
    len_ = np.array([leniency[(t, r)] for t, r in zip(plan.tier, plan.rater, strict=True)])
    tier_off = np.array([TIER_OFFSET[t] for t in plan.tier])
    composite = unit_level + SIGNAL_POINTS * sig + len_ + tier_off + rng.normal(0, ROW_NOISE_SD, n)
    scores = composite[:, None] + DIM_OFFSETS[None, :] + rng.normal(0, DIM_NOISE_SD, (n, 5))
    halves = np.array([r in half_point_raters for r in plan.rater])
    scores = np.where(halves[:, None], np.round(scores * 2) / 2, np.round(scores))
    scores = np.clip(scores, 0, 100)
    return RatingTable(list(plan.ratee), list(plan.tier), list(plan.rater), scores)


def vector_for(composite: float, rng: np.random.Generator, spread: float = DIM_NOISE_SD) -> np.ndarray:
    """Five whole-number scores whose weighted composite is close to `composite`."""
    v = np.clip(np.round(composite + DIM_OFFSETS + rng.normal(0, spread, 5)), 0, 100)
    return v
