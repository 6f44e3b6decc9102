"""Reliability statistics against published worked examples and hand computations.

Published values:
- Shrout & Fleiss (1979), Psychological Bulletin 86(2): 6 targets × 4 judges (Table 2), the ANOVA mean
  squares BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 (Table 3) and the six ICCs .17 .29 .71 .44 .62 .91
  (Table 4).
- Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers × 12 units with missing
  values; α_nominal = 0.743, α_interval = 0.849 (the paper also gives ordinal 0.815 and ratio 0.797).
- Wikipedia's "Krippendorff's alpha" computational example (3 coders × 15 units), α_nominal = 0.691, a
  second check with many missing values and units coded by a single coder (the interval value 0.811 is
  the one the fast-krippendorff package's tests assert for the same data).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pipelines.quality.reliability import (
    TwoWayAnova,
    icc_1_1,
    icc_1_1_unbalanced,
    icc_1k,
    icc_1k_unbalanced,
    icc_2_1,
    icc_2k,
    icc_3_1,
    icc_3k,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    krippendorff_alpha_long,
    krippendorff_alpha_nominal,
    one_way_anova,
    reliability_table,
    two_way_anova,
)

NAN = float("nan")

SHROUT_FLEISS = np.array(
    [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ],
    dtype=float,
)

# Krippendorff (2011), observers A–D (rows) × units 1–12 (columns).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)

WIKIPEDIA = np.array(
    [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
)


# -- Shrout & Fleiss (1979) -------------------------------------------------------------------------------


def test_shrout_fleiss_mean_squares() -> None:
    anova = two_way_anova(SHROUT_FLEISS)
    assert (anova.n, anova.k) == (6, 4)
    assert round(anova.bms, 2) == 11.24
    assert round(anova.wms, 2) == 6.26
    assert round(anova.jms, 2) == 32.49
    assert round(anova.ems, 2) == 1.02


@pytest.mark.parametrize(
    ("icc", "published", "exact"),
    [
        # published: Table 4 to 2 decimals; exact: from the unrounded mean squares, to 3 decimals.
        (icc_1_1, 0.17, 0.166),
        (icc_2_1, 0.29, 0.290),
        (icc_3_1, 0.71, 0.715),
        (icc_1k, 0.44, 0.443),
        (icc_2k, 0.62, 0.620),
        (icc_3k, 0.91, 0.909),
    ],
)
def test_shrout_fleiss_iccs(icc, published: float, exact: float) -> None:  # type: ignore[no-untyped-def]
    value = icc(SHROUT_FLEISS)
    assert round(value, 2) == published
    assert round(value, 3) == exact


def test_iccs_from_the_published_mean_squares() -> None:
    """The formulas applied by hand to the paper's rounded mean squares, n = 6, k = 4:
    ICC(1,1) = 4.98/30.02, ICC(2,1) = 10.22/(14.30 + 4·31.47/6), ICC(3,1) = 10.22/14.30,
    ICC(1,4) = 4.98/11.24, ICC(2,4) = 10.22/(11.24 + 31.47/6), ICC(3,4) = 10.22/11.24."""
    ms = TwoWayAnova(n=6, k=4, bms=11.24, wms=6.26, jms=32.49, ems=1.02)
    assert round(ms.icc_1_1(), 3) == 0.166
    assert round(ms.icc_2_1(), 3) == 0.290
    assert round(ms.icc_3_1(), 3) == 0.715
    assert round(ms.icc_1_k(), 3) == 0.443
    assert round(ms.icc_2_k(), 3) == 0.620
    assert round(ms.icc_3_k(), 3) == 0.909


def test_balanced_unbalanced_anova_agrees_with_the_complete_matrix() -> None:
    ratees = np.repeat(np.arange(6), 4)
    one_way = one_way_anova(ratees, SHROUT_FLEISS.reshape(-1))
    assert one_way.k0 == pytest.approx(4.0)
    assert icc_1k_unbalanced(ratees, SHROUT_FLEISS.reshape(-1)) == pytest.approx(icc_1k(SHROUT_FLEISS))
    assert icc_1_1_unbalanced(ratees, SHROUT_FLEISS.reshape(-1)) == pytest.approx(icc_1_1(SHROUT_FLEISS))


def test_complete_matrix_input_is_checked() -> None:
    with pytest.raises(ValueError, match="complete"):
        icc_1k(np.array([[1.0, NAN], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        icc_1k(np.array([[1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match="2-D"):
        icc_1k(np.array([1.0, 2.0]))


def test_complete_matrix_degenerate_cases() -> None:
    assert math.isnan(icc_1k(np.full((3, 3), 5.0)))  # no variance at all: 0/0
    perfect = np.repeat(np.array([[1.0], [4.0], [9.0]]), 3, axis=1)
    for icc in (icc_1_1, icc_1k, icc_2_1, icc_2k, icc_3_1, icc_3k):
        assert icc(perfect) == pytest.approx(1.0)


# -- unequal numbers of raters per ratee -------------------------------------------------------------------


def test_unbalanced_hand_computed() -> None:
    """Ratee A: 1 3 5; B: 6 8; C: 9 10 11 10 (N = 9, g = 3, grand mean 7).

    SSB = 3·(3−7)² + 2·(7−7)² + 4·(10−7)² = 84, BMS = 84/2 = 42; SSW = 8 + 2 + 2 = 12, WMS = 12/6 = 2;
    k0 = (9 − (9 + 4 + 16)/9)/2 = 26/9; ICC(1,1) = 40/(42 + (26/9 − 1)·2) = 90/103; ICC(1,k0) = 40/42.
    """
    ratees = ["A"] * 3 + ["B"] * 2 + ["C"] * 4
    values = [1, 3, 5, 6, 8, 9, 10, 11, 10]
    anova = one_way_anova(ratees, values)
    assert (anova.n_groups, anova.n_obs) == (3, 9)
    assert anova.bms == pytest.approx(42.0)
    assert anova.wms == pytest.approx(2.0)
    assert anova.k0 == pytest.approx(26 / 9)
    assert icc_1_1_unbalanced(ratees, values) == pytest.approx(90 / 103)
    assert icc_1k_unbalanced(ratees, values) == pytest.approx(20 / 21)
    # Missing cells (NaN) are skipped, whatever the ratee.
    assert icc_1k_unbalanced([*ratees, "A", "D"], [*values, NAN, NAN]) == pytest.approx(20 / 21)


def test_unbalanced_singleton_ratees_enter_the_between_mean_square_only() -> None:
    """Adding ratee D with one rating 7 (= the grand mean) adds a group but no within df and no SSB:
    BMS = 84/3 = 28, WMS = 12/6 = 2, k0 = (10 − 30/10)/3 = 7/3, ICC(1,k0) = 26/28."""
    ratees = ["A"] * 3 + ["B"] * 2 + ["C"] * 4 + ["D"]
    values = [1, 3, 5, 6, 8, 9, 10, 11, 10, 7]
    anova = one_way_anova(ratees, values)
    assert anova.bms == pytest.approx(28.0)
    assert anova.wms == pytest.approx(2.0)
    assert anova.k0 == pytest.approx(7 / 3)
    assert icc_1k_unbalanced(ratees, values) == pytest.approx(26 / 28)


@pytest.mark.parametrize(
    ("ratees", "values"),
    [
        ([], []),  # nothing
        (["A", "A", "A"], [1.0, 2.0, 3.0]),  # a single ratee
        (["A", "B", "C"], [1.0, 2.0, 3.0]),  # one rating each: no within-ratee df
        (["A", "A", "B", "B"], [5.0, 5.0, 5.0, 5.0]),  # no variance at all
        (["A", "A", "B", "B"], [1.0, NAN, 2.0, NAN]),  # NaN leaves one rating each
        (["A", "A", "B", "B"], [1.0, 3.0, 1.0, 3.0]),  # equal means: BMS = 0, (0 − W)/0
    ],
)
def test_unbalanced_undefined_is_nan(ratees: list[str], values: list[float]) -> None:
    assert math.isnan(icc_1k_unbalanced(ratees, values))


def test_unbalanced_perfect_agreement_is_one() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 9, 40)
    levels = rng.normal(80, 5, 40)
    ratees = np.repeat(np.arange(40), sizes)
    values = levels[ratees]
    assert icc_1k_unbalanced(ratees, values) == pytest.approx(1.0)
    assert icc_1_1_unbalanced(ratees, values) == pytest.approx(1.0)


def test_unbalanced_pure_noise_is_near_zero_on_average() -> None:
    """No ratee effect: ICC(1,1) estimates scatter around 0 (the ANOVA estimator is only slightly biased)."""
    rng = np.random.default_rng(2)
    estimates = []
    for _ in range(400):
        sizes = rng.integers(2, 10, 30)
        ratees = np.repeat(np.arange(30), sizes)
        estimates.append(icc_1_1_unbalanced(ratees, rng.normal(85, 3, ratees.size)))
    assert abs(float(np.mean(estimates))) < 0.02
    assert float(np.std(estimates)) < 0.1


def test_unbalanced_recovers_a_known_icc() -> None:
    """Ratee variance 4, rater noise 4: ICC(1,1) = 0.5 in the population."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(3, 13, 3000)
    ratees = np.repeat(np.arange(sizes.size), sizes)
    values = rng.normal(0, 2, sizes.size)[ratees] + rng.normal(0, 2, ratees.size)
    assert icc_1_1_unbalanced(ratees, values) == pytest.approx(0.5, abs=0.03)


# -- Krippendorff's alpha ----------------------------------------------------------------------------------


def test_krippendorff_2011_worked_example() -> None:
    assert round(krippendorff_alpha_nominal(KRIPPENDORFF_2011), 3) == 0.743
    assert round(krippendorff_alpha_interval(KRIPPENDORFF_2011), 3) == 0.849
    # The same to 6 decimals, so a change in the pairing rules (which values count) cannot hide in rounding.
    assert krippendorff_alpha(KRIPPENDORFF_2011, "nominal") == pytest.approx(0.743421, abs=1e-6)
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.849107, abs=1e-6)


def test_wikipedia_example() -> None:
    assert round(krippendorff_alpha_nominal(WIKIPEDIA), 3) == 0.691
    assert round(krippendorff_alpha_interval(WIKIPEDIA), 3) == 0.811


def test_alpha_long_format_hand_computed() -> None:
    """Units A: 1 3 5; B: 6 8; C: 9 10 11 10 (n = 9 pairable values; a singleton unit D is dropped).

    D_o = (1/9)·(2·3·8/2 + 2·2·2/1 + 2·4·2/3) = 112/27; D_e = 2·96/8 = 24; α = 1 − 112/648 = 67/81.
    """
    units = ["A"] * 3 + ["B"] * 2 + ["C"] * 4 + ["D"]
    values = [1, 3, 5, 6, 8, 9, 10, 11, 10, 100]
    assert krippendorff_alpha_long(units, values) == pytest.approx(67 / 81)


def test_alpha_matches_the_long_format() -> None:
    units = np.broadcast_to(np.arange(12), KRIPPENDORFF_2011.shape).reshape(-1)
    assert krippendorff_alpha_long(units, KRIPPENDORFF_2011.reshape(-1), "nominal") == pytest.approx(
        krippendorff_alpha_nominal(KRIPPENDORFF_2011)
    )


def test_alpha_undefined_and_perfect() -> None:
    assert math.isnan(krippendorff_alpha_interval(np.array([[1.0, NAN], [NAN, 2.0]])))  # nothing pairable
    assert math.isnan(krippendorff_alpha_interval(np.full((3, 4), 2.0)))  # no variation: 0/0
    assert math.isnan(krippendorff_alpha_nominal(np.full((3, 4), 2.0)))
    perfect = np.array([[1.0, 2.0, 3.0, NAN], [1.0, 2.0, 3.0, 4.0], [NAN, 2.0, 3.0, 4.0]])
    assert krippendorff_alpha_interval(perfect) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal(perfect) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="metric"):
        krippendorff_alpha(perfect, "ordinal")  # type: ignore[arg-type]


def test_alpha_pure_noise_is_near_zero() -> None:
    rng = np.random.default_rng(4)
    draws = [krippendorff_alpha_interval(rng.normal(0, 1, (5, 40))) for _ in range(300)]
    assert abs(float(np.mean(draws))) < 0.02


# -- per-group table ---------------------------------------------------------------------------------------


def _long_table(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for unit in ("U1", "U2"):
        for tier in ("科室工作人员", "分管领导"):
            for p in range(int(rng.integers(3, 9))):
                level = rng.normal(85, 4)
                for r in range(int(rng.integers(1, 6))):
                    rows.append(
                        {
                            "quarter": "2025Q2",
                            "unit_code": unit,
                            "rater_tier": tier,
                            "ratee_code": f"P{p}",
                            "rater_code": f"R{r}",
                            "composite": level + rng.normal(0, 3),
                        }
                    )
    # A degenerate group: one ratee, so ICC and alpha are undefined there.
    rows += [
        {
            "quarter": "2025Q2",
            "unit_code": "U3",
            "rater_tier": "亮晒评",
            "ratee_code": "P1",
            "rater_code": c,
            "composite": v,
        }
        for c, v in (("L1", 80.0), ("L2", 82.0))
    ]
    return pl.DataFrame(rows)


def test_reliability_table_matches_the_array_functions() -> None:
    table = _long_table(np.random.default_rng(5))
    out = reliability_table(table)
    assert out.height == 5
    for row in out.iter_rows(named=True):
        group = table.filter(
            (pl.col("unit_code") == row["unit_code"]) & (pl.col("rater_tier") == row["rater_tier"])
        )
        ratees, values = group["ratee_code"].to_numpy(), group["composite"].to_numpy()
        anova = one_way_anova(ratees, values)
        assert row["n_ratings"] == group.height
        assert row["n_ratees"] == group["ratee_code"].n_unique()
        for column, expected in (
            ("k0", anova.k0),
            ("icc_1_1", anova.icc_1_1()),
            ("icc_1k", anova.icc_1_k()),
            ("alpha_interval", krippendorff_alpha_long(ratees, values)),
        ):
            if math.isnan(expected):
                assert math.isnan(row[column]), column
            else:
                assert row[column] == pytest.approx(expected, rel=1e-9), column
    assert math.isnan(out.filter(pl.col("unit_code") == "U3")["icc_1k"][0])
