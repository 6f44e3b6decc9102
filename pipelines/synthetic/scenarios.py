"""Named city scenarios (docs/generator.md, "Scenarios"): the default city and variants that stress the
quality detectors in the ways quality.md ("What a definition must survive") lists.

A scenario sets a handful of the generator's model parameters. They are module constants read at call
time by the population, rating and unit-quarter code, so `apply_scenario` sets them on those modules; the
generator applies the scenario in the main process (staff simulation) and again in every worker process
before it builds a unit's quarter, so the result does not depend on how workers are started.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipelines.synthetic import population, ratings, unit_quarter


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    unit_level_mean: float = 85.5  # mean rating level of a unit before its own level effect
    signal_points: float = 4.2  # rating points per unit of the ratee's signal
    task_weight: float = 0.5  # share of the ratee's signal that is this quarter's work (rest: θ)
    staff_scale: float = 1.0  # multiplies every level's mean staff count
    max_peers: int = 6  # most peers of the same section who rate a person
    leave_rate: float = 0.012  # per person and quarter: retirement or resignation
    transfer_rate: float = 0.008  # per person and quarter: moves to another unit of the city

    def parameters(self) -> dict[str, float | int | str]:
        return asdict(self)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("default", "the documented default city"),
        Scenario(
            "lenient",
            "ceiling-heavy: unit rating level 94, so many scores are capped at 100 and spreads shrink",
            unit_level_mean=94.0,
            signal_points=3.0,
        ),
        Scenario(
            "small",
            "small units (about a third of the default staff) and sparse tiers (at most 3 peers)",
            staff_scale=0.35,
            max_peers=3,
        ),
        Scenario(
            "turnover",
            "high turnover: 6% leave and 5% transfer per quarter (default 1.2% and 0.8%)",
            leave_rate=0.06,
            transfer_rate=0.05,
        ),
        Scenario(
            "weak",
            "weak work-rating coupling: ratings follow the person far more than this quarter's work",
            task_weight=0.12,
            signal_points=3.2,
        ),
    )
}

_BASE_STAFF = dict(population.MEAN_STAFF)


def scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def apply_scenario(s: Scenario) -> None:
    """Set the scenario's parameters on the generator modules (idempotent; `default` restores)."""
    unit_quarter.UNIT_LEVEL_MEAN = s.unit_level_mean
    unit_quarter.TASK_WEIGHT = s.task_weight
    ratings.SIGNAL_POINTS = s.signal_points
    ratings.MAX_PEERS = s.max_peers
    population.LEAVE_RATE = s.leave_rate
    population.TRANSFER_RATE = s.transfer_rate
    population.MEAN_STAFF = {level: mean * s.staff_scale for level, mean in _BASE_STAFF.items()}
