"""The rater and pair findings (A1–A8) in real dbt on the tiny city's warehouse (tests/dbt/conftest.py).

- The dbt unit tests of _quality_a_unit_tests.yml (hand-made inputs: a ceiling rater, a severe rater with
  4 ratees, a ceiling-heavy city, a contaminated pool, a contaminated consensus, mutual inflation at 95+
  beside two honest all-100 colleagues, a tier of 5 raters, …) run and pass.
- The robust consensus of int_quality_ratings equals an independent Python leave-one-rater-out median
  for every rating of the built warehouse.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import duckdb
import pytest

from tests.dbt.conftest import Warehouse

# The tiny warehouse is built once per session by the worker that runs this group (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("tiny_warehouse")

A_UNIT_TESTS = {
    "int_quality_ratings::consensus_is_a_leave_one_rater_out_median",
    "int_findings_leniency::a3_a4_few_ratees_and_one_wild_row",
    "int_findings_leniency::a4_sparse_tier_borrows_the_pooled_spread",
    "int_findings_leniency::a3_ceiling_city_and_a_lenient_rater_on_3_ratees",
    "int_findings_leniency::a3_a4_one_wild_row_and_a_contaminated_pool",
    "int_findings_rating_rows::a1_self_rating_and_a8_outlier",
    "int_findings_raters::a2_straight_lining_not_at_the_ceiling",
    "int_findings_raters::a5_central_tendency_not_the_ceiling",
    "int_quality_rater_pairs::a6_pair_counts_within_one_point_and_below_the_ceiling",
    "int_findings_pairs::a6_collusion_not_the_ceiling",
    "int_findings_pairs::a7_reciprocal_inflation_specific_to_the_pair",
}
# The unit-level test models' own dbt unit tests that run in the same invocation (_quality_unit_tests.yml).
U_UNIT_TESTS = {
    "int_unit_tests_year::u1_rotation_seen_in_the_top_of_the_ratings",
}


def test_a_type_dbt_unit_tests_pass(tiny_warehouse: Warehouse) -> None:
    """They ran in the `dbt build` that made the tiny warehouse (a failing one would have failed it)."""
    # unique_id: unit_test.<project>.<model>.<test name>
    passed = {
        "::".join(r["unique_id"].split(".")[-2:])
        for r in tiny_warehouse.results
        if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    }
    assert passed >= A_UNIT_TESTS | U_UNIT_TESTS, sorted((A_UNIT_TESTS | U_UNIT_TESTS) - passed)


def _loo_median(values: dict[str, float], leave_out: str) -> float | None:
    others = [v for rater, v in values.items() if rater != leave_out]
    return statistics.median(others) if others else None


def test_consensus_is_the_median_of_the_other_raters(tiny_warehouse: Warehouse) -> None:
    with duckdb.connect(str(tiny_warehouse.duckdb), read_only=True) as con:
        composites = con.execute(
            """select quarter, unit_code, ratee_code, rater_code, is_self_rating, composite_score
            from intermediate.int_rating_composites"""
        ).fetchall()
        built = con.execute(
            """select quarter, unit_code, ratee_code, rater_code, rater_tier, consensus_score, n_other_raters
            from quality.int_quality_ratings"""
        ).fetchall()
    # one value per rater of a ratee (its mean over tiers), self-ratings excluded
    rows: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for quarter, unit, ratee, rater, is_self, composite in composites:
        if not is_self:
            rows[(quarter, unit, ratee)][rater].append(composite)
    values = {key: {r: sum(v) / len(v) for r, v in raters.items()} for key, raters in rows.items()}
    assert built, "the tiny city has ratings"
    for quarter, unit, ratee, rater, _tier, consensus, n_other in built:
        expected = _loo_median(values.get((quarter, unit, ratee), {}), rater)
        n_expected = len(values.get((quarter, unit, ratee), {})) - (
            rater in values.get((quarter, unit, ratee), {})
        )
        assert n_other == n_expected, (quarter, unit, ratee, rater)
        if expected is None:
            assert consensus is None
        else:
            assert consensus == pytest.approx(expected), (quarter, unit, ratee, rater)
