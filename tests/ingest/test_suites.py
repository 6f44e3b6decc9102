"""The declarative cell rules: committed GX suites cover every template column and behave as stated."""

from __future__ import annotations

import json

import pytest

from pipelines.domain.template import SHEETS, Kind
from pipelines.ingest.suites import (
    EXPECTATIONS_DIR,
    NUMERIC_KINDS,
    build_suites,
    stale_suites,
    suite_path,
    value_column,
)
from pipelines.ingest.validate import validate_cells
from tests.ingest.helpers import parsed


def test_committed_suites_are_what_the_template_generates() -> None:
    assert stale_suites() == [], "run: uv run python -m pipelines.ingest.suites"
    assert sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json")) == sorted(s.name for s in SHEETS)


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda s: s.name)
def test_every_column_has_presence_type_allowed_and_range_rules(sheet: object) -> None:
    suite = json.loads(suite_path(sheet.name).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    rules: dict[str, set[str]] = {}
    for e in suite["expectations"]:
        rules.setdefault(e["kwargs"]["column"], set()).add(e["meta"]["rule"])
        assert e["meta"]["error_kind"] in {
            "missing_value",
            "wrong_type",
            "invalid_value",
            "out_of_range",
            "invalid_national_id",
        }
    for column in sheet.columns:  # type: ignore[attr-defined]
        got = rules.get(column.field, set())
        assert got, f"{sheet.name}.{column.field} has no expectation"  # type: ignore[attr-defined]
        assert ("not_null" in got) == (not column.nullable)
        # a type rule: a pattern, the yes/no set, an enum's allowed set, or a bounded text length
        assert got & {"pattern", "type_bool", "allowed", "length"} or any(r.startswith("type_") for r in got)
        if column.allowed:
            assert "allowed" in got
        if column.kind in NUMERIC_KINDS and (column.min_value is not None or column.max_value is not None):
            assert "range" in rules[value_column(column.field)]


def test_suites_load_into_great_expectations() -> None:
    import great_expectations as gx

    for name, suite in build_suites().items():
        loaded = gx.ExpectationSuite(**suite)
        assert loaded.name == name
        assert len(loaded.expectations) == len(suite["expectations"])


def test_cell_failures_map_back_to_the_delivery_and_excel_row() -> None:
    good = {"ratee_code": "P001", "rater_tier": "科室负责人", "rater_code": "P002"}
    scores = {
        d: "80"
        for d in ("score_intensity", "score_difficulty", "score_quantity", "score_effect", "score_measures")
    }
    first = parsed(
        "ratings",
        [
            {**good, **scores},
            {**good, **scores, "score_effect": "优"},  # row 3: wrong type
            {**good, **scores, "score_measures": "105"},  # row 4: out of range
            {**good, **scores, "rater_tier": "群众"},  # row 5: not an allowed tier
        ],
    )
    second = parsed("ratings", [{**good, **scores, "rater_code": None}])  # row 2: required blank
    issues = validate_cells({"ratings": [(0, first), (7, second)]})
    found = {(i, x.kind, x.excel_row, x.header, x.value) for i, xs in issues.items() for x in xs}
    assert found == {
        (0, "wrong_type", 3, "成效", "优"),
        (0, "out_of_range", 4, "措施", "105"),
        (0, "invalid_value", 5, "评议主体", "群众"),
        (7, "missing_value", 2, "评议人编号", None),
    }
    messages = {x.kind: x.message for x in issues[0]}
    assert messages["wrong_type"] == "「评议打分」表第3行「成效」的值“优”不是数字"
    assert messages["out_of_range"] == "「评议打分」表第4行「措施」的值“105”超出范围（应在0至100之间）"


def test_a_missing_optional_column_is_not_a_column_of_blanks() -> None:
    roster = parsed(
        "roster",
        [
            {
                "person_code": "P001",
                "name": "张三",
                "national_id": "11010519491231002X",
                "section": "办公室",
                "rank": "一级科员",
                "post_category": "综合管理",
                "is_section_head": "否",
                "participates": "是",
            }
        ],
    )
    assert "proposed_grade" not in roster.fields
    assert validate_cells({"roster": [(0, roster)]}) == {}


def test_quantity_must_be_strictly_positive_and_ids_well_formed() -> None:
    task = {
        "task_code": "T001",
        "task_name": "防汛",
        "task_source": "临时交办",
        "target": "完成",
        "deadline": "2025-09-30",
        "intensity": "3",
        "difficulty": "2",
        "quantity": "0",
        "status": "已完成",
    }
    issues = validate_cells({"tasks": [(0, parsed("tasks", [task]))]})
    assert [(i.kind, i.header) for i in issues[0]] == [("out_of_range", "任务数量")]
    person = {
        "person_code": "P001",
        "name": "张三",
        "national_id": "1101051949123100",
        "section": "办公室",
        "rank": "科员",
        "post_category": "综合管理",
        "is_section_head": "否",
        "participates": "是",
    }
    issues = validate_cells({"roster": [(0, parsed("roster", [person]))]})
    assert [(i.kind, i.value) for i in issues[0]] == [("invalid_national_id", "110105******3100")]


def test_kinds_without_a_canonical_pattern_are_the_free_ones() -> None:
    from pipelines.ingest.normalise import CANONICAL_PATTERNS

    assert set(Kind) - set(CANONICAL_PATTERNS) == {Kind.TEXT, Kind.ENUM}
