"""The unit-level findings' statistics: the Python reference against scipy, and the dbt SQL macros (run by
DuckDB) against the Python reference."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pipelines.quality.unit_stats import (
    between_unit_sd,
    bh_q_values,
    empirical_null_p,
    normal_cdf,
    shrunk_scale,
)

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "unit_stats.sql"


def _macro_body(name: str) -> str:
    text = MACROS.read_text(encoding="utf-8")
    match = re.search(r"{%\s*macro " + name + r"\(x\)\s*-?%}(.*?){%-?\s*endmacro", text, re.S)
    assert match, name
    return match.group(1)


def _sql_normal_cdf(x: float) -> float:
    # Render the two macros by hand (no Jinja needed: they only substitute x and call _normal_tail).
    tail = _macro_body("_normal_tail").replace("{{ x }}", "x")
    body = _macro_body("normal_cdf").replace("{{ _normal_tail(x) }}", tail).replace("{{ x }}", "x")
    return float(duckdb.execute(f"select {body} from (select ?::double as x)", [x]).fetchone()[0])


@pytest.mark.parametrize("x", [-8.0, -3.2, -1.0, -0.1, 0.0, 0.4, 1.96, 3.0, 6.5])
def test_sql_normal_cdf_matches_scipy(x: float) -> None:
    assert _sql_normal_cdf(x) == pytest.approx(stats.norm.cdf(x), abs=1e-7)
    assert normal_cdf(x) == pytest.approx(stats.norm.cdf(x), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40))
def test_bh_matches_scipy(p: list[float]) -> None:
    np.testing.assert_allclose(bh_q_values(p), stats.false_discovery_control(p), atol=1e-12)


def test_sql_bh_matches_reference() -> None:
    """The window-function form of macros/unit_stats.sql, rendered for one partition, equals BH."""
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=30), [1e-5, 2e-4, 2e-4]])
    con = duckdb.connect()
    con.execute("create table t (k integer, p double)")
    con.executemany("insert into t values (?, ?)", [(k, float(v)) for k, v in enumerate(p)])
    q = con.execute(
        """
        with ranked as (
            select p, k, row_number() over (order by p, k) as bh_rank, count(*) over () as bh_tests
            from t
        )
        select least(1.0, min(p * bh_tests / bh_rank) over (
            order by p desc, k desc rows between unbounded preceding and current row)) as q, k
        from ranked order by k
        """
    ).fetchall()
    np.testing.assert_allclose([r[0] for r in q], bh_q_values(p), atol=1e-12)


def _honest_city(seed: int, units: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Fisher z of honest units of 10–59 people in a city whose typical rho is 0.43, units differing."""
    rng = np.random.default_rng(seed)
    n = rng.integers(10, 60, units)
    rho = np.tanh(rng.normal(math.atanh(0.43), 0.12, units))
    sv = 1.06 / (n - 3)
    return np.arctanh(rho) + rng.normal(0, np.sqrt(sv)), sv


def test_empirical_null_keeps_honest_cities_quiet_and_finds_a_reversed_unit() -> None:
    """Across 100 simulated honest cities, at most about α of them get any q < 0.05 (BH controls the
    family-wise rate under the complete null; τ is estimated, so allow a little over); a unit of 30 whose
    ratings run against the work (rho −0.6) is found in every one."""
    cities_with_alarm, found = 0, 0
    for seed in range(100):
        z, sv = _honest_city(seed)
        q = bh_q_values(empirical_null_p(np.append(z, math.atanh(-0.6)), np.append(sv, 1.06 / 27)))
        cities_with_alarm += bool((q[:-1] < 0.05).any())
        found += bool(q[-1] < 0.05)
    assert cities_with_alarm <= 15  # measured: 13 of 100 (docs/quality.md)
    assert found == 100


def test_between_unit_sd_recovers_the_city_spread() -> None:
    z, sv = _honest_city(1, units=2000)
    assert between_unit_sd(z, sv) == pytest.approx(0.12, abs=0.03)


def test_shrunk_scale_pulls_a_small_level_toward_the_city() -> None:
    assert shrunk_scale(0.5, 4, 1.5, 10) == pytest.approx(math.sqrt((4 * 0.25 + 10 * 2.25) / 14))
    assert shrunk_scale(0.0, 3, 0.0, 10) == 0.25  # a floor, never a division by zero


def test_average_rank_ties_scores_that_differ_only_in_the_last_bit() -> None:
    """macros/findings.sql's average_rank, rendered for one partition. A score one bit above another is
    what DuckDB's parallel sums give from one build to the next (23 such pairs within a unit on the
    city); it must rank as a tie, so a unit's Spearman rho is the same in two builds of the same data.
    Real differences keep their order."""
    text = (MACROS.parent / "findings.sql").read_text(encoding="utf-8")
    pattern = r"{%\s*macro average_rank\(value, partition_by\)\s*-?%}(.*?){%-?\s*endmacro"
    match = re.search(pattern, text, re.S)
    assert match
    expression = match.group(1).replace("{{ value }}", "v").replace("{{ partition_by }}", "g")
    noisy = math.nextafter(80.1, 100.0)  # 80.1 one bit up: what a sum in another order can give
    rows = [(1, 80.1), (2, noisy), (3, 79.0), (4, 80.2)]
    con = duckdb.connect()
    con.execute("create table t (k integer, g integer, v double)")
    con.executemany("insert into t values (?, 0, ?)", rows)
    ranks = dict(con.execute(f"select k, {expression} from t").fetchall())
    assert ranks == {3: 1.0, 1: 2.5, 2: 2.5, 4: 4.0}
