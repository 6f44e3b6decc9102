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


def test_rotation_label_needs_the_top_grade_to_change_hands() -> None:
    """U1 is labelled when the unit's own grades show the rotation: among the people who stayed all year,
    most of each quarter's 好 holders did not hold it the quarter before."""
    people = list(range(12))
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
    assert rotation_shows(rotating, 10)
    # An honest unit: the same people on top every quarter.
    steady = [{p: (80.0 + p, "好" if p >= 8 else "较好") for p in people} for _ in range(4)]
    assert not rotation_shows(steady, 10)
    assert not rotation_shows(rotating[:3], 10)  # a partial year
    assert not rotation_shows(rotating, 13)  # too few people scored all year
    # People who left mid-year do not count: with four of them gone the rest still rotates.
    left = [{p: v for p, v in q.items() if p < 10 or k == 0} for k, q in enumerate(rotating)]
    assert rotation_shows(left, 10)
