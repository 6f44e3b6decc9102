"""The analyst export, county extracts and the publish audits on a small hand-built warehouse file."""

# ruff: noqa: E501 - the hand-built warehouse reads best as one row per line

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.publish import audit
from pipelines.publish.export import RATER_ALIAS_PREFIX, export_analyst_file, export_counties, stage_release
from pipelines.publish.warehouse import COUNTIES_NAME, PUBLISHED_NAME, layout

KEY = "test-alias-key"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    path = tmp_path / "build.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create schema staging; create schema intermediate; create schema marts; create schema quality;
            create table intermediate.int_rating_composites as select 'P1' as ratee_code, 88.0 as score;
            create view staging.stg_ratings as select * from intermediate.int_rating_composites;
            create table marts.dim_unit as select * from (values
                ('371602-X-001', '371602'), ('371602-X-002', '371602'), ('371621-X-001', '371621'))
                as t(unit_code, county_code);
            create table marts.dim_county as select * from (values ('371602', '滨城区'), ('371621', '惠民县'))
                as t(county_code, county_name);
            create table marts.fct_person_quarter as select * from (values
                ('2025Q3', 2025, '371602-X-001', 'P1', 'k1', 88.0, 90.0), ('2025Q3', 2025, '371602-X-002', 'P2', 'k2', 84.0, 85.0),
                ('2025Q3', 2025, '371621-X-001', 'P3', 'k3', 80.0, 80.0))
                as t(quarter, rules_year, unit_code, person_code, person_key, eval_score, quarter_score);
            create table marts.fct_county_compliance as select * from (values
                ('2025Q3', '371602', 0.9), ('2025Q3', '371621', 0.8)) as t(quarter, county_code, compliance_index);
            create table marts.fct_person_tier_score as select * from (values
                ('2025Q3', '371602-X-001', 'P1', '科室负责人', 2, 0.25, true, null::double),
                ('2025Q3', '371602-X-001', 'P1', '科室工作人员', 5, 0.20, false, 88.0),
                ('2025Q3', '371602-X-001', 'P1', '分管领导', 3, 0.30, false, 90.0))
                as t(quarter, unit_code, person_code, rater_tier, n_raters, tier_weight, is_suppressed, tier_mean_score);
            create table quality.fct_rating_findings as select * from (values
                ('A8', '371602-X-001', '科室工作人员', 'P7', null, 'P1', '评议人P7（科室工作人员）给P1的综合分58.0'),
                ('A7', '371602-X-001', '科室工作人员', 'P7', 'P8', null, 'P7与P8（科室工作人员）互评均高于对方绝大多数其他评议人，扣除各自对其他人的一贯打分高低后仍分别多给16.8分、17.5分（比中位分高15.5分、14.0分，q=0.0010），疑似互相抬分。'),
                ('A7', '371602-X-001', '科室工作人员', 'P7', 'P8', 'P1', 'P7与P8（科室工作人员）互评均高'),
                ('A6', '371602-X-001', '科室工作人员', 'P5', 'P6', null, '评议人P5与P6对5名共同被评议人中的4名五项打分相同（q=0.0005），疑似串通打分。'),
                ('A1', '371602-X-002', '科室负责人', 'P2', null, 'P2', '评议人P2给自己打分'),
                ('A8', '371621-X-001', '服务对象', 'F03', null, 'P3', '评议人F03（服务对象）给P3的综合分50.0'))
                as t(code, unit_code, rater_tier, rater_code, rater_code_2, ratee_code, explanation_zh);
            create table quality.fct_review_queue as select * from (values
                ('A8', '371602-X-001', '科室负责人', 'P9', null, 'P1', 'distance_from_consensus', -34.4::double, 25.0::double, 12, 1e-12::double, 1e-10::double, 1.0::double,
                 'distance_from_consensus = -34.400 (threshold 25.000); n = 12; BH q = 1e-10', '评议人P9（科室负责人）给P1的综合分51.8，与其他12名评议人的中位分86.2相差-34.4分，属离群评分（q=0.0000），请核实。'),
                ('A3', '371602-X-001', '科室负责人', 'P9', null, null, 'rater_residual_vs_pool', 7.5::double, 5.0::double, 8, 1e-5::double, 1e-3::double, 0.999::double,
                 'rater_residual_vs_pool = 7.500 (threshold 5.000); n = 8; BH q = 0.001', '评议人P9（科室负责人）给8名被评议人的分数普遍偏高（稳健平均差7.5分）'))
                as t(code, unit_code, rater_tier, rater_code, rater_code_2, ratee_code, metric, value, threshold, n,
                     p_value, q_value, confidence, evidence, explanation_zh);
            create table quality.fct_rater_leniency as select * from (values
                ('371602-X-001', 'P7', 2, 3.5, 1.0), ('371602-X-001', 'P8', 6, -1.0, 0.5))
                as t(unit_code, rater_code, n_ratees, leniency, leniency_se);
            """
        )
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_analyst_file_holds_only_marts_and_passes_every_audit(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "analyst.duckdb"
    counts = export_analyst_file(build, target, KEY)
    assert counts["marts.fct_person_quarter"] == 3
    assert "staging.stg_ratings" not in counts and "intermediate.int_rating_composites" not in counts
    assert audit.only_analyst_tables(target) == []
    assert audit.no_national_ids(target) == []
    assert audit.rater_anonymity(target) == []
    assert audit.only_analyst_tables(build) != []  # the audit does see staging views and intermediates


def test_named_raters_beside_a_ratee_get_a_keyed_alias(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "analyst.duckdb"
    export_analyst_file(build, target, KEY)
    rows = _rows(
        target,
        "select code, rater_code, rater_code_2, ratee_code, explanation_zh from quality.fct_rating_findings",
    )
    a8 = next(r for r in rows if r[0] == "A8" and r[3] == "P1")
    assert a8[1].startswith(RATER_ALIAS_PREFIX) and "P7" not in a8[4] and a8[1] in a8[4]
    # What that one rater gave P1 is not published (the auditor reads it privately by finding_id).
    assert "58.0" not in a8[4] and a8[4].endswith("综合分（已隐去）")
    a7 = next(r for r in rows if r[0] == "A7" and r[3] == "P1")
    assert a7[1].startswith(RATER_ALIAS_PREFIX) and a7[2].startswith(RATER_ALIAS_PREFIX)
    assert "P7" not in a7[4] and "P8" not in a7[4]
    assert a7[1] == a8[1]  # the same rater keeps the same alias within the unit
    # The pair's row as dbt writes it has no ratee: each rater is the other's. Both get an alias and what
    # they gave each other (the excess, the distance, q) is withheld.
    pair = next(r for r in rows if r[0] == "A7" and r[3] is None)
    assert pair[1] == a8[1] and pair[2] == a7[2] and "P7" not in pair[4] and "P8" not in pair[4]
    assert "16.8" not in pair[4] and "0.0010" not in pair[4] and "（已隐去）分、（已隐去）分" in pair[4]
    # Collusion (A6) ties two raters to each other, not to what either gave anyone: codes and q stay.
    a6 = next(r for r in rows if r[0] == "A6")
    assert (a6[1], a6[2]) == ("P5", "P6") and "q=0.0005" in a6[4]
    assert next(r for r in rows if r[0] == "A1")[1] == "P2"  # a self-rating reveals nobody else's rating
    assert next(r for r in rows if r[3] == "P3")[1] == "F03"  # 服务对象 codes are anonymous already
    assert next(r for r in rows if r[3] == "P3")[4].endswith("50.0")  # an anonymous rater's score stays
    other = tmp_path / "other.duckdb"
    export_analyst_file(build, other, "another-key")
    assert (
        _rows(
            other,
            "select rater_code from quality.fct_rating_findings where code = 'A8' and ratee_code = 'P1'",
        )[0][0]
        != a8[1]
    )


def test_leniency_over_fewer_than_three_ratees_is_withheld(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "analyst.duckdb"
    export_analyst_file(build, target, KEY)
    assert _rows(target, "select rater_code, leniency from quality.fct_rater_leniency order by 1") == [
        ("P7", None),
        ("P8", -1.0),
    ]


def test_a_county_extract_holds_only_its_county(build: Path, tmp_path: Path) -> None:
    analyst = tmp_path / "analyst.duckdb"
    export_analyst_file(build, analyst, KEY)
    counts = export_counties(analyst, tmp_path / "counties")
    assert sorted(counts) == ["371602", "371621"]  # every county of dim_unit
    target = tmp_path / "counties" / "371602.duckdb"
    assert counts["371602"]["marts.fct_person_quarter"] == len(
        _rows(target, "select * from marts.fct_person_quarter")
    )
    assert audit.county_extract_problems(target, "371602") == []
    assert {r[0] for r in _rows(target, "select unit_code from marts.fct_person_quarter")} == {
        "371602-X-001",
        "371602-X-002",
    }
    assert _rows(target, "select county_code from marts.fct_county_compliance") == [("371602",)]
    assert audit.county_extract_problems(target, "371621") != []  # the check can fail
    assert audit.rater_anonymity(target) == []


def test_the_audits_catch_a_leak(build: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(build)) as con:
        con.execute(
            "update marts.fct_person_quarter set person_code = '37160219900307123X' where person_code = 'P1'"
        )
        con.execute("update marts.fct_person_tier_score set tier_mean_score = 91.0 where n_raters = 2")
        con.execute("update marts.fct_person_tier_score set is_suppressed = false where n_raters = 2")
    target = tmp_path / "analyst.duckdb"
    export_analyst_file(build, target, KEY)
    assert audit.no_national_ids(target) == [
        "marts.fct_person_quarter.person_code: 1 values hold a national ID"
    ]
    assert audit.rater_anonymity(target) == [
        "marts.fct_person_tier_score: 1 tier means over fewer than 3 raters"
    ]
    assert audit.rater_anonymity(build)[:4] == [
        "quality.fct_rating_findings: 3 rows name an internal rater beside a ratee",
        "quality.fct_rating_findings: 2 rows show the score a named rater gave a ratee",
        "quality.fct_review_queue: 1 rows name an internal rater beside a ratee",
        "quality.fct_review_queue: 1 rows show the score a named rater gave a ratee",
    ]


def test_the_review_queue_keeps_a_named_raters_case_but_not_the_score(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "analyst.duckdb"
    export_analyst_file(build, target, KEY)
    rows = _rows(
        target,
        "select code, rater_code, value, p_value, q_value, confidence, threshold, n, evidence, explanation_zh "
        "from quality.fct_review_queue order by code desc",
    )
    a8, a3 = rows
    assert a8[1].startswith(RATER_ALIAS_PREFIX) and a8[2:6] == (None, None, None, None)
    assert a8[6:9] == (25.0, 12, "distance_from_consensus = （已隐去）; n = 12")
    assert "34.4" not in a8[9] and "P9" not in a8[9] and "12名" in a8[9]
    # A rater-only finding (A3) names no ratee: the rater's code and every figure stay.
    assert a3[1:6] == ("P9", 7.5, 1e-5, 1e-3, 0.999) and a3[8].startswith("rater_residual_vs_pool = 7.500")


def test_stage_release_writes_every_county_and_a_manifest(build: Path, tmp_path: Path) -> None:
    lay = layout(tmp_path / "warehouse")
    release = stage_release(build, lay, label="abc", alias_key=KEY)
    assert (release / PUBLISHED_NAME).exists()
    assert sorted(p.name for p in (release / COUNTIES_NAME).iterdir()) == ["371602.duckdb", "371621.duckdb"]
    assert not lay.published.exists()  # staged, not published
    # written without DuckDB's syncs, but every file complete with no log beside it: publish_release refuses
    # a file with a log, and analysts open these read-only
    assert list(release.rglob("*.wal")) == []
    assert _rows(
        release / COUNTIES_NAME / "371602.duckdb", "select count(*) from marts.fct_person_quarter"
    ) == [(2,)]


def test_the_export_adds_complementary_suppression(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "analyst.duckdb"
    export_analyst_file(build, target, KEY)
    rows = _rows(
        target,
        "select rater_tier, tier_mean_score, suppression from marts.fct_person_tier_score order by rater_tier",
    )
    # P1's 科室负责人 mean (2 raters) would follow from eval_score 88.0 and the two published tiers: the
    # heavier of them (分管领导) is withheld beside it; eval and quarter scores stay published.
    assert rows == [
        ("分管领导", None, "complementary"),
        ("科室工作人员", 88.0, None),
        ("科室负责人", None, "fewer_than_3_raters"),
    ]
    assert _rows(
        target, "select eval_score, quarter_score from marts.fct_person_quarter where person_code = 'P1'"
    ) == [(88.0, 90.0)]
    assert audit.rater_anonymity(target) == []
    # The blocking audit sees the exposure in the build (primary suppression only).
    assert "marts.fct_person_tier_score: 1 withheld tier means follow from a published score" in (
        audit.rater_anonymity(build)
    )


def test_the_blocking_checks_read_each_staged_file_as_itself(build: Path, tmp_path: Path) -> None:
    """check_release attaches every file to one DuckDB and runs the checks there: a leak planted in one
    county extract is reported for that file only, and the analyst file's own problems for it."""
    from pipelines.defs.publish.assets import check_release

    with duckdb.connect(str(build)) as con:  # the last table a release requires
        con.execute("create table marts.fct_unit_quarter as select unit_code, 'x' as q from marts.dim_unit")
    release = stage_release(build, layout(tmp_path / "warehouse"), label="abc", alias_key=KEY)
    assert check_release(release) == {
        "only_analyst_tables": [],
        "no_national_ids_published": [],
        "rater_anonymity": [],
        "county_extracts_hold_only_their_county": [],
    }
    with duckdb.connect(str(release / COUNTIES_NAME / "371621.duckdb")) as con:
        con.execute("insert into marts.dim_unit values ('371602-X-009', '371602')")
        con.execute("update marts.fct_person_quarter set person_code = '37160219900307123X'")
    with duckdb.connect(str(release / PUBLISHED_NAME)) as con:
        con.execute("create view marts.fct_leak as select * from marts.dim_unit")
    found = check_release(release)
    assert found["county_extracts_hold_only_their_county"] == [
        "371621.duckdb: 1 units of another county in dim_unit"
    ]
    assert found["no_national_ids_published"] == [
        "marts.fct_person_quarter.person_code: 1 values hold a national ID"
    ]
    assert found["only_analyst_tables"] == ["marts.fct_leak (VIEW) is not an analyst table"]
    assert found["rater_anonymity"] == []


def test_each_row_reaches_exactly_its_countys_extract_when_counties_interleave(tmp_path: Path) -> None:
    """The county copy narrows by the range of the county's unit codes before the exact list: a county
    whose codes interleave with another's (371602's range spans 371621's unit here) still gets exactly
    its own rows, and every row of the analyst file lands in one extract."""
    build = tmp_path / "build.duckdb"
    with duckdb.connect(str(build)) as con:
        con.execute(
            """
            create schema marts;
            create table marts.dim_unit as select * from (values
                ('370000-A-001', '371602'), ('370000-A-002', '371621'), ('370000-A-003', '371602'),
                ('370000-A-004', '371621'), ('370000-A-005', '371602'))
                as t(unit_code, county_code);
            create table marts.fct_person_quarter as
                select '2025Q3' as quarter, u.unit_code, 'P' || range as person_code, range * 1.5 as quarter_score
                from marts.dim_unit as u cross join range(300) order by random();
            """
        )
    analyst = tmp_path / "analyst.duckdb"
    export_analyst_file(build, analyst, KEY)
    counts = export_counties(analyst, tmp_path / "counties")
    everything = _rows(analyst, "select * from marts.fct_person_quarter order by all")
    by_county: list[tuple] = []
    for county, units in (
        ("371602", {"370000-A-001", "370000-A-003", "370000-A-005"}),
        ("371621", {"370000-A-002", "370000-A-004"}),
    ):
        mine = _rows(
            tmp_path / "counties" / f"{county}.duckdb", "select * from marts.fct_person_quarter order by all"
        )
        assert mine == [row for row in everything if row[1] in units]
        assert counts[county]["marts.fct_person_quarter"] == len(mine)
        by_county += mine
    assert sorted(by_county) == everything
    # the analyst file keeps the rows in unit order (what lets a county's copy skip row groups)
    stored = _rows(analyst, "select unit_code from marts.fct_person_quarter")
    assert [r[0] for r in stored] == sorted(r[0] for r in stored)
