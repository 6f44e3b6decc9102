"""The report's headline on a hand-made published file: the same findings as its chart, ties named."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import analysis as an
from pipelines.report import charts


def _published(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create schema marts; create schema quality;
            create table marts.fct_unit_quarter as select * from (values
                ('2025Q4', 'U1', true, true, 10, 10, 4, 10, 1, true))
                as t(quarter, unit_code, has_accepted_submission, is_on_time, n_participants, n_scored,
                     n_computed_good, n_participants_with_indicator, n_high_findings, is_quota_compliant);
            create table marts.fct_county_compliance as select * from (values
                ('2025Q4', '371602', '滨城区', 80.0, 1), ('2025Q4', '371621', '惠民县', 60.0, 2),
                ('2025Q4', '371625', '博兴县', 0.0, 3), ('2025Q4', '371681', '邹平市', 0.0, 3),
                ('2025Q4', '371623', '无棣县', 0.0, 3))
                as t(quarter, county_code, county_name, compliance_index, county_rank);
            create table quality.fct_rating_findings as select * from (values
                ('A8', 'outlier_rating', 'low', '2025Q4', '2025Q4'),
                ('A1', 'self_rating', 'high', '2025Q4', '2025Q4'),
                ('U1', 'grade_rotation', 'high', null, '2025'),
                ('U4', 'proposed_grade_gaming', 'medium', null, '2025'),
                ('A8', 'outlier_rating', 'low', '2025Q3', '2025Q3'))
                as t(code, type, severity, quarter, period);
            """
        )
    return path


def test_the_headline_counts_the_findings_its_chart_shows_and_names_tied_counties(tmp_path: Path) -> None:
    """A probe's report said 39 findings, 4 high, beside a chart of 42 and 5 (the year's U1/U4), and
    named 邹平市 last where three counties shared the last place."""
    with an.connect(_published(tmp_path / "assessment.duckdb")) as con:
        h = charts.headline(con, "2025Q4")
        chart = charts.findings_by_type(con, "2025Q4")
    assert (h["n_findings"], h["n_high_findings"]) == (4, 2)
    assert h["n_findings"] == chart["n_findings"].sum()
    assert h["best_county"] == "滨城区"
    assert h["worst_county"] == "无棣县、博兴县、邹平市并列"  # by county code
    assert h["county_ranking"] == "滨城区排名第一，无棣县、博兴县、邹平市并列排名末位"


def test_when_every_county_shares_the_rank_the_headline_says_so_once(tmp_path: Path) -> None:
    """A probe's quarter with no accepted county unit: every county at index 0.0 was named both "tied
    first" and "tied last" in one sentence."""
    path = _published(tmp_path / "assessment.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("update marts.fct_county_compliance set compliance_index = 0.0, county_rank = 1")
    with an.connect(path) as con:
        assert charts.headline(con, "2025Q4")["county_ranking"] == "各县(市区)指数相同，并列第一"
