"""Robust location/scale and rank statistics used by the finding rules of quality.md.

- `robust_z`: (x − median) / (1.4826 · MAD), the rule of A3/A4 (lenient/severe rater) and U3 (score
  inflation). 1.4826 ≈ 1/Φ⁻¹(3/4) makes 1.4826·MAD a consistent estimator of σ for normal data
  (Rousseeuw & Croux 1993; Iglewicz & Hoaglin 1993 use the same scaling for their modified z-score).
- `spearman`: Spearman's rank correlation with average ranks for ties, i.e. Pearson's r of the
  mid-ranks (the definition that stays correct under ties; Kendall & Gibbons 1990, ch. 2), used by U1
  (grade rotation) and U2 (rating-work decoupling).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

MAD_SCALE = 1.4826

ZeroMadPolicy = Literal["inf", "nan"]


def robust_z(
    x: npt.ArrayLike, scale: float = MAD_SCALE, on_zero_mad: ZeroMadPolicy = "inf"
) -> npt.NDArray[np.float64]:
    """Robust z-scores (x − median) / (scale · MAD) of a 1-D sample.

    The median and the MAD are taken over the finite values only; a NaN input gives a NaN z and a ±inf
    input gives ±inf (it is infinitely far from any finite centre). With no finite value at all every
    z is NaN.

    MAD = 0 happens when more than half of the finite values are identical. The default policy
    `on_zero_mad="inf"` returns 0 for values equal to the median and ±inf for every other value: the
    bulk of the group agrees exactly, so any departure is infinitely many MADs away, and a detector
    with a threshold still flags it (callers enforce minimum group sizes, which is what keeps tiny
    groups from being judged). `on_zero_mad="nan"` instead declares the whole group's z undefined,
    for callers that prefer to skip such groups.
    """
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"robust_z expects a 1-D sample, got shape {values.shape}")
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if not finite.any():
        return out
    centre = float(np.median(values[finite]))
    mad = float(np.median(np.abs(values[finite] - centre)))
    deviation = values - centre
    if mad > 0:
        with np.errstate(invalid="ignore"):
            out = deviation / (scale * mad)
        return out
    if on_zero_mad == "nan":
        return out
    if on_zero_mad != "inf":
        raise ValueError(f"on_zero_mad must be 'inf' or 'nan', got {on_zero_mad!r}")
    # sign(0) = 0 gives 0 for values at the median; sign(±d)·inf gives ±inf elsewhere.
    with np.errstate(invalid="ignore"):
        out = np.where(deviation == 0, 0.0, np.sign(deviation) * np.inf)
    out[np.isnan(values)] = np.nan
    return out


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rank correlation of paired samples, ties given their average rank.

    Pairs where either value is not finite are dropped first. Returns NaN when fewer than 2 pairs
    remain or when either sample is constant (the correlation is 0/0 there, not 0).
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"spearman expects two 1-D samples of equal length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2:
        return float("nan")
    ra = rankdata(a, method="average")
    rb = rankdata(b, method="average")
    ra -= ra.mean()
    rb -= rb.mean()
    denom = float(np.sqrt(np.dot(ra, ra) * np.dot(rb, rb)))
    if denom == 0.0:
        return float("nan")
    # Ranks are bounded, so rounding can only push |r| past 1 by an ulp; clip keeps the contract.
    return float(np.clip(np.dot(ra, rb) / denom, -1.0, 1.0))
