"""Robust z-scores and Spearman's rank correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from pipelines.quality.robust import MAD_SCALE, robust_z, spearman

INF, NAN = float("inf"), float("nan")


def test_robust_z_hand_computed() -> None:
    # median 3, |x − 3| = 2 1 0 1 7 → MAD 1; z = (x − 3)/1.4826.
    z = robust_z([1.0, 2.0, 3.0, 4.0, 10.0])
    assert z == pytest.approx(np.array([-2.0, -1.0, 0.0, 1.0, 7.0]) / MAD_SCALE)
    assert robust_z([1.0, 2.0, 3.0, 4.0, 10.0], scale=1.0)[-1] == pytest.approx(7.0)


def test_robust_z_is_consistent_for_normal_data() -> None:
    z = robust_z(np.random.default_rng(0).normal(50, 4, 200_000))
    assert float(np.std(z)) == pytest.approx(1.0, abs=0.01)


def test_robust_z_ignores_non_finite_values_in_the_statistics() -> None:
    z = robust_z([1.0, 2.0, 3.0, 4.0, 10.0, NAN, INF, -INF])
    assert z[:5] == pytest.approx(np.array([-2.0, -1.0, 0.0, 1.0, 7.0]) / MAD_SCALE)
    assert math.isnan(z[5])
    assert z[6] == INF
    assert z[7] == -INF
    assert np.isnan(robust_z([NAN, NAN])).all()
    assert robust_z([]).shape == (0,)


def test_robust_z_zero_mad() -> None:
    x = [5.0, 5.0, 5.0, 6.0, 2.0, NAN]
    z = robust_z(x)
    assert list(z[:5]) == [0.0, 0.0, 0.0, INF, -INF]
    assert math.isnan(z[5])
    assert np.isnan(robust_z(x, on_zero_mad="nan")).all()
    with pytest.raises(ValueError, match="on_zero_mad"):
        robust_z(x, on_zero_mad="zero")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1-D"):
        robust_z([[1.0, 2.0]])


def test_spearman_with_ties_uses_average_ranks() -> None:
    x = [1, 2, 2, 3, 4, 4, 4, 5]
    y = [2, 1, 3, 3, 5, 4, 6, 6]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    # By hand: ranks x = 1, 2.5, 2.5, 4, 6, 6, 6, 8 and y = 2, 1, 3.5, 3.5, 6, 5, 7.5, 7.5.
    rx = np.array([1, 2.5, 2.5, 4, 6, 6, 6, 8])
    ry = np.array([2, 1, 3.5, 3.5, 6, 5, 7.5, 7.5])
    assert spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_spearman_edge_cases() -> None:
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)
    assert math.isnan(spearman([1.0], [2.0]))
    assert math.isnan(spearman([], []))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))  # constant input
    assert math.isnan(spearman([1, NAN, 3], [2, 5, NAN]))  # one complete pair left
    assert spearman([1, NAN, 3, 4], [1, 9, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal length"):
        spearman([1, 2], [1, 2, 3])
