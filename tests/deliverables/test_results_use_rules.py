"""The [results_use] section of the rules file: defaults of the issue, checked on load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.domain.rules import RULES_DIR, RulesError, load_rules


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_committed_years_carry_the_defaults(year: int) -> None:
    r = load_rules(year).results_use
    assert (r.commendation_min_good_quarters, r.commendation_max_poor_quarters) == (3, 0)
    assert r.commendation_block_on_findings and not r.review_may_exceed_top_quota
    assert r.excellent_streak_years == 3
    assert load_rules(year).dbt_vars()["results_use_excellent_streak_years"] == 3


@pytest.mark.parametrize(
    ("line", "replacement", "named"),
    [
        ("excellent_streak_years = 3", "excellent_streak_years = 1", "excellent_streak_years"),
        ("commendation_min_good_quarters = 3", "commendation_min_good_quarters = 5", "commendation_min_good"),
        ("review_may_exceed_top_quota = false", "review_may_exceed_top_quota = 0", "review_may_exceed"),
    ],
)
def test_a_bad_value_is_refused_with_its_key(tmp_path: Path, line: str, replacement: str, named: str) -> None:
    text = (RULES_DIR / "2026.toml").read_text(encoding="utf-8")
    assert line in text
    (tmp_path / "2026.toml").write_text(text.replace(line, replacement), encoding="utf-8")
    with pytest.raises(RulesError, match=f"results_use.{named}"):
        load_rules(2026, tmp_path)


def test_the_section_is_required(tmp_path: Path) -> None:
    shutil.copy(RULES_DIR / "2026.toml", tmp_path / "2026.toml")
    text = (tmp_path / "2026.toml").read_text(encoding="utf-8")
    (tmp_path / "2026.toml").write_text(text.replace("[results_use]", "[results_use_old]"), encoding="utf-8")
    with pytest.raises(RulesError, match="results_use: missing"):
        load_rules(2026, tmp_path)
