"""Reference implementation of the unit-level findings' statistics (docs/quality.md, "Unit-level
findings"), the same formulas the dbt models int_unit_tests_quarter / int_unit_tests_year compute in SQL
(macros/unit_stats.sql). Tests hold the SQL to these functions and these functions to scipy.

- `bh_q_values`: Benjamini–Hochberg q values.
- `empirical_null_p`: the lower-tail p value of a Fisher-z statistic against the null an honest unit of
  its size shows in the city — centre the median z, variance the unit's sampling variance plus the
  between-unit variance τ² the city shows beyond sampling (`between_unit_sd`, robust).
- `shrunk_scale`: a level group's robust spread shrunk toward the city's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAD_SCALE = 1.4826
SPEARMAN_Z_VARIANCE = 1.06  # Var(atanh(r_s)) ≈ 1.06 / (n − 3) (Fieller, Hartley & Pearson 1957)


def normal_cdf(x: float) -> float:
    """Φ(x) (exact, via erfc; the SQL macro uses Abramowitz & Stegun 26.2.17, within 7.5e-8)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def bh_q_values(p: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg q values: q_(k) = min over j ≥ k of p_(j) · m / j, at most 1."""
    arr = np.asarray(p, dtype=float)
    m = arr.size
    if m == 0:
        return arr
    order = np.argsort(arr, kind="stable")
    scaled = arr[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def fisher_z(r: float) -> float:
    return math.atanh(max(-0.999, min(0.999, r)))


TAU_GRID = tuple(k * 0.01 for k in range(101))  # between-unit sd on the Fisher-z scale, 0 .. 1


def between_unit_sd(z: Sequence[float], sampling_var: Sequence[float]) -> float:
    """The smallest τ on TAU_GRID at which the median of |z − median z| / sqrt(v + τ²) is at most the
    standard normal's 0.6745: the between-unit spread the city shows beyond each unit's sampling noise,
    estimated robustly (a few dishonest units do not move a median) and with every unit's own variance."""
    zs = np.asarray(z, dtype=float)
    sv = np.asarray(sampling_var, dtype=float)
    dev = np.abs(zs - np.median(zs))
    for tau in TAU_GRID:
        if np.median(dev / np.sqrt(sv + tau**2)) <= 0.6745:
            return tau
    return TAU_GRID[-1]


def empirical_null_p(z: Sequence[float], sampling_var: Sequence[float]) -> np.ndarray:
    """Lower-tail p values of each z against the group's empirical null (see module doc)."""
    zs = np.asarray(z, dtype=float)
    sv = np.asarray(sampling_var, dtype=float)
    tau = between_unit_sd(zs, sv)
    stat = (zs - float(np.median(zs))) / np.sqrt(sv + tau**2)
    return np.array([normal_cdf(float(s)) for s in stat])


def shrunk_scale(level_scale: float, n_level: int, city_scale: float, prior_units: float) -> float:
    """sqrt((k·s_level² + k0·s_city²) / (k + k0)), at least 0.25 points."""
    pooled = (n_level * level_scale**2 + prior_units * city_scale**2) / (n_level + prior_units)
    return max(0.25, math.sqrt(pooled))
