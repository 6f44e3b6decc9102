"""Cross-sheet, context and quarter-level checks (code, not suites), on small hand-made submissions."""

from __future__ import annotations

from typing import Any

from pipelines.domain import national_id
from pipelines.domain.quarters import Quarter
from pipelines.ingest.sheets import ParsedSheet
from pipelines.ingest.validate import UnitFacts, check_context, check_submission
from tests.ingest.helpers import parsed

ID_A = national_id.make("371602", "19800101", 123)
ID_B = national_id.make("371602", "19900202", 246)


def _person(code: str, nid: str, section: str = "办公室", participates: str = "是") -> dict[str, Any]:
    return {
        "person_code": code,
        "name": "张三",
        "national_id": nid,
        "section": section,
        "rank": "一级科员",
        "post_category": "综合管理",
        "is_section_head": "否",
        "participates": participates,
    }


def _rating(ratee: str, tier: str, rater: str) -> dict[str, Any]:
    return {"ratee_code": ratee, "rater_tier": tier, "rater_code": rater, "score_effect": "80"}


def _submission(**overrides: list[dict[str, Any]]) -> dict[str, ParsedSheet]:
    sheets = {
        "unit_info": [{"unit_code": "371602-X-017", "quarter": "2025Q3", "unit_name": "滨城区审计局"}],
        "roster": [
            _person("P001", ID_A),
            _person("P002", ID_B),
            _person("P003", national_id.make("371602", "19850505", 11), participates="否"),
        ],
        "sections": [{"section": "办公室", "leader_code": "P003"}],
        "tasks": [{"task_code": "T001", "lead_code": "P001", "assist_codes": "P002"}],
        "ratings": [_rating("P001", "科室负责人", "P002"), _rating("P002", "服务对象", "F01")],
    }
    sheets.update(overrides)
    return {name: parsed(name, rows) for name, rows in sheets.items()}


def _found(sheets: dict[str, ParsedSheet]) -> set[tuple[str, str | None, int | None, str | None, str | None]]:
    return {(i.kind, i.sheet, i.excel_row, i.header, i.value) for i in check_submission(sheets)}


def test_a_consistent_submission_has_no_findings() -> None:
    assert _found(_submission()) == set()


def test_a_wrong_check_digit_is_reported_masked() -> None:
    wrong = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")
    found = _found(
        _submission(roster=[_person("P001", wrong), _person("P002", ID_B), _person("P003", ID_B[:-1] + "X")])
    )
    kinds = {f[0] for f in found}
    assert kinds >= {"invalid_national_id"}
    rows = sorted(f[2] for f in found if f[0] == "invalid_national_id")
    assert rows[0] == 2
    issue = next(
        i
        for i in check_submission(_submission(roster=[_person("P001", wrong)]))
        if i.kind == "invalid_national_id"
    )
    assert issue.value == wrong[:6] + "********" + wrong[-4:]
    assert wrong not in issue.message
    assert issue.message.endswith("校验位错误")


def test_duplicates_point_at_the_repeated_row_and_the_first() -> None:
    ratings = [
        _rating("P001", "科室负责人", "P002"),
        _rating("P002", "分管领导", "P003"),
        _rating("P001", "科室负责人", "P002"),
    ]
    issues = [i for i in check_submission(_submission(ratings=ratings)) if i.kind == "duplicate_key"]
    assert [(i.excel_row, i.header, i.value) for i in issues] == [(4, "被评议人编号", "P001/科室负责人/P002")]
    assert issues[0].message.endswith("与第2行重复")
    roster = [_person("P001", ID_A), _person("P001", ID_B)]
    assert ("duplicate_key", "人员名册", 3, "人员编号", "P001") in _found(_submission(roster=roster))


def test_references_to_unknown_persons_and_sections() -> None:
    found = _found(
        _submission(
            roster=[_person("P001", ID_A), _person("P002", ID_B, section="法规科")],
            tasks=[{"task_code": "T001", "lead_code": "P900", "assist_codes": "P002、P901"}],
            ratings=[
                _rating("P902", "科室负责人", "P001"),
                _rating("P001", "科室工作人员", "P903"),
                _rating("P001", "亮晒评", "L12"),
            ],
        )
    )
    assert ("unknown_section", "人员名册", 3, "科室", "法规科") in found
    assert ("unknown_person", "重点任务", 2, "主办人", "P900") in found
    assert ("unknown_person", "重点任务", 2, "协办人", "P901") in found
    assert ("unknown_person", "评议打分", 2, "被评议人编号", "P902") in found
    assert ("unknown_person", "评议打分", 3, "评议人编号", "P903") in found
    assert ("unknown_person", "科室", 2, "分管领导", "P003") in found
    # An anonymous 亮晒评 rater code is not a roster reference.
    assert not any(f[4] == "L12" for f in found)


def test_ratees_and_year_end_scores_must_belong_to_participants() -> None:
    found = _found(
        _submission(
            ratings=[_rating("P003", "分管领导", "P001")],
            year_end=[{"person_code": "P003", "year_end_score": "88"}],
        )
    )
    assert ("not_participating", "评议打分", 2, "被评议人编号", "P003") in found
    assert ("not_participating", "年度测评", 2, "人员编号", "P003") in found


def test_a_task_without_lead_is_a_warning() -> None:
    issues = check_submission(
        _submission(
            tasks=[{"task_code": "T001", "lead_code": None, "assist_codes": "P002"}, {"task_code": "T002"}]
        )
    )
    leads = [i for i in issues if i.kind == "lead_missing"]
    assert [(i.severity, i.excel_row) for i in leads] == [("warning", 2), ("warning", 3)]
    assert "无人承担" in leads[1].message


def test_an_absent_roster_does_not_cascade_into_reference_errors() -> None:
    sheets = _submission()
    del sheets["roster"]
    assert _found(sheets) == set()


def test_unit_info_must_have_one_row() -> None:
    info = [{"unit_code": "371602-X-017", "quarter": "2025Q3"}] * 2
    assert ("wrong_row_count", "单位信息", None, None, None) in _found(_submission(unit_info=info))


# -- context -----------------------------------------------------------------------------------------

REGISTRY_UNIT = {"unit_code": "371602-X-017", "unit_name": "滨城区审计局", "base_method": "uniform"}
Q3 = Quarter(2025, 3)


def test_the_folder_decides_whose_data_it_is() -> None:
    facts = UnitFacts(unit_code="371602-X-018", quarter="2025Q2", unit_name="审计局", info_row=2)
    issues = check_context(facts, "371602-X-017", Q3, REGISTRY_UNIT)
    kinds = {(i.kind, i.severity, i.value) for i in issues}
    assert ("unit_mismatch", "error", "371602-X-018") in kinds
    assert ("quarter_mismatch", "error", "2025Q2") in kinds
    assert ("unit_name_mismatch", "warning", "审计局") in kinds


def test_a_folder_outside_the_registry_is_rejected() -> None:
    issues = check_context(None, "999999-X-001", Q3, None)
    assert [(i.kind, i.severity) for i in issues] == [("unknown_unit", "error")]


def test_section_coefficients_are_required_only_of_their_units() -> None:
    facts = UnitFacts(
        unit_code="371602-X-017",
        quarter="2025Q3",
        unit_name="滨城区审计局",
        has_coefficient_column=True,
        blank_coefficient_rows=(3, 5),
    )
    assert check_context(facts, "371602-X-017", Q3, REGISTRY_UNIT) == []
    coefficient_unit = {**REGISTRY_UNIT, "base_method": "section_coefficient"}
    issues = check_context(facts, "371602-X-017", Q3, coefficient_unit)
    assert [(i.kind, i.excel_row, i.header) for i in issues] == [
        ("missing_value", 3, "科室系数"),
        ("missing_value", 5, "科室系数"),
    ]
    no_column = UnitFacts(unit_code="371602-X-017", quarter="2025Q3", unit_name="滨城区审计局")
    assert [i.kind for i in check_context(no_column, "371602-X-017", Q3, coefficient_unit)] == [
        "missing_column"
    ]


def test_q4_only_content_is_ignored_with_a_warning_in_other_quarters() -> None:
    facts = UnitFacts(
        unit_code="371602-X-017",
        quarter="2025Q3",
        unit_name="滨城区审计局",
        info_row=2,
        regular_share_row=2,
        year_end_rows=5,
    )
    kinds = [(i.kind, i.severity) for i in check_context(facts, "371602-X-017", Q3, REGISTRY_UNIT)]
    assert kinds == [("value_ignored", "warning"), ("sheet_ignored", "warning")]
    q4 = UnitFacts(
        unit_code="371602-X-017",
        quarter="2025Q4",
        unit_name="滨城区审计局",
        info_row=2,
        regular_share_row=2,
        year_end_rows=5,
    )
    assert check_context(q4, "371602-X-017", Quarter(2025, 4), REGISTRY_UNIT) == []
