"""The real `dbt build` on hand-made raw tables, checked against figures worked out by hand from
rules.md (not from the models). The tiny city (tests/dbt/raw_fixtures.py) repeats one quarter:

Unit 371602-X-001 (uniform, 滨城区): tasks T1 (i3 d2 n2 → 2·1.5·1.25 = 3.75; lead P1, assistants P2, P3),
T2 (n4, 滞后 → factor 0.5, P2 alone), T3 unassigned. T: P1 0.6·3.75 = 2.25, P2 0.2·3.75 + 4 = 4.75,
P3 0.75; E: 2.25, 0.75 + 2 = 2.75, 0.75.
Ratings (all five dimensions equal, so composite = that score): P1 分管领导 90 (+ a self-rating, excluded);
P2 分管领导 80, 科室负责人 70; P3 分管领导 95 and five 科室工作人员 100, 90, 80, 70, 20 (trimmed to 80).
Adjustments: P1 +3 +4 → +5; P2 −6 −6 → −10.
Unit 371600-S-001 (category_peer, 市直): E of Q1..Q4 = 1, 2, 2, 4; Q1–Q3 are 综合管理 (a group of 3),
Q4 行政执法 (a group of one, merged with the unit's four); Q5 has no task and no rating.
Unit 371602-X-002 never submits.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.defs.dbt.resources import dbt_resource
from pipelines.domain.rules import load_rules
from pipelines.ingest.schema import empty
from pipelines.warehouse_summary import summary
from tests.dbt.conftest import RULES_2026_VERSION, Warehouse, build_warehouse, point_at
from tests.dbt.raw_fixtures import U1, U3

# The tiny warehouse is built once per session by the worker that runs this group (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("tiny_warehouse")

KEPT_VIEW = "view unchanged, kept"  # the result message of a kept view (macros/views.sql)

TOL = 1e-9


def query(path: Path, sql: str, params: list[object] | None = None) -> list[dict[str, object]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def person_quarter(path: Path, quarter: str) -> dict[tuple[str, str], dict[str, object]]:
    rows = query(path, "select * from marts.fct_person_quarter where quarter = ?", [quarter])
    return {(r["unit_code"], r["person_code"]): r for r in rows}  # type: ignore[misc]


# --- hand-computed figures (rules.md §1–4) -------------------------------------------------------

S_TASK_P2 = 100 * 2.75 / 4.75
S_EVAL_P2 = (0.30 * 80 + 0.25 * 70) / (0.30 + 0.25)
S_EVAL_P3 = (0.30 * 95 + 0.20 * (90 + 80 + 70) / 3) / (0.30 + 0.20)
EXPECTED_Q1 = {
    # person: (T, E, S_task, S_eval, A, Q, grade)
    (U1, "P1"): (2.25, 2.25, 100.0, 90.0, 5.0, 0.4 * 100 + 0.6 * 90 + 5, "好"),
    (U1, "P2"): (4.75, 2.75, S_TASK_P2, S_EVAL_P2, -10.0, 0.4 * S_TASK_P2 + 0.6 * S_EVAL_P2 - 10, "较差"),
    # 93.4 is in the 好 band, but the unit's cap is max(1, floor(0.4·3)) = 1 and P1 ranks first.
    (U1, "P3"): (0.75, 0.75, 100.0, S_EVAL_P3, 0.0, 0.4 * 100 + 0.6 * S_EVAL_P3, "较好"),
    # category_peer: 综合管理 group E 1, 2, 2 → percent_rank 0, 1/2, 1/2 → 60, 80, 80; Q4 ranks among
    # all four (E 4 is the top) → 100. Q2 has 分管领导 85 and 科室负责人 85.
    (U3, "Q1"): (1.0, 1.0, 60.0, 90.0, 0.0, 0.4 * 60 + 0.6 * 90, "一般"),
    (U3, "Q2"): (2.0, 2.0, 80.0, 85.0, 0.0, 0.4 * 80 + 0.6 * 85, "较好"),
    (U3, "Q3"): (2.0, 2.0, 80.0, 85.0, 0.0, 0.4 * 80 + 0.6 * 85, "较好"),
    (U3, "Q4"): (4.0, 4.0, 100.0, 80.0, 0.0, 0.4 * 100 + 0.6 * 80, "较好"),
}


def test_quarterly_scores_and_grades_match_hand_computation(tiny_warehouse: Warehouse) -> None:
    rows = person_quarter(tiny_warehouse.duckdb, "2025Q1")
    for key, (t, e, s_task, s_eval, a, q, grade) in EXPECTED_Q1.items():
        row = rows[key]
        assert row["planned_points"] == pytest.approx(t, abs=TOL), key
        assert row["earned_points"] == pytest.approx(e, abs=TOL), key
        assert row["task_score"] == pytest.approx(s_task, abs=TOL), key
        assert row["eval_score"] == pytest.approx(s_eval, abs=TOL), key
        assert row["adjustment_points"] == pytest.approx(a, abs=TOL), key
        assert row["quarter_score"] == pytest.approx(q, abs=TOL), key
        assert row["computed_grade"] == grade, key
    assert rows[(U1, "P1")]["n_self_ratings"] == 1
    assert rows[(U1, "P3")]["is_quota_demoted"] is True
    # Q5: a participant without tasks (S_task 0, counted against coverage) and without any rating.
    q5 = rows[(U3, "Q5")]
    assert (q5["task_score"], q5["eval_score"], q5["quarter_score"]) == (0.0, None, None)
    assert (q5["computed_grade"], q5["has_indicator"], q5["is_scored"]) == ("未评定", False, False)
    # P4 is listed but does not take part: no scores, no grade.
    p4 = rows[(U1, "P4")]
    assert (p4["is_participant"], p4["computed_grade"], p4["task_score"]) == (False, None, None)
    # Coverage: P3 lacks a 科室负责人 rating; Q4 and Q5 lack one too (non-heads).
    assert {k for k, r in rows.items() if r["is_participant"] and not r["meets_required_tiers"]} == {
        (U1, "P3"),
        (U3, "Q4"),
        (U3, "Q5"),
    }
    # Agreement with the unit's own proposals: P1 好 = 好; P2 一般 ≠ 较差; P3 好 ≠ 较好.
    assert [rows[(U1, p)]["is_grade_agreed"] for p in ("P1", "P2", "P3")] == [True, False, False]


def test_units_tasks_and_county_compliance(tiny_warehouse: Warehouse) -> None:
    units = {
        r["unit_code"]: r
        for r in query(tiny_warehouse.duckdb, "select * from marts.fct_unit_quarter where quarter = '2025Q1'")
    }
    assert {u: r["submission_status"] for u, r in units.items()} == {
        U1: "on_time",
        "371602-X-002": "missing",
        U3: "late",
    }
    assert (units[U1]["top_quota_cap"], units[U1]["n_proposed_good"], units[U1]["is_quota_compliant"]) == (
        1,
        2,
        False,
    )
    assert units[U3]["is_quota_compliant"] is None  # proposed nothing
    tasks = query(
        tiny_warehouse.duckdb,
        """select task_code, task_weight, is_assigned from marts.fct_task_quarter
        where quarter = '2025Q1' and unit_code = ?""",
        [U1],
    )
    assert {(t["task_code"], t["task_weight"], t["is_assigned"]) for t in tasks} == {
        ("T1", 3.75, True),
        ("T2", 4.0, True),
        ("T3", 1.0, False),
    }
    county = {
        r["county_code"]: r
        for r in query(
            tiny_warehouse.duckdb, "select * from marts.fct_county_compliance where quarter = '2025Q1'"
        )
    }
    binzhou = county["371602"]  # units X-001 (on time) and X-002 (missing, counts as zero)
    assert binzhou["submission_rate"] == pytest.approx(0.5)
    assert binzhou["on_time_rate"] == pytest.approx(0.5)
    assert binzhou["task_assignment_rate"] == pytest.approx(2 / 3)
    assert binzhou["staff_coverage_rate"] == pytest.approx(1.0)
    assert binzhou["rating_coverage_rate"] == pytest.approx(2 / 3)
    assert binzhou["quota_compliance_rate"] == pytest.approx(0.0)
    assert binzhou["grade_agreement_rate"] == pytest.approx(1 / 3)
    # One high finding (A1: P1 rated themself) over 3 participants;
    # the anomaly term is 1 − min(1, 33.3/10) = 0.
    assert binzhou["n_high_findings"] == 1
    assert binzhou["anomaly_rate"] == pytest.approx(100 / 3)
    index = 100 * (0.2 * 0.5 + 0.2 * 1 + 0.2 * 2 / 3 + 0.15 * 0 + 0.1 * 1 / 3 + 0.15 * 0) / 1.0
    assert binzhou["compliance_index"] == pytest.approx(index, abs=TOL)
    assert binzhou["county_rank"] == 1
    municipal = county["371600"]  # late, 4 of 5 with tasks, 3 of 5 covered, no proposals
    index = 100 * (0.2 * 0 + 0.2 * 0.8 + 0.2 * 0.6 + 0.15 * 1) / (0.2 + 0.2 + 0.2 + 0.15)
    assert (municipal["quota_compliance_rate"], municipal["grade_agreement_rate"]) == (None, None)
    assert municipal["compliance_index"] == pytest.approx(index, abs=TOL)
    assert municipal["county_rank"] is None


def test_annual_results_match_hand_computation(tiny_warehouse: Warehouse) -> None:
    rows = {
        r["person_key"]: r
        for r in query(tiny_warehouse.duckdb, "select * from marts.fct_person_year where rules_year = 2025")
    }
    p1, p2, p3 = (rows[f"key-{U1}-P{i}"] for i in range(1, 4))
    # U1 declares 0.5 in Q4: a breach, 0.6 is applied.
    assert (p1["declared_regular_share"], p1["applied_regular_share"], p1["is_regular_share_breach"]) == (
        0.5,
        0.6,
        True,
    )
    # P1: Q 99 every quarter, 好 ×4, year-end 80 → 0.6·99 + 0.4·80 = 91.4; the only candidate → 优秀.
    assert p1["annual_score"] == pytest.approx(0.6 * 99 + 0.4 * 80, abs=TOL)
    assert p1["annual_grade"] == "优秀"
    # P2: 较差 every quarter and no year-end score → regular_avg alone, flagged; 不称职.
    assert p2["annual_score"] == pytest.approx(0.4 * S_TASK_P2 + 0.6 * S_EVAL_P2 - 10, abs=TOL)
    assert (p2["is_year_end_missing"], p2["annual_grade"]) == (True, "不称职")
    # P3: 92.04 but never 好 (always demoted by the quota) → not a candidate → 称职.
    q3 = 0.4 * 100 + 0.6 * S_EVAL_P3
    assert p3["annual_score"] == pytest.approx(0.6 * q3 + 0.4 * 90, abs=TOL)
    assert (p3["is_excellent_candidate"], p3["annual_grade"]) == (False, "称职")
    # P4 (the leader) is listed every quarter but never takes part: no annual result at all.
    assert f"key-{U1}-P4" not in rows
    assert rows[f"key-{U3}-Q1"]["annual_grade"] == "称职"  # 78 with 一般 every quarter
    assert rows[f"key-{U3}-Q5"]["annual_status"] == "insufficient"
    years = {
        r["county_code"]: r
        for r in query(
            tiny_warehouse.duckdb, "select * from marts.fct_county_compliance_year where rules_year = 2025"
        )
    }
    assert years["371602"]["regular_share_compliance"] == 0.0  # X-001 breaches, X-002 is missing
    assert years["371600"]["regular_share_compliance"] == 1.0  # declared nothing: the default applies
    assert (
        query(
            tiny_warehouse.duckdb, "select count(*) as n from marts.fct_person_year where rules_year = 2026"
        )[0]["n"]
        == 0
    )


def test_each_year_uses_its_own_rules(tiny_warehouse: Warehouse) -> None:
    rows = person_quarter(tiny_warehouse.duckdb, "2026Q1")
    rules_2025 = load_rules(2025)
    rules_2026 = load_rules(2026, tiny_warehouse.rules_dir)
    # 2026: Q = 0.5·S_task + 0.5·S_eval + A.
    assert rows[(U1, "P3")]["quarter_score"] == pytest.approx(0.5 * 100 + 0.5 * S_EVAL_P3, abs=TOL)
    assert rows[(U1, "P2")]["quarter_score"] == pytest.approx(0.5 * S_TASK_P2 + 0.5 * S_EVAL_P2 - 10, abs=TOL)
    assert rows[(U1, "P1")]["quarter_score"] == 100.0  # 50 + 45 + 5 = 100
    for table in ("fct_person_quarter", "fct_task_quarter", "fct_unit_quarter", "fct_county_compliance"):
        provenance = query(
            tiny_warehouse.duckdb,
            f"select distinct rules_year, rules_version, rules_fingerprint from marts.{table} order by 1",
        )
        assert provenance == [
            {"rules_year": 2025, "rules_version": "2025", "rules_fingerprint": rules_2025.fingerprint},
            {
                "rules_year": 2026,
                "rules_version": RULES_2026_VERSION,
                "rules_fingerprint": rules_2026.fingerprint,
            },
        ], table


def test_summary_reports_status_scores_grades_and_counties(tiny_warehouse: Warehouse) -> None:
    text = summary(tiny_warehouse.duckdb)
    assert "2025Q1" in text and "units by status: on_time 1, late 1, missing 1" in text
    assert "persons scored: 7 of 8 participants" in text
    assert "grades: 好 1, 较好 4, 一般 1, 较差 1, 未评定 1" in text
    assert "compliance top 1: 滨城区 46.7" in text
    assert "2025 annual grades: 优秀 1, 称职 5, 不称职 1, insufficient 1" in text


MART_KEYS = {
    "fct_person_quarter": "quarter, unit_code, person_code",
    "fct_task_quarter": "quarter, unit_code, task_code",
    "fct_unit_quarter": "quarter, unit_code",
    "fct_county_compliance": "quarter, county_code",
    "fct_person_year": "rules_year, person_key",
    "fct_county_compliance_year": "rules_year, county_code",
}


def mart_frames(path: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: pl.from_arrow(con.sql(f"select * from marts.{t} order by {k}").to_arrow_table())
            for t, k in MART_KEYS.items()
        }


def test_rebuilding_one_quarter_equals_a_full_rebuild(
    tiny_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrected 2025Q2 arrives: U1 withdrew all adjustments (an empty adjustments file). Rebuilding
    partition 2025Q2 in place must give exactly what a from-scratch build of the same raw data gives."""
    incremental = tmp_path / "incremental"
    shutil.copytree(tiny_warehouse.data_dir, incremental)
    empty("adjustments").write_parquet(incremental / "raw" / "adjustments" / "2025Q2.parquet")
    point_at(monkeypatch, incremental)
    # the dbt unit tests ran in the fixture's build: they check the SQL on fixed inputs, not this data
    without_unit_tests = ("build", "--exclude-resource-type", "unit_test")
    build_warehouse(quarter="2025Q2", rules_dir=tiny_warehouse.rules_dir, args=without_unit_tests)

    fresh = tmp_path / "fresh"
    shutil.copytree(incremental / "raw", fresh / "raw")
    shutil.copytree(incremental / "registry", fresh / "registry")
    point_at(monkeypatch, fresh)
    build_warehouse(rules_dir=tiny_warehouse.rules_dir, args=("run",))  # models only: tested above

    got, want = (
        mart_frames(incremental / "warehouse" / "build.duckdb"),
        mart_frames(fresh / "warehouse" / "build.duckdb"),
    )
    for table in MART_KEYS:
        # Floats to 1e-12: DuckDB's parallel aggregates may add in another order (e.g. the mean of four
        # quarterly indices differs in the last bit); everything else must be identical.
        assert_frame_equal(got[table], want[table], check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    q2 = person_quarter(incremental / "warehouse" / "build.duckdb", "2025Q2")
    assert q2[(U1, "P1")]["quarter_score"] == pytest.approx(0.4 * 100 + 0.6 * 90, abs=TOL)  # no +5 now
    assert q2[(U1, "P2")]["computed_grade"] == "一般"  # no −10 now
    q1 = person_quarter(incremental / "warehouse" / "build.duckdb", "2025Q1")
    assert q1[(U1, "P1")]["quarter_score"] == pytest.approx(99.0, abs=TOL)  # other quarters untouched
    year = {
        r["person_key"]: r
        for r in query(incremental / "warehouse" / "build.duckdb", "select * from marts.fct_person_year")
    }
    assert year[f"key-{U1}-P1"]["regular_avg"] == pytest.approx((99 * 3 + 94) / 4, abs=TOL)
    assert not math.isnan(year[f"key-{U1}-P1"]["annual_score"])  # type: ignore[arg-type]


def test_mart_constraints_are_enforced_on_write(tiny_warehouse: Warehouse, tmp_path: Path) -> None:
    """Not-null columns and value ranges are contract constraints of the built tables: DuckDB itself
    refuses a row that breaks one (they replaced per-column data tests, so they must really be there)."""
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(tiny_warehouse.duckdb, copy)
    with duckdb.connect(str(copy)) as con:
        ddl = con.execute(
            "select sql from duckdb_tables() where schema_name = ? and table_name = ?",
            ["marts", "fct_person_quarter"],
        ).fetchall()[0][0]
        assert "NOT NULL" in ddl and "CHECK" in ddl
        row = con.sql("select * from marts.fct_person_quarter where is_participant limit 1").pl()
        con.register("one_row", row.with_columns(pl.lit(None, dtype=pl.Utf8).alias("person_key")))
        with pytest.raises(duckdb.ConstraintException, match="person_key"):
            con.execute("insert into marts.fct_person_quarter select * from one_row")
        con.register("too_high", row.with_columns(pl.lit(1.5).alias("completion_rate")))
        with pytest.raises(duckdb.ConstraintException, match="CHECK"):
            con.execute("insert into marts.fct_person_quarter select * from too_high")


VIEW_MODELS = "staging intermediate.rules"


def _views(database: Path) -> dict[str, tuple[str | None, str]]:
    """Every view of those models: name → (comment, SQL as DuckDB stores it)."""
    rows = query(
        database,
        "select schema_name || '.' || view_name as name, comment, sql from duckdb_views() "
        "where not internal and schema_name in ('staging', 'intermediate')",
    )
    return {str(r["name"]): (r["comment"], str(r["sql"])) for r in rows}  # type: ignore[misc]


def _build_views() -> dict[str, str]:
    """`dbt run` of the staging and rules views: view → the message of its result."""
    results = dbt_resource().run(["run", "--select", VIEW_MODELS]).results
    return {r["unique_id"].rsplit(".", 1)[1]: r["message"] for r in results}


def test_views_are_recreated_only_when_their_sql_changed(
    tiny_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macros/views.sql: a view is kept when the stored one carries the hash of the SQL dbt compiled now,
    else replaced. The views name the data folder's Parquet files, and the registry CSV the folder holds,
    by paths relative to it (DuckDB's file_search_path), so in a copy of the data folder their SQL is the
    same and they are all kept, and they read the copy's files. Built again, every view is kept; a view
    whose stored hash is stale is replaced.
    (The kept view keeps whatever DuckDB stores: a hand-edited body with the right hash shows it.)"""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_warehouse.data_dir, copy)
    database = point_at(monkeypatch, copy)
    first = _build_views()
    assert len(first) >= 16, first
    assert set(first.values()) == {KEPT_VIEW}, first
    views = _views(database)
    assert {name.split(".")[1] for name in views} >= set(first)
    for name, (comment, sql) in views.items():
        assert comment is not None and comment.startswith("dbt-view-sql-md5:"), name
        assert str(tiny_warehouse.data_dir) not in sql, name
    assert "'registry/units.csv'" in views["staging.stg_units"][1]
    with duckdb.connect(str(database), read_only=True, config={"file_search_path": str(copy)}) as con:
        assert con.execute("select count(*) from staging.stg_ratings").fetchone()[0] > 0
        assert con.execute("select count(*) from staging.stg_units").fetchone()[0] > 0

    with duckdb.connect(str(database)) as con:
        con.execute("create or replace view staging.stg_units as select 1 as x")
        con.execute("comment on view staging.stg_units is 'dbt-view-sql-md5:stale'")
        con.execute("create or replace view staging.stg_sections as select 2 as y")
        kept_hash = str(views["staging.stg_sections"][0])
        assert re.fullmatch("dbt-view-sql-md5:[0-9a-f]{32}", kept_hash)  # COMMENT ON takes no parameter
        con.execute(f"comment on view staging.stg_sections is '{kept_hash}'")
    second = _build_views()
    assert second.pop("stg_units") != KEPT_VIEW
    assert set(second.values()) == {KEPT_VIEW}, second
    after = _views(database)
    assert after["staging.stg_units"] == views["staging.stg_units"]  # replaced: the model's SQL again
    assert after["staging.stg_sections"][1] != views["staging.stg_sections"][1]  # kept as it was
    assert {n: v for n, v in after.items() if n != "staging.stg_sections"} == {
        n: v for n, v in views.items() if n != "staging.stg_sections"
    }


def _test_results(database: Path, *models: str) -> dict[str, dict[str, object]]:
    """`dbt test` of the models' data tests on `database`, with whatever build scope the file holds (the
    resource's `run` without writing a scope): each test's run result by test name."""
    outcome = dbt_resource().run(
        ["test", "--select", " ".join(models)], database=database, raise_on_error=False, write_scope=False
    )
    return {r["unique_id"].split(".")[2]: r for r in outcome.results}


def _test_model(database: Path, model: str) -> dict[str, str]:
    return {name: str(r["status"]) for name, r in _test_results(database, model).items()}


def _set_scope(database: Path, units: list[str] | None) -> None:
    with duckdb.connect(str(database)) as con:
        con.execute("drop table if exists main._build_scope")
        if units is not None:
            con.execute("create table main._build_scope (quarter varchar, units varchar[])")
            con.execute("insert into main._build_scope values ('2025Q2', ?)", [units])


def test_data_tests_of_a_unit_scoped_build_look_at_the_rebuilt_units_only(
    tiny_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macros/test_scope.sql: with a scope listing U1, a null grade of U3 (a unit the build did not
    rewrite) is outside the row-level tests of a unit-grain model (its row_rules test); with U3 listed,
    or with no unit list (every other build), the same test fails on it."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_warehouse.data_dir, copy)
    database = point_at(monkeypatch, copy)
    with duckdb.connect(str(database)) as con:
        changed = con.execute(
            "update intermediate.int_person_quarter_scores set computed_grade = null "
            "where quarter = '2025Q2' and unit_code = ?",
            [U3],
        ).fetchone()
        assert changed and changed[0] > 0

    model = "int_person_quarter_scores"
    _set_scope(database, [U1])
    assert set(_test_model(database, model).values()) == {"pass"}
    for units in ([U1, U3], None):
        _set_scope(database, units)
        statuses = _test_model(database, model)
        assert statuses[f"row_rules_{model}"] == "error", (units, statuses)


def test_a_row_breaking_each_kind_of_row_rule_fails_with_a_message_naming_it(
    tiny_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/generic/row_rules.sql: one row breaking each kind of folded rule (not_null, value_between,
    expression_is_true and a composite key on int_person_base_score; accepted_values on
    fct_person_quarter; a one-column unique on dim_unit) fails each model's row_rules test, whose
    message names every broken rule, its column or expression and how many rows (or repeated keys)
    break it; the rules nobody broke are not named, and the untouched warehouse passes."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_warehouse.data_dir, copy)
    database = point_at(monkeypatch, copy)
    models = ("int_person_base_score", "fct_person_quarter", "dim_unit")
    before = _test_results(database, *models)
    assert {before[f"row_rules_{m}"]["status"] for m in models} == {"pass"}

    with duckdb.connect(str(database)) as con:
        keys = con.execute(
            "select quarter, unit_code, person_code from intermediate.int_person_base_score "
            "where has_indicator order by all limit 4"
        ).fetchall()
        assert len(keys) == 4
        person = "where quarter = ? and unit_code = ? and person_code = ?"
        # a second row for the fourth person: its key (quarter, unit_code, person_code) repeats
        con.execute(
            "insert into intermediate.int_person_base_score "
            "select * from intermediate.int_person_base_score " + person,
            list(keys[3]),
        )
        con.execute("insert into marts.dim_unit select * from marts.dim_unit order by unit_code limit 1")
        breaks = [
            # not_null (a null passes value_between and, with an indicator, the expression)
            "update intermediate.int_person_base_score set task_score = null ",
            # value_between 0..100
            "update intermediate.int_person_base_score set task_score = 150 ",
            # expression: has_indicator or task_score = 0
            "update intermediate.int_person_base_score set has_indicator = false, task_score = 5 ",
        ]
        for change, key in zip(breaks, keys[:3], strict=True):
            con.execute(change + person, list(key))
        con.execute(
            "update marts.fct_person_quarter set base_method = 'made_up' "
            "where rowid = (select min(rowid) from marts.fct_person_quarter)"
        )

    after = _test_results(database, *models)
    base_result = after["row_rules_int_person_base_score"]
    mart_result = after["row_rules_fct_person_quarter"]
    dim_result = after["row_rules_dim_unit"]
    assert (base_result["status"], mart_result["status"], dim_result["status"]) == ("error",) * 3
    assert "broken row rules: " in str(base_result["message"])
    for named in (
        "not_null(task_score) 1 rows",
        "value_between(task_score) 1 rows",
        "expression_is_true(has_indicator or task_score = 0) 1 rows",
        "unique_combination_of_columns(quarter, unit_code, person_code) 1 repeated keys",
    ):
        assert named in str(base_result["message"]), base_result["message"]
    assert "accepted_values(base_method) 1 rows" in str(mart_result["message"]), mart_result["message"]
    assert "not_null" not in str(mart_result["message"])
    assert "unique(unit_code) 1 repeated keys" in str(dim_result["message"]), dim_result["message"]
