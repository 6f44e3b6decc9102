"""The rules as pydantic models: the flat dbt vars are those of the hand-written parser they replaced,
the editors' JSON schema is current and accepts exactly what the loader accepts."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain.rules import (
    RULES_DIR,
    SCHEMA_PATH,
    RulesError,
    load_rules,
    parse_rules,
    rules_json_schema,
    schema_text,
)

DATA = Path(__file__).parent / "data"
# dbt_vars() of 2025.toml and 2026.toml computed by the dataclass parser before the pydantic rewrite,
# with copies of the two files exactly as they were (the live files may since have new values).
BEFORE = json.loads((DATA / "rules_dbt_vars_before.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("year", ["2025", "2026"])
def test_dbt_vars_equal_those_of_the_replaced_parser(tmp_path: Path, year: str) -> None:
    shutil.copy(DATA / f"rules_{year}_before.toml", tmp_path / f"{year}.toml")
    now = load_rules(year, tmp_path).dbt_vars()
    assert now == BEFORE[year]
    # Same Python types too (an int that became a float would change dbt's rendering of the var).
    assert {k: type(v).__name__ for k, v in now.items()} == {
        k: type(v).__name__ for k, v in BEFORE[year].items()
    }


@pytest.mark.parametrize("year", ["2025", "2026"])
def test_the_committed_files_still_give_the_same_dbt_var_names(year: str) -> None:
    # int_rules.sql and the marts read these names; a rename is a change of the dbt interface.
    assert set(load_rules(year).dbt_vars()) == set(BEFORE[year])


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "rules.schema.json is stale: run `uv run python -m pipelines.domain.rules`"
    )


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_schema_accepts_the_committed_files(year: int) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    mapping = tomllib.loads((RULES_DIR / f"{year}.toml").read_text(encoding="utf-8"))
    jsonschema.validate(mapping, rules_json_schema())


@pytest.mark.parametrize(
    ("section", "key", "value", "named"),
    [
        (("quarterly",), "top_quota", 0.45, "quarterly.top_quota: must be ≤ 0.4"),  # the national cap
        (("quality",), "mystery_threshold", 1, "quality: unknown key(s) mystery_threshold"),
        (("evaluation", "tier_weights"), "群众评议", 0.1, "evaluation.tier_weights: unknown key(s) 群众评议"),
        (("quality", "collusion"), "severity", "critical", "quality.collusion.severity: must be one of"),
        (("evaluation",), "trim_min_raters", "five", "evaluation.trim_min_raters: expected int"),
        # max(1, floor(0.40·n)): a floor above 1 lifted the national cap (10 好 of 24 scored, a probe)
        (("quarterly",), "top_quota_min", 10, "quarterly.top_quota_min: must be ≤ 1"),
        (("annual",), "excellent_quota_min", 2, "annual.excellent_quota_min: must be ≤ 1"),
        # values the loader took and the run then died on (a date overflow, dbt's 32-bit integers)
        (
            ("calendar",),
            "deadline_days_after_quarter_end",
            100_000_000,
            "deadline_days_after_quarter_end: must be ≤ 366",
        ),
        (("quality", "straight_lining"), "min_ratees", 3_000_000_000, "min_ratees: must be ≤ 100000"),
    ],
)
def test_the_schema_and_the_loader_refuse_the_same_edit(
    section: tuple[str, ...], key: str, value: object, named: str
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    mapping = tomllib.loads((RULES_DIR / "2026.toml").read_text(encoding="utf-8"))
    table = mapping
    for name in section:
        table = table[name]
    table[key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(mapping, rules_json_schema())
    with pytest.raises(RulesError) as info:
        parse_rules(mapping, "edited.toml")
    assert named in str(info.value)


def test_a_schema_comment_leaves_the_values_and_only_moves_the_fingerprint(tmp_path: Path) -> None:
    original = (RULES_DIR / "2026.toml").read_bytes()
    (tmp_path / "2026.toml").write_bytes(b"#:schema ./rules.schema.json\n" + original)
    commented, plain = load_rules(2026, tmp_path), load_rules(2026)
    assert commented.fingerprint != plain.fingerprint  # the fingerprint is of the bytes, comments included
    assert commented.dbt_vars() | {"rules_fingerprint": ""} == plain.dbt_vars() | {"rules_fingerprint": ""}


def test_a_file_saved_with_a_byte_order_mark_loads_as_without(tmp_path: Path) -> None:
    """Notepad writes UTF-8 with a BOM; tomllib read it as an invalid statement at line 1."""
    (tmp_path / "2026.toml").write_bytes(b"\xef\xbb\xbf" + (RULES_DIR / "2026.toml").read_bytes())
    with_bom, plain = load_rules(2026, tmp_path), load_rules(2026)
    assert with_bom.dbt_vars() | {"rules_fingerprint": ""} == plain.dbt_vars() | {"rules_fingerprint": ""}


def test_a_year_mismatch_is_listed_with_the_section_problems(tmp_path: Path) -> None:
    text = (
        (RULES_DIR / "2026.toml")
        .read_text(encoding="utf-8")
        .replace("top_quota = 0.40", "top_quota = 0.5", 1)
    )
    (tmp_path / "2027.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(2027, tmp_path)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "quarterly.top_quota: must be ≤ 0.4, got 0.5 (好 quota, national cap 0.4)" in message
    assert "year: the file says 2026 but is named for 2027" in message


def test_a_table_is_checked_even_when_a_sibling_field_is_wrong() -> None:
    # The old parser listed both; a section-level validator alone would hide the table's problem.
    mapping = tomllib.loads((RULES_DIR / "2026.toml").read_text(encoding="utf-8"))
    mapping["annual"]["default_regular_share"] = 0.5
    mapping["annual"]["thresholds"]["称职"] = 90.0
    mapping["evaluation"]["trim_min_raters"] = 2
    mapping["evaluation"]["tier_weights"]["分管领导"] = 0.5
    with pytest.raises(RulesError) as info:
        parse_rules(mapping, "edited.toml")
    message = str(info.value)
    assert "4 problem(s)" in message
    assert "annual.default_regular_share: must be ≥ 0.6, got 0.5" in message
    assert "annual.thresholds: grade bounds must be strictly descending" in message
    assert "evaluation.trim_min_raters: must be ≥ 3, got 2" in message
    assert "evaluation.tier_weights: weights must sum to 1" in message


def _scalar_paths(table: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            paths.extend(_scalar_paths(value, (*prefix, key)))
        else:
            paths.append((*prefix, key))
    return paths


ORIGINAL_MAPPING = tomllib.loads((RULES_DIR / "2026.toml").read_text(encoding="utf-8"))
SCALAR_PATHS = _scalar_paths(ORIGINAL_MAPPING)
ANY_TOML_VALUE = st.recursive(
    st.none().map(lambda _: "") | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SCALAR_PATHS), ANY_TOML_VALUE), min_size=1, max_size=4))
def test_any_edited_value_loads_or_is_refused_by_path(edits: list[tuple[tuple[str, ...], object]]) -> None:
    # A hostile or careless edit never ends in anything but a RulesError naming the keys at fault.
    mapping = json.loads(json.dumps(ORIGINAL_MAPPING))
    for path, value in edits:
        table = mapping
        for name in path[:-1]:
            table = table[name]
        table[path[-1]] = value
    try:
        rules = parse_rules(mapping, "edited.toml")
    except RulesError as exc:
        message = str(exc)
        assert message.startswith("edited.toml: rules refused")
        touched = {".".join(path[:-1]) for path, _ in edits} | {".".join(path) for path, _ in edits}
        assert any(key and key in message for key in touched) or "top level" in message, message
    else:
        assert json.loads(json.dumps(rules.dbt_vars(), ensure_ascii=False)) == rules.dbt_vars()
