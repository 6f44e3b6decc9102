"""Rater-severity-adjusted ("fair") evaluation scores: the additive facets model of quality.md.

Per unit and quarter, every rating is modelled as

    composite(r, p) = μ + θ_p + s_r + ε

with θ_p the ratee's level, s_r the rater's leniency and ε noise, fitted by ordinary least squares.
This is the two-facet additive model behind many-facet rating analysis (Linacre's many-facet Rasch
measurement in its linear form; the same design as a two-way fixed-effects ANOVA with missing cells).

**Identification.** Raters are connected when they rated a common ratee; within a connected component
of the bipartite rater–ratee graph only differences of leniency are identified (adding c to every s_r
and subtracting it from every θ_p changes nothing). The model fixes this by Σ s_r = 0 over each
component, so a leniency is relative to the raters it can be compared with. Components never cross
units because a rater's identity is (quarter, unit_code, rater_tier, rater_code).

**Solution.** Eliminating the ratee effects (a_p = μ + θ_p) from the normal equations leaves, per
component, the Laplacian-like system

    L s = b,   L = D_r − N D_p⁻¹ Nᵀ,   b_r = Σ_{ratings of r} (y − ȳ_p)

(N the rater × ratee count matrix, D_r / D_p the rating counts of raters / ratees, ȳ_p the ratee's mean
rating). sᵀLs = Σ_p Σ_{r∈p}(s_r − s̄_p)², so L is positive semi-definite with null space the constant
vector on a connected component, and 1ᵀb = 0. Solving (L + c·11ᵀ/m) s = b therefore gives the unique
solution with Σ s = 0 (the added term is invisible on 1⊥). Each component is a small dense block (a
unit has tens to a few hundred raters), so one sparse assembly for the whole city plus one dense solve
per component fits a city quarter (≈215,000 ratings) in about a second. The ratee's fair composite is
then a_p = ȳ_p − mean of s_r over the ratee's ratings: the rating an average rater of the component
would give.

`fair_evaluation_scores` recomputes S_eval exactly as rules.md §3 defines it (tier means with one
highest and one lowest dropped from tiers of ≥ trim_min_raters raters; tier weights renormalised over
the tiers present) from composite − s_r, next to the official S_eval from the raw composites.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

RATER_KEY = ("quarter", "unit_code", "rater_tier", "rater_code")
RATEE_KEY = ("quarter", "unit_code", "ratee_code")
UNIT_KEY = ("quarter", "unit_code")


@dataclass(frozen=True)
class FacetsFit:
    """Result of `fit_facets`.

    raters:     RATER_KEY, component, n_ratings, n_ratees, leniency (s_r), leniency_se
    ratees:     RATEE_KEY, component, n_ratings, mean_composite (ȳ_p), fair_composite (μ + θ_p)
    components: UNIT_KEY, component, n_raters, n_ratees, n_ratings, residual_df, residual_sd

    `component` numbers the connected rater sets of a unit 0, 1, ... (in rater-key order).
    `leniency_se` is the OLS standard error σ̂·sqrt(L⁺_rr) with σ̂ the component's residual SD; NaN when
    the component has no residual degrees of freedom.
    """

    raters: pl.DataFrame
    ratees: pl.DataFrame
    components: pl.DataFrame


def _indexed(df: pl.DataFrame, key: tuple[str, ...], name: str) -> tuple[np.ndarray, pl.DataFrame]:
    """Each row's number of its key among the distinct keys sorted by the key (0..), and those keys
    in that order, numbered in column `name`.

    The number is the key's dense rank (a struct compares field by field, as a sort by the key does),
    which leaves the rows in their order: the table of distinct keys and the join back to the rows
    that this replaced were ~0.8 of the fit's ~1.9 s of CPU on the 4-city province, the rank ~0.4.
    """
    codes = df.select((pl.struct(*key).rank("dense") - 1).alias(name))[name].to_numpy().astype(np.int64)
    n = int(codes.max()) + 1 if codes.size else 0
    first = np.empty(n, dtype=np.int64)  # a row of each key: the last write of each code wins
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    table = df.select(key)[first].with_row_index(name)
    return codes, table


def _empty_fit(ratings: pl.DataFrame) -> FacetsFit:
    schema = ratings.schema
    keys = {k: schema[k] for k in (*RATER_KEY, "ratee_code")}
    raters = pl.DataFrame(
        schema={
            **{k: keys[k] for k in RATER_KEY},
            "component": pl.Int64,
            "n_ratings": pl.Int64,
            "n_ratees": pl.Int64,
            "leniency": pl.Float64,
            "leniency_se": pl.Float64,
        }
    )
    ratees = pl.DataFrame(
        schema={
            **{k: keys[k] for k in RATEE_KEY},
            "component": pl.Int64,
            "n_ratings": pl.Int64,
            "mean_composite": pl.Float64,
            "fair_composite": pl.Float64,
        }
    )
    components = pl.DataFrame(
        schema={
            **{k: keys[k] for k in UNIT_KEY},
            "component": pl.Int64,
            "n_raters": pl.Int64,
            "n_ratees": pl.Int64,
            "n_ratings": pl.Int64,
            "residual_df": pl.Int64,
            "residual_sd": pl.Float64,
        }
    )
    return FacetsFit(raters, ratees, components)


def _solve_per_component(
    laplacian: sp.csr_matrix, b: np.ndarray, comp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve L s = b with Σ s = 0 on every connected component; also return diag(L⁺).

    On a connected block, L has null space span(1) and 1ᵀb = 0, so (L + c·11ᵀ/m) is invertible, its
    solution satisfies Σ s = 0, and (L + c·11ᵀ/m)⁻¹ = L⁺ + 11ᵀ/(c·m) because L and 11ᵀ commute with
    L·1 = 0. A one-rater component has s = 0 and nothing to estimate.

    The blocks of one size are inverted in one stacked call (numpy runs the same LAPACK solve on each
    matrix of a stack, so the numbers are those of one call per block): a province has thousands of
    units, and a call per block, each slicing the sparse matrix and waking BLAS's threads, was half of
    the fit's time.
    """
    order = np.argsort(comp, kind="stable")  # raters grouped by component: each block is a slice
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    blocks = np.split(order, bounds)
    starts = np.concatenate(([0], bounds))
    sizes = np.array([members.size for members in blocks])
    # Each entry's place in the matrix with raters in `order`, found by index arithmetic rather than by
    # permuting the sparse matrix; components share no rater, so every entry lies inside its block.
    # A size's entries are the CSR rows of its raters, gathered by their row ranges (sorting the
    # entries by their block's size instead took a third of the solve on a province's 11.5 million).
    position = np.empty(b.size, dtype=np.int64)
    position[order] = np.arange(b.size)
    block_of = np.empty(b.size, dtype=np.int64)
    block_of[order] = np.repeat(np.arange(len(blocks)), sizes)
    csr = laplacian.tocsr()  # from CSR arithmetic: no duplicate entries to add up
    rater_size = sizes[block_of]
    raters_by_size = np.argsort(rater_size, kind="stable")
    size_sorted = rater_size[raters_by_size]
    slot = np.zeros(len(blocks), dtype=np.int64)  # a block's place in the stack of its size
    s = np.zeros(b.size)
    lplus_diag = np.zeros(b.size)
    for m in np.unique(sizes[sizes > 1]):
        chosen = np.flatnonzero(sizes == m)
        slot[chosen] = np.arange(chosen.size)
        lo, hi = np.searchsorted(size_sorted, [m, m + 1])
        raters = raters_by_size[lo:hi]
        first = csr.indptr[raters]
        count = csr.indptr[raters + 1] - first
        entries = np.repeat(first - (np.cumsum(count) - count), count) + np.arange(count.sum())
        row_raters = np.repeat(raters, count)
        block = block_of[row_raters]
        rows = position[row_raters] - starts[block]
        cols = position[csr.indices[entries]] - starts[block]
        stack = np.zeros((chosen.size, m, m))
        stack[slot[block], rows, cols] = csr.data[entries]
        # on L's scale, the added term keeps each system well conditioned
        c = np.array([float(np.trace(matrix)) / m for matrix in stack])
        inverses = np.linalg.inv(stack + (c / m)[:, None, None])
        # all blocks of the size at once (numpy's stacked matmul makes the same product per matrix)
        members = np.stack([blocks[i] for i in chosen])
        s[members] = np.matmul(inverses, b[members][..., None])[..., 0]
        lplus_diag[members] = np.diagonal(inverses, axis1=1, axis2=2) - (1.0 / (c * m))[:, None]
    return s, lplus_diag


def fit_facets(ratings: pl.DataFrame, value: str = "composite") -> FacetsFit:
    """Fit composite = μ + θ_p + s_r + ε by least squares for every unit-quarter in `ratings`.

    `ratings` needs RATER_KEY, `ratee_code` and `value` columns, one row per rating (self-ratings
    already excluded). Rows whose value is null/NaN are ignored.
    """
    y_col = pl.col(value).cast(pl.Float64)
    df = ratings.select(*RATER_KEY, "ratee_code", y_col.alias("_y")).filter(pl.col("_y").is_finite())
    r, rater_tab = _indexed(df, RATER_KEY, "_r")
    p, ratee_tab = _indexed(df, RATEE_KEY, "_p")
    y = df["_y"].to_numpy()
    n_raters, n_ratees = rater_tab.height, ratee_tab.height
    if n_raters == 0:
        return _empty_fit(ratings)

    n_r = np.bincount(r, minlength=n_raters).astype(np.float64)
    n_p = np.bincount(p, minlength=n_ratees).astype(np.float64)
    ybar_p = np.bincount(p, weights=y, minlength=n_ratees) / n_p
    b = np.bincount(r, weights=y - ybar_p[p], minlength=n_raters)

    counts = sp.csr_matrix((np.ones_like(y), (r, p)), shape=(n_raters, n_ratees))
    shared = (counts @ sp.diags(1.0 / n_p) @ counts.T).tocsr()  # N D_p⁻¹ Nᵀ
    _, comp = connected_components(shared, directed=False)

    laplacian = (sp.diags(n_r) - shared).tocsr()
    s, lplus_diag = _solve_per_component(laplacian, b, comp)

    fitted_ratee = ybar_p - np.bincount(p, weights=s[r], minlength=n_ratees) / n_p
    resid = y - fitted_ratee[p] - s[r]
    ratee_comp = np.zeros(n_ratees, dtype=np.int64)
    ratee_comp[p] = comp[r]

    # Residual degrees of freedom per component: ratings − ratee effects − (raters − 1) free leniencies.
    n_comp = int(comp.max()) + 1
    comp_ratings = np.bincount(comp[r], minlength=n_comp)
    comp_raters = np.bincount(comp, minlength=n_comp)
    comp_ratees = np.bincount(ratee_comp, minlength=n_comp)
    comp_df = comp_ratings - comp_ratees - (comp_raters - 1)
    comp_ss = np.bincount(comp[r], weights=resid**2, minlength=n_comp)
    with np.errstate(invalid="ignore", divide="ignore"):
        comp_sd = np.where(comp_df > 0, np.sqrt(comp_ss / np.maximum(comp_df, 1)), np.nan)
    se = comp_sd[comp] * np.sqrt(np.clip(lplus_diag, 0.0, None))
    se[comp_raters[comp] < 2] = np.nan  # a lone rater's leniency is fixed at 0 by the constraint

    n_ratees_of_rater = np.asarray((counts > 0).sum(axis=1)).reshape(-1)
    raters = rater_tab.with_columns(
        pl.Series("_comp", comp, dtype=pl.Int64),
        pl.Series("n_ratings", n_r.astype(np.int64)),
        pl.Series("n_ratees", n_ratees_of_rater.astype(np.int64)),
        pl.Series("leniency", s),
        pl.Series("leniency_se", se),
    )
    # Renumber components within their unit, in the order of their first rater (raters are key-sorted).
    local = (
        raters.group_by("_comp")
        .agg(pl.col("quarter").first(), pl.col("unit_code").first(), pl.col("_r").min().alias("_first"))
        .with_columns((pl.col("_first").rank("dense").over(UNIT_KEY) - 1).cast(pl.Int64).alias("component"))
        .select("_comp", "component")
    )
    raters = raters.join(local, on="_comp").sort("_r")
    ratees = (
        ratee_tab.with_columns(
            pl.Series("_comp", ratee_comp),
            pl.Series("n_ratings", n_p.astype(np.int64)),
            pl.Series("mean_composite", ybar_p),
            pl.Series("fair_composite", fitted_ratee),
        )
        .join(local, on="_comp")
        .sort("_p")
    )
    components = (
        pl.DataFrame(
            {
                "_comp": np.arange(n_comp, dtype=np.int64),
                "n_raters": comp_raters.astype(np.int64),
                "n_ratees": comp_ratees.astype(np.int64),
                "n_ratings": comp_ratings.astype(np.int64),
                "residual_df": comp_df.astype(np.int64),
                "residual_sd": comp_sd,
            }
        )
        .join(
            raters.group_by("_comp").agg(pl.col("quarter").first(), pl.col("unit_code").first()),
            on="_comp",
        )
        .join(local, on="_comp")
    )
    return FacetsFit(
        raters=raters.select(*RATER_KEY, "component", "n_ratings", "n_ratees", "leniency", "leniency_se"),
        ratees=ratees.select(*RATEE_KEY, "component", "n_ratings", "mean_composite", "fair_composite"),
        components=components.select(
            *UNIT_KEY, "component", "n_raters", "n_ratees", "n_ratings", "residual_df", "residual_sd"
        ).sort([*UNIT_KEY, "component"]),
    )


def _tier_score(n: pl.Expr, total: pl.Expr, low: pl.Expr, high: pl.Expr, trim_min_raters: int) -> pl.Expr:
    """A tier's mean after dropping one highest and one lowest value when it has ≥ trim_min_raters.

    From the tier's count, sum, minimum and maximum: dropping one highest and one lowest leaves the sum
    less those two, whichever of tied values is dropped. This replaced a rank over every (ratee, tier)
    window and a mean of the kept values, which was most of quality/fair_scores' time (1.2 s of CPU
    against 0.4 s per score on the 4-city province); the two agree to a few units in the last place
    of the score (≤ 5e-14 on scores of 0–100), the size of the differences between two runs of the
    old code, whose multi-threaded sums are not added up in a fixed order. A tier whose every value is
    dropped has no score (null), as before.
    """
    trimmed = pl.when(n > 2).then((total - low - high) / (n - 2))
    return pl.when(n >= trim_min_raters).then(trimmed).otherwise(total / n)


def _weights(tier_weights: Mapping[str, float], tier_dtype: pl.DataType) -> pl.DataFrame:
    return pl.DataFrame(
        {"rater_tier": list(tier_weights), "_w": [float(w) for w in tier_weights.values()]},
        schema={"rater_tier": tier_dtype, "_w": pl.Float64},
    )


def _check_tiers(df: pl.DataFrame, tier_weights: Mapping[str, float]) -> None:
    unknown = sorted(set(df["rater_tier"].unique().to_list()) - set(tier_weights))
    if unknown:
        raise ValueError(f"rater tiers without a weight: {unknown}")


def _tier_aggregates(value: str, suffix: str) -> list[pl.Expr]:
    """Count, sum, minimum and maximum of a column's finite values in each group."""
    finite = pl.col(value).filter(pl.col(value).is_finite())
    return [
        finite.len().alias(f"_n{suffix}"),
        finite.sum().alias(f"_sum{suffix}"),
        finite.min().alias(f"_lo{suffix}"),
        finite.max().alias(f"_hi{suffix}"),
    ]


def _weighted(score: str, n: str) -> pl.Expr:
    """Σ w·score / Σ w over the ratee's tiers that have a value (null when none has)."""
    present = pl.col(n) > 0
    weight = pl.col("_w").filter(present)
    return pl.when(present.any()).then((weight * pl.col(score).filter(present)).sum() / weight.sum())


def evaluation_scores(
    ratings: pl.DataFrame,
    tier_weights: Mapping[str, float],
    trim_min_raters: int = 5,
    value: str = "composite",
) -> pl.DataFrame:
    """S_eval per ratee from a value column, exactly as rules.md §3 defines it.

    Tier score = mean of the tier's values for the ratee, after dropping one highest and one lowest when
    the tier has ≥ `trim_min_raters` ratings (去掉一个最高分和一个最低分); S_eval = Σ w·tier_score / Σ w
    over the tiers present. Returns RATEE_KEY, n_ratings, s_eval. Rows with a null/NaN value are not
    ratings. A tier missing from `tier_weights` is an error (it would silently change the weights).
    """
    y = pl.col(value).cast(pl.Float64)
    df = ratings.select(*RATEE_KEY, "rater_tier", y.alias("_y")).filter(pl.col("_y").is_finite())
    _check_tiers(df, tier_weights)
    cell = [*RATEE_KEY, "rater_tier"]
    n, total = pl.col("_n"), pl.col("_sum")
    tiers = (
        df.group_by(cell)
        .agg(*_tier_aggregates("_y", ""))
        .with_columns(_tier_score(n, total, pl.col("_lo"), pl.col("_hi"), trim_min_raters).alias("_score"))
        .join(_weights(tier_weights, df.schema["rater_tier"]), on="rater_tier")
    )
    return (
        tiers.group_by(list(RATEE_KEY))
        .agg(
            pl.col("_n").sum().cast(pl.Int64).alias("n_ratings"),
            ((pl.col("_w") * pl.col("_score")).sum() / pl.col("_w").sum()).alias("s_eval"),
        )
        .sort(list(RATEE_KEY))
    )


def fair_evaluation_scores(
    ratings: pl.DataFrame,
    tier_weights: Mapping[str, float],
    trim_min_raters: int = 5,
    fit: FacetsFit | None = None,
    value: str = "composite",
    leniency: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """S_eval and S_eval_fair per ratee: the rules §3 score from the composites and from composite − s_r.

    The leniencies s_r come from `leniency` (RATER_KEY and `leniency`, e.g. the `raters` table of a fit
    stored earlier), else from `fit` (a `fit_facets` result for the same ratings), else the model is
    fitted here. Returns RATEE_KEY, n_ratings, s_eval, s_eval_fair, fair_minus_official. Tier weights
    and the trim threshold come from the rules file (evaluation.tier_weights,
    evaluation.trim_min_raters), passed in by the caller.

    Both scores come from one grouping of the ratings by (ratee, tier), each over its own finite values
    (a rater without a leniency has no fair value): the same as `evaluation_scores` of the composites
    and of composite − s_r, at half the grouping work.
    """
    if leniency is None:
        leniency = (fit if fit is not None else fit_facets(ratings, value=value)).raters
    y = pl.col(value).cast(pl.Float64)
    df = (
        ratings.select(*RATER_KEY, "ratee_code", y.alias("_y"))
        .join(leniency.select(*RATER_KEY, "leniency"), on=list(RATER_KEY), how="left")
        .select(*RATEE_KEY, "rater_tier", "_y", (pl.col("_y") - pl.col("leniency")).alias("_f"))
        .filter(pl.col("_y").is_finite())  # not a rating at all (its fair value is not finite either)
    )
    _check_tiers(df, tier_weights)
    cell = [*RATEE_KEY, "rater_tier"]
    tiers = (
        df.group_by(cell)
        .agg(*_tier_aggregates("_y", ""), *_tier_aggregates("_f", "_f"))
        .with_columns(
            _tier_score(pl.col("_n"), pl.col("_sum"), pl.col("_lo"), pl.col("_hi"), trim_min_raters).alias(
                "_score"
            ),
            _tier_score(
                pl.col("_n_f"), pl.col("_sum_f"), pl.col("_lo_f"), pl.col("_hi_f"), trim_min_raters
            ).alias("_score_f"),
        )
        .join(_weights(tier_weights, df.schema["rater_tier"]), on="rater_tier")
    )
    return (
        tiers.group_by(list(RATEE_KEY))
        .agg(
            pl.col("_n").sum().cast(pl.Int64).alias("n_ratings"),
            ((pl.col("_w") * pl.col("_score")).sum() / pl.col("_w").sum()).alias("s_eval"),
            _weighted("_score_f", "_n_f").alias("s_eval_fair"),
        )
        .with_columns((pl.col("s_eval_fair") - pl.col("s_eval")).alias("fair_minus_official"))
        .sort(list(RATEE_KEY))
    )
