"""Inter-rater reliability: intraclass correlations and Krippendorff's alpha (quality.md, "Reliability").

Intraclass correlations follow Shrout, P. E. & Fleiss, J. L. (1979), "Intraclass correlations: uses in
assessing rater reliability", Psychological Bulletin 86(2), 420–428, for a complete targets × judges
matrix (n targets, k judges) and the mean squares of its ANOVA:

    BMS  between targets         WMS  within targets (one-way)
    JMS  between judges          EMS  residual (two-way)

    ICC(1,1) = (BMS − WMS) / (BMS + (k−1)·WMS)            ICC(1,k) = (BMS − WMS) / BMS
    ICC(2,1) = (BMS − EMS) / (BMS + (k−1)·EMS + k·(JMS − EMS)/n)
    ICC(2,k) = (BMS − EMS) / (BMS + (JMS − EMS)/n)
    ICC(3,1) = (BMS − EMS) / (BMS + (k−1)·EMS)            ICC(3,k) = (BMS − EMS) / BMS

The warehouse's ratings are not a complete matrix: every ratee has their own raters (raters nested in
ratees, the one-way design of ICC(1,·)) and their number varies. `one_way_anova` therefore uses the
one-way ANOVA with unequal group sizes, where the expected between mean square is σ²_w + k0·σ²_b with
the adjusted mean group size

    k0 = (N − Σ n_i² / N) / (g − 1)        (N ratings, g ratees, n_i ratings of ratee i)

(Snedecor & Cochran, Statistical Methods, one-way classification with unequal group sizes; Donner, A.
(1986), "A review of inference procedures for the intraclass correlation coefficient in the one-way
random effects model", International Statistical Review 54(1), 67–82).
With k replaced by k0, ICC(1,1) = (BMS − WMS)/(BMS + (k0−1)·WMS), and its Spearman-Brown step-up to
k0 ratings is again (BMS − WMS)/BMS, the reliability of a ratee's mean rating over a typical (k0)
number of raters. Balanced data give k0 = k and the formulas of Shrout & Fleiss.

Krippendorff's alpha follows Krippendorff, K. (2011), "Computing Krippendorff's Alpha-Reliability",
Annenberg School for Communication, University of Pennsylvania, §§ C–D:

    α = 1 − D_o / D_e,   D_o = (1/n) Σ_u Σ_{i≠j in u} δ²(v_i, v_j) / (m_u − 1),
                         D_e = 1/(n(n−1)) Σ_{i≠j over all pairable values} δ²(v_i, v_j)

where only *pairable* values count (units u coded by m_u ≥ 2 observers, n = Σ m_u over those units)
and the sums run over ordered pairs. For the interval metric δ² = (a − b)², and the pair sums collapse
to sums of squares (Σ_{i≠j in u}(v_i − v_j)² = 2·m_u·SS_u), so no coincidence matrix is needed and
the statistic is exact for real-valued (non-integer) scores. For the nominal metric δ = [a ≠ b] and
Σ_{i≠j in u} δ = m_u² − Σ_c n_uc².

Undefined statistics (0/0: no variance at all, fewer than two ratees, no within-ratee degrees of
freedom, no pairable values) are returned as NaN rather than raised, so a unit-quarter without enough
data simply has no reliability figure. Malformed input (wrong shape, NaN in a complete matrix) raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

Metric = Literal["interval", "nominal"]


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is zero or either side is not finite (0/0 is undefined)."""
    if den == 0.0 or not np.isfinite(num) or not np.isfinite(den):
        return float("nan")
    return float(num / den)


# -- complete matrices: Shrout & Fleiss (1979) ----------------------------------------------------------


@dataclass(frozen=True)
class TwoWayAnova:
    """Mean squares of a complete n targets × k judges matrix (Shrout & Fleiss 1979, Table 1)."""

    n: int
    k: int
    bms: float
    wms: float
    jms: float
    ems: float

    def icc_1_1(self) -> float:
        return _ratio(self.bms - self.wms, self.bms + (self.k - 1) * self.wms)

    def icc_1_k(self) -> float:
        return _ratio(self.bms - self.wms, self.bms)

    def icc_2_1(self) -> float:
        den = self.bms + (self.k - 1) * self.ems + self.k * (self.jms - self.ems) / self.n
        return _ratio(self.bms - self.ems, den)

    def icc_2_k(self) -> float:
        return _ratio(self.bms - self.ems, self.bms + (self.jms - self.ems) / self.n)

    def icc_3_1(self) -> float:
        return _ratio(self.bms - self.ems, self.bms + (self.k - 1) * self.ems)

    def icc_3_k(self) -> float:
        return _ratio(self.bms - self.ems, self.bms)


def two_way_anova(matrix: npt.ArrayLike) -> TwoWayAnova:
    """ANOVA mean squares of a complete targets × judges matrix (rows = targets, columns = judges)."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D targets × judges matrix, got shape {x.shape}")
    n, k = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"need at least 2 targets and 2 judges, got {n} × {k}")
    if not np.isfinite(x).all():
        raise ValueError("the matrix must be complete (no NaN/inf); use icc_1k_unbalanced for missing cells")
    grand = x.mean()
    target_means = x.mean(axis=1)
    judge_means = x.mean(axis=0)
    ss_between = k * float(((target_means - grand) ** 2).sum())
    ss_judges = n * float(((judge_means - grand) ** 2).sum())
    ss_within = float(((x - target_means[:, None]) ** 2).sum())
    # Residual = within-target variation not explained by the judges' means (two-way, no interaction).
    ss_error = float(((x - target_means[:, None] - judge_means[None, :] + grand) ** 2).sum())
    return TwoWayAnova(
        n=n,
        k=k,
        bms=ss_between / (n - 1),
        wms=ss_within / (n * (k - 1)),
        jms=ss_judges / (k - 1),
        ems=ss_error / ((n - 1) * (k - 1)),
    )


def icc_1_1(matrix: npt.ArrayLike) -> float:
    """ICC(1,1): one-way random effects, reliability of a single rating."""
    return two_way_anova(matrix).icc_1_1()


def icc_1k(matrix: npt.ArrayLike) -> float:
    """ICC(1,k) = (BMS − WMS)/BMS: one-way random effects, reliability of the mean of k ratings."""
    return two_way_anova(matrix).icc_1_k()


def icc_2_1(matrix: npt.ArrayLike) -> float:
    """ICC(2,1): two-way random effects (judges a random sample), single rating, absolute agreement."""
    return two_way_anova(matrix).icc_2_1()


def icc_2k(matrix: npt.ArrayLike) -> float:
    """ICC(2,k): two-way random effects, mean of k ratings."""
    return two_way_anova(matrix).icc_2_k()


def icc_3_1(matrix: npt.ArrayLike) -> float:
    """ICC(3,1): two-way mixed (judges fixed), single rating, consistency."""
    return two_way_anova(matrix).icc_3_1()


def icc_3k(matrix: npt.ArrayLike) -> float:
    """ICC(3,k): two-way mixed, mean of k ratings (equals Cronbach's alpha over judges)."""
    return two_way_anova(matrix).icc_3_k()


# -- raters nested in ratees, unequal group sizes ---------------------------------------------------------


@dataclass(frozen=True)
class OneWayAnova:
    """One-way ANOVA of ratings grouped by ratee, group sizes allowed to differ.

    `k0` is the adjusted mean group size (N − Σn_i²/N)/(g − 1); every field is NaN when undefined.
    """

    n_groups: int
    n_obs: int
    k0: float
    bms: float
    wms: float

    def icc_1_1(self) -> float:
        """(BMS − WMS) / (BMS + (k0 − 1)·WMS): reliability of one rating."""
        return _ratio(self.bms - self.wms, self.bms + (self.k0 - 1.0) * self.wms)

    def icc_1_k(self) -> float:
        """(BMS − WMS) / BMS: reliability of the mean of k0 ratings."""
        return _ratio(self.bms - self.wms, self.bms)


def _group_index(ids: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Dense 0-based codes of arbitrary hashable group ids (strings, ints, ...)."""
    _, inverse = np.unique(np.asarray(ids), return_inverse=True)
    return inverse.reshape(-1)


def one_way_anova(group_ids: npt.ArrayLike, values: npt.ArrayLike) -> OneWayAnova:
    """One-way ANOVA of `values` grouped by `group_ids` (long format; NaN values are missing cells).

    Groups with a single rating contribute to the between-groups mean square but carry no within
    degrees of freedom, which is how the unequal-n ANOVA treats them.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    g = np.asarray(group_ids).reshape(-1)
    if g.shape != v.shape:
        raise ValueError(f"group_ids and values differ in length: {g.shape[0]} vs {v.shape[0]}")
    keep = np.isfinite(v)
    v, g = v[keep], g[keep]
    nan = float("nan")
    if v.size == 0:
        return OneWayAnova(0, 0, nan, nan, nan)
    idx = _group_index(g)
    n_i = np.bincount(idx).astype(np.float64)
    n_groups, n_obs = int(n_i.size), int(v.size)
    if n_groups < 2 or n_obs - n_groups < 1:
        return OneWayAnova(n_groups, n_obs, nan, nan, nan)
    means = np.bincount(idx, weights=v) / n_i
    grand = v.mean()
    ss_between = float((n_i * (means - grand) ** 2).sum())
    ss_within = float(((v - means[idx]) ** 2).sum())
    k0 = (n_obs - float((n_i**2).sum()) / n_obs) / (n_groups - 1)
    return OneWayAnova(
        n_groups=n_groups,
        n_obs=n_obs,
        k0=k0,
        bms=ss_between / (n_groups - 1),
        wms=ss_within / (n_obs - n_groups),
    )


def icc_1_1_unbalanced(ratee_ids: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """ICC(1,1) with unequal numbers of raters per ratee (k0 in place of k); NaN when undefined."""
    return one_way_anova(ratee_ids, values).icc_1_1()


def icc_1k_unbalanced(ratee_ids: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """ICC(1,k0) = (BMS − WMS)/BMS with unequal numbers of raters per ratee; NaN when undefined.

    `ratee_ids` and `values` are the long format (one entry per rating); NaN values are skipped. The
    result is the reliability of a ratee's mean rating over k0 raters, k0 the adjusted mean number of
    raters per ratee (see the module docstring). NaN when there are fewer than 2 ratees, no ratee with
    2+ ratings, or no variance at all.
    """
    return one_way_anova(ratee_ids, values).icc_1_k()


# -- Krippendorff's alpha ---------------------------------------------------------------------------------


def krippendorff_alpha_long(
    unit_ids: npt.ArrayLike, values: npt.ArrayLike, metric: Metric = "interval"
) -> float:
    """Krippendorff's alpha from the long format: one (unit, value) per coded value, NaN = missing.

    In the warehouse a "unit" is a ratee and the values are the composites their raters gave.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    u = np.asarray(unit_ids).reshape(-1)
    if u.shape != v.shape:
        raise ValueError(f"unit_ids and values differ in length: {u.shape[0]} vs {v.shape[0]}")
    keep = np.isfinite(v)
    v, u = v[keep], u[keep]
    if v.size == 0:
        return float("nan")
    idx = _group_index(u)
    m_u = np.bincount(idx)
    pairable = m_u[idx] >= 2  # a value only counts if another observer coded the same unit
    v, idx = v[pairable], idx[pairable]
    n = v.size
    if n < 2:
        return float("nan")
    _, idx = np.unique(idx, return_inverse=True)
    m = np.bincount(idx).astype(np.float64)
    if metric == "interval":
        means = np.bincount(idx, weights=v) / m
        ss_u = np.bincount(idx, weights=(v - means[idx]) ** 2)
        d_o = float((2.0 * m * ss_u / (m - 1.0)).sum()) / n
        d_e = 2.0 * float(((v - v.mean()) ** 2).sum()) / (n - 1)
    elif metric == "nominal":
        _, code = np.unique(v, return_inverse=True)
        code = code.reshape(-1)
        n_c = np.bincount(code).astype(np.float64)
        # Count of each value within each unit: bincount over the combined (unit, value) index.
        n_uc = np.bincount(idx * n_c.size + code).astype(np.float64)
        same_pairs_u = np.bincount(np.arange(n_uc.size) // n_c.size, weights=n_uc**2, minlength=m.size)
        d_o = float(((m**2 - same_pairs_u) / (m - 1.0)).sum()) / n
        d_e = (n * n - float((n_c**2).sum())) / (n * (n - 1))
    else:
        raise ValueError(f"metric must be 'interval' or 'nominal', got {metric!r}")
    ratio = _ratio(d_o, d_e)
    return 1.0 - ratio if np.isfinite(ratio) else float("nan")


def _reliability_data(data: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Long format of an observers × units matrix (Krippendorff's canonical layout)."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected an observers × units matrix, got shape {x.shape}")
    units = np.broadcast_to(np.arange(x.shape[1]), x.shape)
    return units.reshape(-1), x.reshape(-1)


def krippendorff_alpha(data: npt.ArrayLike, metric: Metric = "interval") -> float:
    """Krippendorff's alpha of reliability data: observers (raters) × units, NaN for missing values."""
    units, values = _reliability_data(data)
    return krippendorff_alpha_long(units, values, metric)


def krippendorff_alpha_interval(data: npt.ArrayLike) -> float:
    """Krippendorff's alpha, interval metric δ² = (a − b)², observers × units with NaN for missing."""
    return krippendorff_alpha(data, "interval")


def krippendorff_alpha_nominal(data: npt.ArrayLike) -> float:
    """Krippendorff's alpha, nominal metric δ = [a ≠ b], observers × units with NaN for missing."""
    return krippendorff_alpha(data, "nominal")


# -- per unit, quarter and tier, vectorised over a ratings table --------------------------------------------


RELIABILITY_GROUP = ("quarter", "unit_code", "rater_tier")


def reliability_table(
    ratings: pl.DataFrame,
    by: Sequence[str] = RELIABILITY_GROUP,
    ratee: str = "ratee_code",
    value: str = "composite",
) -> pl.DataFrame:
    """ICC(1,1), ICC(1,k0) and interval alpha of every group of a long ratings table, in one pass.

    Same statistics as `one_way_anova` and `krippendorff_alpha_long` applied to each group (ratees as
    the ANOVA groups and alpha's units), computed with polars aggregations so a whole city quarter takes
    well under a second. Rows with a null/NaN value are skipped. Output: the `by` columns, n_ratees,
    n_ratings, k0, bms, wms, icc_1_1, icc_1k, alpha_interval (NaN where undefined), sorted by `by`.
    """
    keys = list(by)
    cell = [*keys, ratee]
    y = pl.col(value).cast(pl.Float64)
    df = ratings.select(*cell, y.alias("_y")).filter(pl.col("_y").is_finite())
    per_ratee = df.group_by(cell).agg(
        pl.len().cast(pl.Float64).alias("_n"),
        pl.col("_y").sum().alias("_sum"),
        ((pl.col("_y") - pl.col("_y").mean()) ** 2).sum().alias("_ss"),
    )
    n, mean = pl.col("_n"), pl.col("_sum") / pl.col("_n")
    pair = n >= 2
    n_pair_total = pl.when(pair).then(n).otherwise(0.0).sum().over(keys)
    per_ratee = per_ratee.with_columns(
        (pl.col("_sum").sum().over(keys) / n.sum().over(keys)).alias("_grand"),
        (pl.when(pair).then(pl.col("_sum")).otherwise(0.0).sum().over(keys) / n_pair_total).alias(
            "_grand_pair"
        ),
    )
    nan = pl.lit(float("nan"))
    g = per_ratee.group_by(keys).agg(
        pl.len().alias("n_ratees"),
        n.sum().alias("_N"),
        (n**2).sum().alias("_sum_n2"),
        (n * (mean - pl.col("_grand")) ** 2).sum().alias("_ssb"),
        pl.col("_ss").sum().alias("_ssw"),
        # Alpha over pairable values only: ratees with at least two ratings.
        pl.when(pair).then(n).otherwise(0.0).sum().alias("_np"),
        pl.when(pair).then(2.0 * n * pl.col("_ss") / (n - 1.0)).otherwise(0.0).sum().alias("_do_sum"),
        pl.when(pair)
        .then(pl.col("_ss") + n * (mean - pl.col("_grand_pair")) ** 2)
        .otherwise(0.0)
        .sum()
        .alias("_sst_pair"),
    )
    big_n, n_g = pl.col("_N"), pl.col("n_ratees").cast(pl.Float64)
    defined = (n_g >= 2) & (big_n - n_g >= 1)
    g = g.with_columns(
        pl.col("_N").cast(pl.Int64).alias("n_ratings"),
        pl.when(defined).then((big_n - pl.col("_sum_n2") / big_n) / (n_g - 1)).otherwise(nan).alias("k0"),
        pl.when(defined).then(pl.col("_ssb") / (n_g - 1)).otherwise(nan).alias("bms"),
        pl.when(defined).then(pl.col("_ssw") / (big_n - n_g)).otherwise(nan).alias("wms"),
        pl.when(pl.col("_np") >= 2).then(pl.col("_do_sum") / pl.col("_np")).otherwise(nan).alias("_do"),
        pl.when(pl.col("_np") >= 2)
        .then(2.0 * pl.col("_sst_pair") / (pl.col("_np") - 1.0))
        .otherwise(nan)
        .alias("_de"),
    )
    bms, wms, k0 = pl.col("bms"), pl.col("wms"), pl.col("k0")

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return pl.when(den != 0).then(num / den).otherwise(nan)

    g = g.with_columns(
        ratio(bms - wms, bms + (k0 - 1.0) * wms).alias("icc_1_1"),
        ratio(bms - wms, bms).alias("icc_1k"),
        (1.0 - ratio(pl.col("_do"), pl.col("_de"))).alias("alpha_interval"),
    )
    return g.select(
        *keys, "n_ratees", "n_ratings", "k0", "bms", "wms", "icc_1_1", "icc_1k", "alpha_interval"
    ).sort(keys)
