"""The additive facets model (rater leniency) and the fair evaluation score."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from pipelines.domain.quarters import Quarter
from pipelines.domain.rules import load_rules
from pipelines.domain.template import DIMENSIONS
from pipelines.quality.facets import (
    RATER_KEY,
    _solve_per_component,
    evaluation_scores,
    fair_evaluation_scores,
    fit_facets,
)
from pipelines.synthetic.self_scoring import ScoringParams
from pipelines.synthetic.self_scoring import evaluation_scores as generator_evaluation_scores
from tests.conftest import make_city
from tests.support.readback import read_submission

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)

PEER, HEAD, LEADER, CLIENT, PANEL = "科室工作人员", "科室负责人", "分管领导", "服务对象", "亮晒评"
EVALUATION = load_rules(2025).evaluation
TIER_WEIGHTS = dict(EVALUATION.tier_weights)


def ratings_frame(rows: list[tuple[str, str, str, str, float]], quarter: str = "2025Q2") -> pl.DataFrame:
    """(unit, ratee, tier, rater, composite) tuples as a ratings table."""
    return pl.DataFrame(
        {
            "quarter": [quarter] * len(rows),
            "unit_code": [r[0] for r in rows],
            "ratee_code": [r[1] for r in rows],
            "rater_tier": [r[2] for r in rows],
            "rater_code": [r[3] for r in rows],
            "composite": [float(r[4]) for r in rows],
        },
        schema={
            "quarter": pl.String,
            "unit_code": pl.String,
            "ratee_code": pl.String,
            "rater_tier": pl.String,
            "rater_code": pl.String,
            "composite": pl.Float64,
        },
    )


def synthetic_design(rng: np.random.Generator, noise: float) -> tuple[pl.DataFrame, dict, dict]:
    """Two units; U2 has two sections nobody rates across (two components) and a lone outside rater.

    Returns the ratings and the true leniency per rater key and true μ + θ per (unit, ratee), with
    leniencies deliberately *not* centred, so the test also checks the identification constraint.
    """
    rows = []
    leniency: dict[tuple[str, str, str], float] = {}
    level: dict[tuple[str, str], float] = {}
    sections = {
        "U1": [[f"P{i:02d}" for i in range(10)]],
        "U2": [[f"A{i}" for i in range(6)], [f"B{i}" for i in range(5)]],
    }
    for unit, groups in sections.items():
        mu = float(rng.normal(85, 2))
        for g, staff in enumerate(groups):
            raters = [(PEER, c) for c in staff] + [(LEADER, f"LD{g}"), (CLIENT, f"F{g}1"), (CLIENT, f"F{g}2")]
            for key in raters:
                leniency[(unit, *key)] = float(rng.normal(1.0, 2.0))
            for p in staff:
                level[(unit, p)] = mu + float(rng.normal(0, 4))
                chosen = [k for k in raters if k[1] != p]
                picks = rng.choice(len(chosen), size=min(6, len(chosen)), replace=False)
                for i in picks:
                    tier, rater = chosen[int(i)]
                    y = level[(unit, p)] + leniency[(unit, tier, rater)] + float(rng.normal(0, noise))
                    rows.append((unit, p, tier, rater, y))
    # A ratee rated only by an outside panel member who rates nobody else: a one-rater component.
    leniency[("U2", PANEL, "L9")] = 3.0
    level[("U2", "Z1")] = 80.0
    rows.append(("U2", "Z1", PANEL, "L9", 83.0))
    return ratings_frame(rows), leniency, level


def test_noise_free_data_are_recovered_exactly() -> None:
    df, leniency, level = synthetic_design(np.random.default_rng(0), noise=0.0)
    fit = fit_facets(df)
    keys = fit.raters.select(RATER_KEY[1:]).rows()
    raters = fit.raters.with_columns(pl.Series("true", [leniency[k] for k in keys]))
    # Only differences within a component are identified: the truth is centred per component.
    raters = raters.with_columns(
        (pl.col("true") - pl.col("true").mean().over("unit_code", "component")).alias("true_centred"),
        pl.col("true").mean().over("unit_code", "component").alias("offset"),
    )
    np.testing.assert_allclose(raters["leniency"], raters["true_centred"], atol=1e-9)
    offsets = raters.group_by("unit_code", "component").agg(pl.col("offset").first())
    ratees = fit.ratees.join(offsets, on=["unit_code", "component"])
    expected = np.array([level[(u, p)] for u, p in ratees.select("unit_code", "ratee_code").rows()])
    # The fair composite is what an average rater *of the component* gives: μ + θ_p + mean leniency.
    np.testing.assert_allclose(ratees["fair_composite"], expected + ratees["offset"].to_numpy(), atol=1e-9)
    assert fit.components["residual_sd"].drop_nans().max() < 1e-9  # type: ignore[operator]


def test_components_and_the_sum_to_zero_constraint() -> None:
    df, _, _ = synthetic_design(np.random.default_rng(1), noise=2.5)
    fit = fit_facets(df)
    comps = fit.components.sort("unit_code", "component")
    # Components are numbered per unit in the order of their first rater key (亮晒评 L9 sorts first).
    assert comps.select("unit_code", "component", "n_raters", "n_ratees").rows() == [
        ("U1", 0, 13, 10),
        ("U2", 0, 1, 1),  # the lone panel member L9 and the one person they rate
        ("U2", 1, 9, 6),  # section A: 6 peers + leader LD0 + clients F01, F02
        ("U2", 2, 8, 5),  # section B: 5 peers + leader LD1 + clients F11, F12
    ]
    assert comps.filter(pl.col("n_raters") == 1)["residual_df"].to_list() == [0]
    sums = fit.raters.group_by("unit_code", "component").agg(pl.col("leniency").sum())
    assert sums["leniency"].abs().max() < 1e-9  # type: ignore[operator]
    lone = fit.raters.filter(pl.col("rater_code") == "L9").to_dicts()[0]
    assert lone["leniency"] == 0.0
    assert math.isnan(lone["leniency_se"])
    z1 = fit.ratees.filter(pl.col("ratee_code") == "Z1").to_dicts()[0]
    assert z1["fair_composite"] == 83.0  # nothing to compare the lone rater with: the rating stands
    # Each ratee lies in exactly one component, the one of its raters.
    joined = df.join(fit.raters, on=list(RATER_KEY)).join(
        fit.ratees, on=["quarter", "unit_code", "ratee_code"], suffix="_ratee"
    )
    assert (joined["component"] == joined["component_ratee"]).all()


def test_matches_a_dense_least_squares_fit() -> None:
    """Same fitted values and residuals as a plain dense OLS on the full dummy design."""
    df, _, _ = synthetic_design(np.random.default_rng(2), noise=2.5)
    fit = fit_facets(df)
    rater_ids = {k: i for i, k in enumerate(sorted(set(df.select(RATER_KEY).rows())))}
    ratee_ids = {k: i for i, k in enumerate(sorted(set(df.select("unit_code", "ratee_code").rows())))}
    x = np.zeros((df.height, len(ratee_ids) + len(rater_ids)))
    for i, row in enumerate(df.iter_rows(named=True)):
        x[i, ratee_ids[(row["unit_code"], row["ratee_code"])]] = 1
        x[i, len(ratee_ids) + rater_ids[tuple(row[k] for k in RATER_KEY)]] = 1
    y = df["composite"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = (
        df.join(fit.raters, on=list(RATER_KEY), maintain_order="left")
        .join(fit.ratees, on=["quarter", "unit_code", "ratee_code"], maintain_order="left")
        .select(pl.col("fair_composite") + pl.col("leniency"))
        .to_series()
        .to_numpy()
    )
    assert fitted.size == df.height
    np.testing.assert_allclose(fitted, x @ beta, atol=1e-8)


def _solve_block_by_block(
    laplacian: sp.csr_matrix, b: np.ndarray, comp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The solve as it was written first: one dense block sliced out and inverted at a time."""
    order = np.argsort(comp, kind="stable")
    blocks = np.split(order, np.flatnonzero(np.diff(comp[order])) + 1)
    permuted = laplacian[order][:, order].tocsr()
    s, lplus_diag = np.zeros(b.size), np.zeros(b.size)
    start = 0
    for members in blocks:
        m = members.size
        if m > 1:
            block = permuted[start : start + m, start : start + m].toarray()
            c = float(np.trace(block)) / m
            inv = np.linalg.inv(block + c / m)
            s[members] = inv @ b[members]
            lplus_diag[members] = np.diag(inv) - 1.0 / (c * m)
        start += m
    return s, lplus_diag


def test_stacked_solve_gives_the_block_by_block_numbers() -> None:
    """Blocks of equal size inverted in one stack give the very numbers of one inversion per block:
    components of sizes 1-6, several of each size, their raters interleaved in the matrix."""
    rng = np.random.default_rng(5)
    sizes = [1, 3, 2, 3, 6, 1, 2, 3, 6, 4, 2]
    comp = np.concatenate([np.full(m, k) for k, m in enumerate(sizes)])
    shuffle = rng.permutation(comp.size)
    comp = comp[shuffle]
    weights = np.zeros((comp.size, comp.size))
    for k in range(len(sizes)):
        members = np.flatnonzero(comp == k)
        w = rng.uniform(0.2, 2.0, (members.size, members.size))
        weights[np.ix_(members, members)] = (w + w.T) / 2
    np.fill_diagonal(weights, 0.0)
    laplacian = sp.csr_matrix(np.diag(weights.sum(axis=1)) - weights)
    b = rng.normal(size=comp.size)
    for k in range(len(sizes)):  # 1ᵀb = 0 on every component, as the model's right-hand side has
        b[comp == k] -= b[comp == k].mean()
    s, lplus = _solve_per_component(laplacian, b, comp)
    s_ref, lplus_ref = _solve_block_by_block(laplacian, b, comp)
    assert np.array_equal(s, s_ref) and np.array_equal(lplus, lplus_ref)
    np.testing.assert_allclose(laplacian @ s, b, atol=1e-9)


def test_empty_input() -> None:
    fit = fit_facets(ratings_frame([]))
    assert fit.raters.height == fit.ratees.height == fit.components.height == 0
    assert "leniency" in fit.raters.columns


# -- S_eval and S_eval_fair --------------------------------------------------------------------------------


def test_evaluation_score_trims_and_renormalises() -> None:
    rows = [("U1", "P1", PEER, f"R{i}", v) for i, v in enumerate([80, 90, 85, 70, 100])]  # ≥ 5: trim
    rows += [("U1", "P1", LEADER, "LD", 88.0)]
    rows += [("U1", "P2", PEER, f"R{i}", v) for i, v in enumerate([70, 90, 80, 100])]  # 4: no trim
    rows += [("U1", "P2", CLIENT, "F1", float("nan"))]  # not a rating
    out = evaluation_scores(ratings_frame(rows), TIER_WEIGHTS, trim_min_raters=5)
    p1, p2 = out.sort("ratee_code").to_dicts()
    # P1: peers 85 (80 85 90 after trimming 70 and 100), leader 88; weights 0.20 and 0.30.
    assert p1["s_eval"] == pytest.approx((0.20 * 85 + 0.30 * 88) / 0.50)
    assert p1["n_ratings"] == 6
    assert p2["s_eval"] == pytest.approx(85.0)
    assert p2["n_ratings"] == 4
    with pytest.raises(ValueError, match="without a weight"):
        evaluation_scores(ratings_frame(rows), {PEER: 1.0})


def test_fair_score_removes_a_lenient_rater() -> None:
    """Three raters rate three people; R3 is 6 points more lenient than the others and rates only P3.

    Without adjustment P3 looks best; with it, the three are tied, as their true levels are."""
    rows = []
    truth_offset = {"R1": -2.0, "R2": -2.0, "R3": 4.0}
    raters_of = {"P1": ["R1", "R2"], "P2": ["R1", "R2"], "P3": ["R1", "R2", "R3"]}
    for p, raters in raters_of.items():
        for r in raters:
            rows.append(("U1", p, PEER, r, 85 + truth_offset[r]))
    rows += [("U1", "P3b", PEER, r, 80 + truth_offset[r]) for r in ("R2", "R3")]
    out = fair_evaluation_scores(ratings_frame(rows), TIER_WEIGHTS).sort("ratee_code")
    scores = dict(zip(out["ratee_code"], out["s_eval"], strict=True))
    fair = dict(zip(out["ratee_code"], out["s_eval_fair"], strict=True))
    assert scores["P3"] > scores["P1"]
    assert fair["P1"] == pytest.approx(fair["P2"]) == pytest.approx(fair["P3"])
    assert fair["P3"] - fair["P3b"] == pytest.approx(5.0)
    assert set(out.columns) >= {"s_eval", "s_eval_fair", "fair_minus_official", "n_ratings"}


def test_equal_raters_leave_the_score_unchanged() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for p in range(8):
        level = float(rng.normal(85, 3))
        for r in range(6):
            rows.append(("U1", f"P{p}", PEER if r < 5 else LEADER, f"R{r}", level))
    out = fair_evaluation_scores(ratings_frame(rows), TIER_WEIGHTS)
    np.testing.assert_allclose(out["s_eval_fair"], out["s_eval"], atol=1e-9)


# -- on the project's generator ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """30 clean units of 2025Q2: ratings with composites, the true leniencies, and the raw rows."""
    root = make_city(
        tmp_path_factory.mktemp("facets"), seed=3, units=30, quarters=(Quarter(2025, 2),), clean=True
    )
    truth_dir = root / "ground_truth" / "2025Q2"
    weights = dict(EVALUATION.dimension_weights)
    rows: list[dict] = []
    with (truth_dir / "submissions.csv").open(encoding="utf-8") as fh:
        deliveries = [d for d in csv.DictReader(fh) if d["delivery"] != "0" and not d["breakage"]]
    for d in deliveries:
        unit_dir = Path(root / "landing" / "2025Q2" / d["unit_code"])
        for r in read_submission(unit_dir, d["file_name"] or None, sheets={"ratings"})["ratings"]:
            if r["rater_code"] == r["ratee_code"]:
                continue
            rows.append({"quarter": "2025Q2", "unit_code": d["unit_code"], **r})
    # Explicit float dimensions: scores are whole numbers for most raters and halves for some, and
    # polars infers a column's type from its first 100 rows, so an inferred Int64 would truncate 87.5.
    schema_overrides = dict.fromkeys(DIMENSIONS, pl.Float64)
    ratings = pl.DataFrame(rows, schema_overrides=schema_overrides, infer_schema_length=None).with_columns(
        sum(weights[dim] * pl.col(dim).cast(pl.Float64) for dim in DIMENSIONS).alias("composite")
    )
    truth = pl.read_csv(truth_dir / "raters.csv", infer_schema=False).with_columns(
        pl.col("leniency").cast(pl.Float64)
    )
    return ratings, truth, rows


def test_leniency_tracks_the_generators_truth(
    generated: tuple[pl.DataFrame, pl.DataFrame, list[dict]],
) -> None:
    """Estimated s_r against the generator's leniency (trait + tier offset), centred within the unit.

    Row noise against leniency spread limits how well *any* estimator can do from ~7 ratees: the
    attainable correlation is sqrt(var(s) / (var(s) + mean SE²)). With the generator's row noise sd 2.0
    and leniency sd 2.0 that ceiling is above 0.9 for raters with ≥ 5 ratees, and the OLS estimate
    must sit on it; the SE calibration is checked too.
    """
    ratings, truth, _ = generated
    fit = fit_facets(ratings)
    truth = truth.with_columns(
        (pl.col("leniency") - pl.col("leniency").mean().over("quarter", "unit_code")).alias("true_centred")
    )
    joined = fit.raters.join(truth.drop("leniency"), on=list(RATER_KEY), how="inner")
    assert joined.height == fit.raters.height == truth.height
    five = joined.filter(pl.col("n_ratees") >= 5)
    r5 = float(np.corrcoef(five["leniency"], five["true_centred"])[0, 1])
    true_var = float(five["true_centred"].var())  # type: ignore[arg-type]
    ceiling = math.sqrt(true_var / (true_var + float((five["leniency_se"] ** 2).mean())))  # type: ignore[arg-type]
    print(f"leniency correlation, raters with >= 5 ratees: {r5:.3f} (ceiling {ceiling:.3f})")
    assert r5 >= 0.9
    assert r5 >= ceiling - 0.03
    z = (five["leniency"] - five["true_centred"]) / five["leniency_se"]
    assert 0.85 <= float(z.std()) <= 1.2  # type: ignore[arg-type]
    ten = joined.filter(pl.col("n_ratees") >= 10)
    assert float(np.corrcoef(ten["leniency"], ten["true_centred"])[0, 1]) >= 0.9


def test_evaluation_score_matches_the_generators_own_scoring(
    generated: tuple[pl.DataFrame, pl.DataFrame, list[dict]],
) -> None:
    """Our S_eval equals the generator's independent plain-Python implementation of rules §3."""
    ratings, _, rows = generated
    params = ScoringParams(
        dimension_weights=dict(EVALUATION.dimension_weights),
        tier_weights=TIER_WEIGHTS,
        trim_min_raters=EVALUATION.trim_min_raters,
    )
    ours = fair_evaluation_scores(ratings, TIER_WEIGHTS, EVALUATION.trim_min_raters)
    for unit, group in ours.group_by("unit_code"):
        expected = generator_evaluation_scores([r for r in rows if r["unit_code"] == unit[0]], params)
        got = dict(zip(group["ratee_code"], group["s_eval"], strict=True))
        assert got.keys() == expected.keys()
        for code, value in expected.items():
            assert got[code] == pytest.approx(value, abs=1e-9)
    # Adjusting for leniency moves scores by a point or two, not more, in an honest clean city.
    shift = ours["fair_minus_official"].abs()
    assert 0.2 < float(shift.mean()) < 2.0  # type: ignore[arg-type]


def _reference_score(values_by_tier: dict[str, list[float]], weights: dict[str, float], trim: int) -> float:
    """rules §3 by hand: drop one lowest and one highest of a tier of ≥ trim, mean, weighted over tiers."""
    total = weight = 0.0
    for tier, values in values_by_tier.items():
        kept = sorted(values)[1:-1] if len(values) >= trim else values
        weight += weights[tier]
        total += weights[tier] * sum(kept) / len(kept)
    return total / weight


def test_trimmed_scores_match_the_rule_by_hand_with_ties() -> None:
    """Sum less minimum and maximum is the trimmed mean whichever of tied values is dropped."""
    rng = np.random.default_rng(11)
    rows = []
    by_ratee: dict[str, dict[str, list[float]]] = {}
    for p in range(40):
        for tier in (PEER, LEADER):
            for r in range(int(rng.integers(1, 9))):
                value = float(rng.choice([70.0, 80.0, 85.5, 90.0]))  # few values: many ties
                rows.append(("U1", f"P{p}", tier, f"{tier}{r}", value))
                by_ratee.setdefault(f"P{p}", {}).setdefault(tier, []).append(value)
    weights = {PEER: 0.2, LEADER: 0.3}
    out = evaluation_scores(ratings_frame(rows), weights, trim_min_raters=5)
    expected = [_reference_score(by_ratee[p], weights, 5) for p in out["ratee_code"]]
    np.testing.assert_allclose(out["s_eval"], expected, rtol=0, atol=1e-9)


def test_a_tier_trimmed_to_nothing_has_no_score() -> None:
    rows = [("U1", "P1", PEER, "R1", 80.0), ("U1", "P1", PEER, "R2", 90.0), ("U1", "P1", LEADER, "L", 70.0)]
    out = evaluation_scores(ratings_frame(rows), {PEER: 0.5, LEADER: 0.5}, trim_min_raters=2)
    # the peer tier keeps nothing: its weight stays in the denominator and its score adds nothing
    assert out["s_eval"][0] == pytest.approx(0.5 * 70.0 / 1.0)


def test_fair_scores_leave_out_a_rating_without_a_leniency() -> None:
    """A rater missing from the leniency table has no fair value: S_eval_fair is the rule over the
    other ratings, S_eval over all of them (one grouping computes both)."""
    rows = [("U1", "P1", PEER, f"R{i}", v) for i, v in enumerate([80.0, 90.0, 85.0, 70.0, 100.0, 75.0])]
    rows += [("U1", "P1", LEADER, "L1", 88.0), ("U1", "P2", LEADER, "L1", 60.0)]
    ratings = ratings_frame(rows)
    lenient = {f"R{i}": float(i) for i in range(5)} | {"L1": -1.0}  # R5 has none
    leniency = (
        ratings.select(*RATER_KEY)
        .unique()
        .with_columns(
            pl.col("rater_code")
            .replace_strict(lenient, default=None, return_dtype=pl.Float64)
            .alias("leniency")
        )
    )
    out = fair_evaluation_scores(ratings, TIER_WEIGHTS, leniency=leniency).sort("ratee_code")
    p1 = out.row(0, named=True)
    peers_fair = [v - lenient[f"R{i}"] for i, v in enumerate([80.0, 90.0, 85.0, 70.0, 100.0])]
    expected_fair = _reference_score(
        {PEER: peers_fair, LEADER: [88.0 + 1.0]}, {PEER: TIER_WEIGHTS[PEER], LEADER: TIER_WEIGHTS[LEADER]}, 5
    )
    assert p1["s_eval_fair"] == pytest.approx(expected_fair)
    official = evaluation_scores(ratings, TIER_WEIGHTS)
    assert out["s_eval"].to_list() == pytest.approx(official.sort("ratee_code")["s_eval"].to_list())
    assert out.row(1, named=True)["s_eval_fair"] == pytest.approx(61.0)
