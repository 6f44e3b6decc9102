"""Injected anomalies show the one behaviour they are labelled with (pipelines/synthetic/anomalies.py)."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.anomalies import inject_rater_anomalies
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
