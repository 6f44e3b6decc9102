"""The rules files as the long Parquet table dbt joins by year."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.defs.dbt.rules_table import (
    RULES_SCHEMA,
    rules_frame,
    rules_rows,
    rules_years,
    write_rules_table,
)
from pipelines.domain.rules import load_rules

PROVENANCE = {"rules_year", "rules_version", "rules_fingerprint"}


def test_one_row_per_dbt_var_of_every_year() -> None:
    for year in rules_years():
        rules = load_rules(year)
        rows = rules_rows(rules)
        assert [r["parameter"] for r in rows] == [k for k in rules.dbt_vars() if k not in PROVENANCE]
        assert {(r["rules_year"], r["rules_version"], r["rules_fingerprint"]) for r in rows} == {
            (year, rules.version, rules.fingerprint)
        }


def test_structure_is_explicit_so_dbt_never_parses_keys() -> None:
    rows = {r["parameter"]: r for r in rules_rows(load_rules(2025))}
    tier = rows["evaluation_tier_weights_分管领导"]
    assert (tier["scope"], tier["member"], tier["name"], tier["value_number"]) == (
        "evaluation.tier_weights",
        "分管领导",
        None,
        0.3,
    )
    required = rows["evaluation_required_tiers_科室工作人员_min_section_participants"]
    assert (required["scope"], required["member"], required["name"], required["value_number"]) == (
        "evaluation.required_tiers",
        "科室工作人员",
        "min_section_participants",
        4.0,
    )
    flag = rows["evaluation_required_tiers_科室负责人_non_heads_only"]
    assert (flag["value_number"], flag["value_text"]) == (1.0, "true")
    scalar = rows["quarterly_task_weight"]
    assert (scalar["scope"], scalar["member"], scalar["name"]) == ("quarterly", None, "task_weight")
    text = rows["compliance_anomaly_severity"]
    assert (text["value_number"], text["value_text"]) == (None, "high")


def test_write_rules_table_writes_every_committed_year(tmp_path: Path) -> None:
    path = write_rules_table(tmp_path)
    assert path == tmp_path / "raw" / "rules" / "rules.parquet"
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    frame = pl.read_parquet(path)
    assert frame.schema == pl.Schema(RULES_SCHEMA)
    assert sorted(frame["rules_year"].unique().to_list()) == rules_years() == [2025, 2026]
    assert frame.equals(rules_frame())


def test_the_table_holds_the_years_of_the_rules_folder_in_use(tmp_path: Path, monkeypatch) -> None:
    """$ASSESSMENT_RULES_DIR moves the rules folder: a probe's folder with only 2025.toml failed on the
    committed 2026.toml's absence, and an added 2027.toml was left out of the table."""
    import shutil

    from pipelines.paths import RULES_ENV, rules_dir

    committed = rules_dir()
    shutil.copy(committed / "2025.toml", tmp_path / "2025.toml")
    monkeypatch.setenv(RULES_ENV, str(tmp_path))
    assert rules_frame()["rules_year"].unique().to_list() == [2025]
    text = (committed / "2026.toml").read_text(encoding="utf-8").replace("2026", "2027")
    (tmp_path / "2027.toml").write_text(text, encoding="utf-8")
    assert sorted(rules_frame()["rules_year"].unique().to_list()) == [2025, 2027]
