"""The per-year rules files: defaults of rules.md/quality.md, hard constraints, dbt vars, fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.domain.quarters import Quarter
from pipelines.domain.rules import RULES_DIR, Rules, RulesError, load_rules, parse_rules
from pipelines.domain.template import DIMENSIONS, RATER_TIERS


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(2026)


def test_both_years_load() -> None:
    for year in (2025, "2025", 2026, " 2026 "):
        loaded = load_rules(year)
        assert loaded.version == str(year).strip()
        assert loaded.year == int(str(year))
        assert loaded.source.endswith(f"{str(year).strip()}.toml")


def test_years_differ_only_in_year_and_version() -> None:
    a, b = load_rules(2025).dbt_vars(), load_rules(2026).dbt_vars()
    provenance = {"rules_year", "rules_version", "rules_fingerprint"}
    assert {k: v for k, v in a.items() if k not in provenance} == {
        k: v for k, v in b.items() if k not in provenance
    }
    assert a["rules_fingerprint"] != b["rules_fingerprint"]


def test_task_volume_and_base_score_defaults(rules: Rules) -> None:
    t = rules.task_volume
    assert (t.intensity_step, t.difficulty_step, t.lead_share, t.assist_share) == (0.25, 0.25, 0.6, 0.4)
    assert dict(t.completion) == {"已完成": 1.0, "按进度推进": 1.0, "滞后": 0.5, "未启动": 0.0}
    for method in (rules.base_score.workload_weighted, rules.base_score.section_coefficient):
        assert (method.floor, method.slope, method.workload_cap) == (0.6, 0.4, 1.5)
    sc = rules.base_score.section_coefficient
    assert (sc.coefficient_min, sc.coefficient_max) == (0.8, 1.2)
    cp = rules.base_score.category_peer
    assert (cp.min_group_size, cp.floor_score, cp.span) == (3, 60.0, 40.0)


def test_evaluation_defaults(rules: Rules) -> None:
    e = rules.evaluation
    assert dict(e.dimension_weights) == {
        "score_intensity": 0.20,
        "score_difficulty": 0.20,
        "score_quantity": 0.20,
        "score_effect": 0.25,
        "score_measures": 0.15,
    }
    assert tuple(e.dimension_weights) == DIMENSIONS
    assert dict(e.tier_weights) == {
        "科室工作人员": 0.20,
        "科室负责人": 0.25,
        "分管领导": 0.30,
        "服务对象": 0.15,
        "亮晒评": 0.10,
    }
    assert tuple(e.tier_weights) == RATER_TIERS
    assert e.trim_min_raters == 5 and e.official_fair_score is False
    required = {tier: dataclasses.astuple(r) for tier, r in e.required_tiers.items()}
    assert required == {"分管领导": (1, False, 1), "科室负责人": (1, True, 1), "科室工作人员": (3, False, 4)}


def test_quarterly_annual_and_compliance_defaults(rules: Rules) -> None:
    q = rules.quarterly
    assert (q.task_weight, q.eval_weight, q.adjustment_min, q.adjustment_max) == (0.4, 0.6, -10.0, 5.0)
    assert dict(q.bands) == {"好": 90.0, "较好": 80.0, "一般": 60.0}
    assert (q.top_quota, q.top_quota_min) == (0.40, 1)
    a = rules.annual
    assert (a.min_scored_quarters, a.default_regular_share, a.min_regular_share) == (3, 0.6, 0.6)
    assert (a.excellent_quota, a.excellent_quota_min, a.excellent_min_top_share) == (0.20, 1, 0.5)
    assert (a.basic_min_poor_quarters, a.incompetent_min_poor_quarters) == (1, 2)
    assert dict(a.thresholds) == {"优秀": 85.0, "称职": 70.0, "基本称职": 60.0}
    c = rules.compliance
    assert dict(c.weights) == {
        "on_time_rate": 0.20,
        "staff_coverage_rate": 0.20,
        "rating_coverage_rate": 0.20,
        "quota_compliance_rate": 0.15,
        "grade_agreement_rate": 0.10,
        "anomaly_rate": 0.15,
    }
    assert (c.anomaly_rate_scale, c.anomaly_severity) == (10.0, "high")
    assert rules.calendar.deadline_days_after_quarter_end == 15
    assert rules.calendar.deadline(Quarter(2026, 3)) == datetime(
        2026, 10, 15, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_quality_defaults(rules: Rules) -> None:
    q = rules.quality
    assert q.mad_scale == 1.4826
    severities = {name: (f.code, f.severity) for name, f in q.findings().items()}
    assert severities == {
        "self_rating": ("A1", "high"),
        "straight_lining": ("A2", "medium"),
        "lenient_rater": ("A3", "medium"),
        "severe_rater": ("A4", "medium"),
        "no_discrimination": ("A5", "low"),
        "collusion": ("A6", "high"),
        "reciprocal_inflation": ("A7", "medium"),
        "outlier_rating": ("A8", "low"),
        "grade_rotation": ("U1", "high"),
        "rating_work_decoupling": ("U2", "medium"),
        "score_inflation": ("U3", "medium"),
        "proposed_grade_gaming": ("U4", "medium"),
    }
    # A2–A8 rest on tests with a stated confidence (quality.md, "What a definition must survive"); the
    # parameters and why each has its value are in the rules file and docs/quality.md.
    c = q.consensus
    assert (c.min_other_raters, c.min_pool_raters, c.max_score) == (3, 30, 100.0)
    sl = q.straight_lining
    assert (sl.min_identical_share, sl.min_ratees, sl.strong_q) == (0.90, 3, 0.01)
    for lr in (q.lenient_rater, q.severe_rater):
        assert (lr.min_ratees, lr.max_q, lr.strong_q) == (3, 0.05, 0.001)
        assert (lr.min_rater_sd, lr.min_effect, lr.min_headroom_share) == (1.0, 5.0, 0.5)
    nd = q.no_discrimination
    assert (nd.min_ratees, nd.max_std_ratio, nd.min_reference_std, nd.max_ceiling_share) == (
        5,
        0.25,
        1.0,
        0.5,
    )
    assert (nd.max_q, nd.strong_q) == (0.05, 0.001)
    co = q.collusion
    assert (co.min_shared_ratees, co.min_identical_share, co.min_identical_below_ceiling) == (5, 0.80, 3)
    ri = q.reciprocal_inflation
    assert (ri.min_points_floor, ri.min_rank_share) == (3.0, 0.9)
    assert (ri.max_q, ri.strong_q) == (0.05, 0.001)
    assert (q.outlier_rating.min_distance, q.outlier_rating.min_other_raters, q.outlier_rating.max_q) == (
        25.0,
        3,
        0.05,
    )
    gr = q.grade_rotation
    assert (gr.min_participants, gr.max_spearman, gr.max_q, gr.min_top_turnover) == (10, 0.2, 0.05, 0.9)
    wd = q.rating_work_decoupling
    assert (wd.min_participants, wd.max_spearman, wd.max_q, wd.min_reference_units) == (10, 0.0, 0.05, 8)
    si = q.score_inflation
    assert (si.max_q, si.min_excess_points, si.prior_units, si.min_reference_units) == (0.05, 4.0, 10, 8)
    assert si.min_headroom_share == 0.5
    assert q.proposed_grade_gaming.max_agreement == 0.50


def test_rules_are_immutable(rules: Rules) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.quarterly.top_quota = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        rules.evaluation.tier_weights["分管领导"] = 0.5  # type: ignore[index]


def test_dbt_vars_are_flat_and_json_serialisable(rules: Rules) -> None:
    flat = rules.dbt_vars()
    assert all(isinstance(k, str) for k in flat)
    assert all(isinstance(v, str | int | float | bool) for v in flat.values())
    assert json.loads(json.dumps(flat, ensure_ascii=False)) == flat
    assert flat["rules_version"] == "2026" and flat["rules_fingerprint"] == rules.fingerprint
    assert flat["quarterly_task_weight"] == 0.4
    assert flat["evaluation_tier_weights_分管领导"] == 0.30
    assert flat["evaluation_dimension_weights_score_effect"] == 0.25
    assert flat["annual_min_regular_share"] == 0.6
    assert flat["compliance_weights_anomaly_rate"] == 0.15
    assert flat["quality_collusion_min_shared_ratees"] == 5
    assert flat["calendar_timezone"] == "Asia/Shanghai"


def test_fingerprint_is_the_file_hash_and_follows_edits(tmp_path: Path, rules: Rules) -> None:
    original = (RULES_DIR / "2026.toml").read_bytes()
    assert rules.fingerprint == hashlib.sha256(original).hexdigest()[:12]
    shutil.copy(RULES_DIR / "2026.toml", tmp_path / "2026.toml")
    assert load_rules(2026, tmp_path).fingerprint == rules.fingerprint
    (tmp_path / "2026.toml").write_bytes(original + "# 复核后修订\n".encode())
    edited = load_rules(2026, tmp_path)
    assert edited.fingerprint != rules.fingerprint
    assert edited.dbt_vars() | {"rules_fingerprint": ""} == rules.dbt_vars() | {"rules_fingerprint": ""}


def test_parse_rules_accepts_a_mapping() -> None:
    mapping = tomllib.loads((RULES_DIR / "2026.toml").read_text(encoding="utf-8"))
    first, second = parse_rules(mapping, "inline"), parse_rules(mapping, "inline")
    assert first.fingerprint == second.fingerprint and len(first.fingerprint) == 12
    assert first.source == "inline" and first.quarterly.top_quota == 0.40


def test_unknown_year_and_bad_year_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="available years: 2025, 2026"):
        load_rules(1999)
    with pytest.raises(RulesError, match="four-digit"):
        load_rules("2026Q3")
    shutil.copy(RULES_DIR / "2026.toml", tmp_path / "2027.toml")
    with pytest.raises(RulesError, match="named for 2027"):
        load_rules(2027, tmp_path)


# -- hard constraints, each violated in a temporary copy ----------------------------------------------


def _set(text: str, table: str, key: str, value: str | None) -> str:
    """Replace (or with None, delete) `key` inside `[table]` of a TOML text; the key must exist there."""
    lines = text.splitlines(keepends=True)
    inside = False
    for i, line in enumerate(lines):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            inside = stripped == f"[{table}]"
            continue
        if inside and stripped.split("=", 1)[0].strip() == key:
            lines[i] = "" if value is None else f"{key} = {value}\n"
            return "".join(lines)
    raise AssertionError(f"{key} not found in [{table}]")


def _refused(tmp_path: Path, text: str) -> str:
    (tmp_path / "2026.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(2026, tmp_path)
    return str(info.value)


ORIGINAL = (RULES_DIR / "2026.toml").read_text(encoding="utf-8")

VIOLATIONS = {
    "default regular share below 0.6": (
        [("annual", "default_regular_share", "0.5")],
        ["annual.default_regular_share", "0.6"],
    ),
    "minimum regular share below 0.6": (
        [("annual", "min_regular_share", "0.55")],
        ["annual.min_regular_share"],
    ),
    "dimension weights do not sum to 1": (
        [("evaluation.dimension_weights", "score_effect", "0.30")],
        ["evaluation.dimension_weights", "sum to 1"],
    ),
    "tier weights do not sum to 1": (
        [("evaluation.tier_weights", '"分管领导"', "0.35")],
        ["evaluation.tier_weights", "sum to 1"],
    ),
    "quarterly weights do not sum to 1": (
        [("quarterly", "task_weight", "0.5")],
        ["quarterly.task_weight + eval_weight", "sum to 1"],
    ),
    "compliance weights do not sum to 1": (
        [("compliance.weights", "on_time_rate", "0.25")],
        ["compliance.weights", "sum to 1"],
    ),
    "好 quota above the national cap": (
        [("quarterly", "top_quota", "0.45")],
        ["quarterly.top_quota", "0.4"],
    ),
    "优秀 quota above the national cap": (
        [("annual", "excellent_quota", "0.25")],
        ["annual.excellent_quota", "0.2"],
    ),
    "lead and assist shares do not sum to 1": (
        [("task_volume", "lead_share", "0.7")],
        ["task_volume.lead_share + assist_share"],
    ),
    "unknown tier": (
        [("evaluation.tier_weights", '"亮晒评"', None), ("evaluation.tier_weights", '"服务对象"', None)],
        ["evaluation.tier_weights: missing key(s) 服务对象, 亮晒评"],
    ),
    "unknown dimension": (
        [("evaluation.dimension_weights", "score_measures", None)],
        ["evaluation.dimension_weights: missing key(s) score_measures"],
    ),
    "negative weight": (
        [("evaluation.tier_weights", '"服务对象"', "-0.05"), ("evaluation.tier_weights", '"亮晒评"', "0.30")],
        ["evaluation.tier_weights", "negative weight(s) 服务对象=-0.05"],
    ),
    "bands not strictly descending": (
        [("quarterly.bands", '"较好"', "90.0")],
        ["quarterly.bands", "strictly descending"],
    ),
    "annual thresholds not strictly descending": (
        [("annual.thresholds", '"称职"', "86")],
        ["annual.thresholds", "strictly descending"],
    ),
    "section coefficient bounds reversed": (
        [
            ("base_score.section_coefficient", "coefficient_min", "1.1"),
            ("base_score.section_coefficient", "coefficient_max", "0.9"),
        ],
        ["base_score.section_coefficient.coefficient_min/coefficient_max"],
    ),
    "section coefficient bounds outside the template": (
        [("base_score.section_coefficient", "coefficient_min", "0.7")],
        ["base_score.section_coefficient.coefficient_min/coefficient_max", "0.8"],
    ),
    "missing key": (
        [("calendar", "timezone", None)],
        ["calendar.timezone: missing"],
    ),
    "wrong type": (
        [("evaluation", "trim_min_raters", '"five"')],
        ["evaluation.trim_min_raters: expected int"],
    ),
    "unknown severity": (
        [("quality.collusion", "severity", '"critical"')],
        ["quality.collusion.severity"],
    ),
    "wrong finding code": (
        [("quality.collusion", "code", '"A7"')],
        ["quality.collusion.code"],
    ),
    "a q value outside [0, 1]": (
        [("quality.lenient_rater", "max_q", "1.5")],
        ["quality.lenient_rater.max_q"],
    ),
    "strong_q looser than max_q": (
        [("quality.severe_rater", "strong_q", "0.1")],
        ["quality.severe_rater.strong_q", "must be ≤ max_q"],
    ),
    "a consensus one rater can drag": (
        [("quality.consensus", "min_other_raters", "2")],
        ["quality.consensus.min_other_raters", "must be ≥ 3"],
    ),
    "unknown time zone": (
        [("calendar", "timezone", '"Asia/Binzhou"')],
        ["calendar.timezone"],
    ),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_hard_constraints_are_refused_naming_file_and_key(tmp_path: Path, case: str) -> None:
    edits, fragments = VIOLATIONS[case]
    text = ORIGINAL
    for table, key, value in edits:
        text = _set(text, table, key, value)
    message = _refused(tmp_path, text)
    assert "2026.toml" in message
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    text = ORIGINAL.replace('"亮晒评" = 0.10', '"群众评议" = 0.10', 1)
    text = text.replace("[quality]\n", "[quality]\nmystery_threshold = 1\n", 1)
    message = _refused(tmp_path, text)
    assert "evaluation.tier_weights: unknown key(s) 群众评议" in message
    assert "missing key(s) 亮晒评" in message
    assert "quality: unknown key(s) mystery_threshold" in message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = _set(ORIGINAL, "annual", "default_regular_share", "0.5")
    text = _set(text, "quarterly", "top_quota", "0.5")
    text = _set(text, "quality.outlier_rating", "min_other_raters", "0")
    message = _refused(tmp_path, text)
    assert "3 problem(s)" in message
    for key in (
        "annual.default_regular_share",
        "quarterly.top_quota",
        "quality.outlier_rating.min_other_raters",
    ):
        assert key in message


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, ORIGINAL + "\n[quarterly\n")
    assert "not a valid UTF-8 TOML file" in message
