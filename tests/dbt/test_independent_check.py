"""The issue's independent check: generate a small city, ingest it, `dbt build`, then recompute Q and
grades in plain Python from the raw Parquet (tests/dbt/independent_scoring.py, written from rules.md)
and compare with marts.fct_person_quarter to 1e-9.

One unit per base method (the smallest generated unit of each), every quarter of the year. The same
build checks that the Python quality assets, which read the rating composite from dbt
(int_rating_composites), get what the rules-§3 composite computed from the raw ratings gives them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.defs.quality.assets import (
    fair_scores_frame,
    leniency_frame,
    quarter_ratings,
    reliability_frame,
)
from pipelines.domain.rules import load_rules
from tests.conftest import SMALL_QUARTERS
from tests.dbt.conftest import build_warehouse, point_at
from tests.dbt.independent_scoring import score_unit

# The tests share a module-scoped fixture and the session's small_city: keep them on one xdist worker
# with the other module that uses small_city, so each is built once.
pytestmark = pytest.mark.xdist_group("small_city")

TOL = 1e-9

ingest_run = pytest.importorskip(
    "pipelines.ingest.run", reason="ingestion (pipelines.ingest.run) not available"
)


def _close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= TOL


@pytest.fixture(scope="module")
def built_city(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The small city ingested and built by dbt: (data dir, DuckDB file)."""
    root = tmp_path_factory.mktemp("independent_city")
    shutil.copytree(small_city / "landing", root / "landing")
    with pytest.MonkeyPatch.context() as mp:
        database = point_at(mp, root)
        # Parse inline: this test is about the numbers, not ingestion's worker isolation.
        settings = ingest_run.IngestSettings(workers=0)
        for quarter in SMALL_QUARTERS:
            ingest_run.ingest_quarter(quarter, settings)
        build_warehouse()
        yield root, database


@pytest.mark.slow
def test_generated_city_scores_match_an_independent_recomputation(built_city: tuple[Path, Path]) -> None:
    tmp_path, database = built_city
    rules = load_rules(2025)
    with duckdb.connect(str(database), read_only=True) as con:
        chosen = con.execute(
            """select base_method, arg_min(unit_code, n) as unit_code
            from (
                select base_method, unit_code, count(*) as n from marts.fct_person_quarter
                where is_participant group by all
            ) group by base_method order by base_method"""
        ).fetchall()
        assert {method for method, _ in chosen} == {
            "uniform",
            "workload_weighted",
            "section_coefficient",
            "category_peer",
        }
        checked = 0
        for method, unit in chosen:
            for q in SMALL_QUARTERS:
                rows = con.execute(
                    """select person_code, planned_points, earned_points, task_score, eval_score,
                        quarter_score, computed_grade
                    from marts.fct_person_quarter
                    where quarter = ? and unit_code = ? and is_participant""",
                    [q.key, unit],
                ).fetchall()
                got = {r[0]: r[1:] for r in rows}
                want = score_unit(tmp_path / "raw", q.key, unit, method, rules)
                assert set(got) == set(want), (q.key, unit)
                for person, expected in want.items():
                    t, e, s_task, s_eval, score, grade = got[person]
                    where = (q.key, unit, method, person)
                    assert _close(t, expected.planned), where
                    assert _close(e, expected.earned), where
                    assert _close(s_task, expected.task_score), where
                    assert _close(s_eval, expected.eval_score), where
                    assert _close(score, expected.quarter_score), where
                    assert grade == expected.grade, where
                    checked += 1
    assert checked > 50


def raw_composites(raw: Path, quarter: str) -> pl.DataFrame:
    """Non-self ratings with Σ dimension weight × score (rules §3), straight from raw/ratings."""
    weights = load_rules(int(quarter[:4])).evaluation.dimension_weights
    frame = pl.read_parquet(raw / "ratings" / f"{quarter}.parquet")
    composite = sum(pl.col(d).cast(pl.Float64) * float(w) for d, w in weights.items())
    keys = ("quarter", "unit_code", "ratee_code", "rater_tier", "rater_code")
    return frame.filter(pl.col("rater_code") != pl.col("ratee_code")).select(
        *(pl.col(k).cast(pl.String) for k in keys), composite.alias("composite")
    )


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    # text keys first, then the numbers (a tie-breaker only for repeated keys)
    order = sorted(got.columns, key=lambda c: got.schema[c] != pl.String)
    got, want = got.sort(order, nulls_last=True), want.select(got.columns).sort(order, nulls_last=True)
    assert_frame_equal(got, want, check_exact=False, rel_tol=0, abs_tol=1e-12)


@pytest.mark.slow
def test_quality_assets_get_the_same_numbers_from_dbts_composite(built_city: tuple[Path, Path]) -> None:
    """Reliability, leniency and fair scores from int_rating_composites equal those from the raw
    ratings' composite (how the assets computed it before the composite moved to dbt) to 1e-12."""
    root, database = built_city
    for q in SMALL_QUARTERS:
        from_dbt, from_raw = quarter_ratings(database, q.key), raw_composites(root / "raw", q.key)
        assert from_dbt.height > 1000, q.key
        _same(from_dbt, from_raw)
        _same(reliability_frame(from_dbt), reliability_frame(from_raw))
        leniency = leniency_frame(from_dbt)
        _same(leniency, leniency_frame(from_raw))
        _same(fair_scores_frame(from_dbt, leniency, q.key), fair_scores_frame(from_raw, leniency, q.key))
