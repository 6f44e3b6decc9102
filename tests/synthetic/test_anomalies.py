"""Injected anomalies show the one behaviour they are labelled with (pipelines/synthetic/anomalies.py)."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.anomalies import inject_rater_anomalies
from pipelines.synthetic.city import rotation_shows
from pipelines.synthetic.rates import AnomalyRates, zero
from pipelines.synthetic.ratings import RatingTable


def test_no_discrimination_is_never_straight_lining() -> None:
    """A5 gives everyone the same five numbers shuffled; near the top of the scale those numbers could all
    be 100, which would be straight-lining (A2) as well: the injection redraws them."""
    rates = AnomalyRates(**{**zero(AnomalyRates()).__dict__, "no_discrimination": 1.0})
    for seed in range(200):
        rng = np.random.default_rng(seed)
        ratees = [f"P{i:02d}" for i in range(6)]
        table = RatingTable(ratees, ["科室工作人员"] * 6, ["R"] * 6, np.full((6, 5), 100.0))
        labels = inject_rater_anomalies(table, ratees, {}, rates, rng, "2025Q1", "U", {})
        assert [lb.type for lb in labels] == ["no_discrimination"]
        assert not np.all(table.scores == table.scores[:, :1]), seed  # some row has unequal dimensions
        assert np.ptp(table.composites()) < 1.0  # and the rater still does not discriminate


def test_rotation_label_needs_the_defined_pattern() -> None:
    """U1 is labelled only when the unit's own scores rotate the top (quality.md U1)."""
    people = list(range(12))
    # Three groups take the top in turn; the group that just had it falls to the bottom.
    level = {"turn": 95.0, "wait": 85.0, "after": 75.0}

    def quarter(q: int) -> dict[int, tuple[float, str]]:
        out = {}
        for p in people:
            g = p % 3
            place = "turn" if g == (q - 1) % 3 else "after" if g == (q - 2) % 3 else "wait"
            v = level[place] + p * 0.01
            out[p] = (v, "好" if v >= 90 else "较好")
        return out

    rotating = [quarter(q) for q in range(1, 5)]
    assert rotation_shows(rotating, 10, 0.8, 0.0)
    # An honest unit: the same people on top every quarter.
    steady = [{p: (80.0 + p, "好" if p >= 8 else "较好") for p in people} for _ in range(4)]
    assert not rotation_shows(steady, 10, 0.8, 0.0)
    assert not rotation_shows(rotating[:3], 10, 0.8, 0.0)  # a partial year
    assert not rotation_shows(rotating, 13, 0.8, 0.0)  # too few people scored all year
