"""Reference data held by the Organization Department: the unit registry and the yearly rules files.

Both are committed files; materialising them validates them and records what they contain, so a
broken registry or rules file stops the pipeline before any submission is scored against it.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

from pipelines.domain.registry import load_registry
from pipelines.domain.rules import load_rules
from pipelines.paths import REFERENCE_DIR

EXPECTED_UNITS_BY_LEVEL = {"市直": 69, "县直": 339, "乡镇": 92}


def rules_years() -> list[int]:
    """Years with a committed rules file, e.g. [2025, 2026]."""
    return sorted(int(p.stem) for p in (REFERENCE_DIR / "rules").glob("*.toml") if p.stem.isdigit())


def registry_summary(registry: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Unit counts by level, county and base method (small enough for asset metadata)."""
    return {
        col: dict(sorted(registry.group_by(col).len().iter_rows()))
        for col in ("level", "county", "base_method")
    }


@dg.asset(group_name="reference", kinds={"csv"})
def unit_registry() -> dg.MaterializeResult:
    """单位名册: the 500 reporting units, their level, county and base-score method."""
    registry = load_registry()
    summary = registry_summary(registry)
    return dg.MaterializeResult(
        metadata={
            "units": registry.height,
            "by_level": summary["level"],
            "by_county": summary["county"],
            "by_base_method": summary["base_method"],
        }
    )


@dg.asset_check(asset=unit_registry, blocking=True)
def unit_registry_matches_the_city() -> dg.AssetCheckResult:
    """The registry holds exactly 69 市直, 339 县直 and 92 乡镇 units, as the city reports."""
    by_level = registry_summary(load_registry())["level"]
    return dg.AssetCheckResult(
        passed=by_level == EXPECTED_UNITS_BY_LEVEL,
        metadata={"by_level": by_level, "expected": EXPECTED_UNITS_BY_LEVEL},
    )


@dg.asset(group_name="reference", kinds={"toml"})
def assessment_rules() -> dg.MaterializeResult:
    """考核规则: every committed year's rules file, validated against the hard constraints."""
    loaded = {year: load_rules(year) for year in rules_years()}
    return dg.MaterializeResult(
        metadata={
            "years": list(loaded),
            "fingerprints": {str(y): r.fingerprint for y, r in loaded.items()},
        }
    )


reference_job = dg.define_asset_job(
    "reference",
    selection=dg.AssetSelection.groups("reference"),
    description="Validate the unit registry and rules files and write the rules table dbt reads.",
)
