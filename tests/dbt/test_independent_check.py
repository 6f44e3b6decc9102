"""The issue's independent check: generate a small city, ingest it, `dbt build`, then recompute Q and
grades in plain Python from the raw Parquet (tests/dbt/independent_scoring.py, written from rules.md)
and compare with marts.fct_person_quarter to 1e-9.

One unit per base method (the smallest generated unit of each), every quarter of the year.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.domain.rules import load_rules
from tests.conftest import SMALL_QUARTERS
from tests.dbt.conftest import build_warehouse, point_at
from tests.dbt.independent_scoring import score_unit

TOL = 1e-9

ingest_run = pytest.importorskip(
    "pipelines.ingest.run", reason="ingestion (pipelines.ingest.run) not available"
)


def _close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= TOL


@pytest.mark.slow
def test_generated_city_scores_match_an_independent_recomputation(
    small_city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(small_city / "landing", tmp_path / "landing")
    database = point_at(monkeypatch, tmp_path)
    # Parse inline: this test is about the numbers, not ingestion's worker isolation.
    settings = ingest_run.IngestSettings(workers=0)
    for quarter in SMALL_QUARTERS:
        ingest_run.ingest_quarter(quarter, settings)
    build_warehouse()

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
