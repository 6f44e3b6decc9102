"""quality.fct_review_queue on the session's published city (16 units, 2025Q3..Q4, real Dagster jobs):
one row per finding-case, ranked by severity then confidence for every tested type (A1–A8 and U1–U3
alike; only U4, a rule without a test, has none), the queue's confidence the finding's own, U findings
carrying their p value, and in the analyst file aliased exactly like the findings themselves."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.publish.warehouse import layout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _published(city: Path) -> Path:
    return city / "warehouse" / "assessment.duckdb"


def test_queue_has_one_ranked_row_per_finding(published_city: Path) -> None:
    work = layout(_published(published_city).parent).work
    with duckdb.connect(str(work), read_only=True) as con:
        findings = con.execute("select count(*) from quality.fct_rating_findings").fetchone()[0]
        rows = con.execute(
            "select queue_rank, severity, confidence, code, p_value, q_value from quality.fct_review_queue "
            "order by queue_rank"
        ).fetchall()
        # the queue ranks by the finding's own confidence, not a second copy of it
        mismatched = con.execute(
            "select count(*) from quality.fct_review_queue q join quality.fct_rating_findings f "
            "on f.finding_id = q.case_id where q.confidence is distinct from f.confidence"
        ).fetchone()[0]
    assert mismatched == 0
    assert findings > 0 and len(rows) == findings
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    keys = [(SEVERITY_ORDER[r[1]], -(r[2] if r[2] is not None else -1.0)) for r in rows]
    assert keys == sorted(keys)  # severity first, then confidence (nulls last within a severity)
    codes = {r[3] for r in rows}
    assert codes - {"U4"}, "the city must give tested findings for the ranking to mean anything"
    for _, _, confidence, code, p, q in rows:
        if code == "U4":
            assert confidence is None and p is None and q is None
            continue
        assert 0.0 <= confidence <= 1.0 and q == pytest.approx(1.0 - confidence)
        if code in ("U1", "U2", "U3"):
            assert 0.0 <= p <= q + 1e-12  # BH q is never below its p
        else:
            assert p is None  # the rater tests keep their p inside their models


def test_published_queue_is_aliased_like_the_findings(published_city: Path) -> None:
    with duckdb.connect(str(_published(published_city)), read_only=True) as con:
        differing = con.execute(
            """
            select count(*) from quality.fct_review_queue q
            join quality.fct_rating_findings f on f.finding_id = q.case_id
            where q.rater_code is distinct from f.rater_code
               or q.rater_code_2 is distinct from f.rater_code_2
               or q.ratee_code is distinct from f.ratee_code
               or q.explanation_zh is distinct from f.explanation_zh
            """
        ).fetchone()[0]
        unmatched = con.execute(
            "select count(*) from quality.fct_review_queue q anti join quality.fct_rating_findings f "
            "on f.finding_id = q.case_id"
        ).fetchone()[0]
        aliased = con.execute(
            "select count(*) from quality.fct_review_queue where rater_code like 'R#%'"
        ).fetchone()[0]
        findings_aliased = con.execute(
            "select count(*) from quality.fct_rating_findings where rater_code like 'R#%'"
        ).fetchone()[0]
    assert differing == 0 and unmatched == 0
    assert aliased == findings_aliased
