"""Reference data held by the Organization Department: the unit registry and the yearly rules files.

Both are committed files; materialising them validates them and records what they contain, so a
broken registry or rules file stops the pipeline before any submission is scored against it.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.domain.registry import load_active_registry, registry_source
from pipelines.domain.rules import load_rules
from pipelines.paths import rules_years as partition_rules_years

EXPECTED_UNITS_BY_LEVEL = {"市直": 69, "县直": 339, "乡镇": 92}
GROUP = "reference"
REGISTRY_KEY = dg.AssetKey("unit_registry")
RULES_KEY = dg.AssetKey("assessment_rules")
REGISTRY_CHECK = "unit_registry_matches_the_city"


def rules_years() -> list[int]:
    """Years with a rules file, e.g. [2025, 2026] (the folder pipelines.paths.rules_dir() names)."""
    return partition_rules_years()


def registry_summary(registry: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Unit counts by level, county and base method (small enough for asset metadata)."""
    return {
        col: dict(sorted(registry.group_by(col).len().iter_rows()))
        for col in ("level", "county", "base_method")
    }


def levels_by_city(registry: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Unit counts by level for every city (the first four digits of the unit code) of a registry."""
    counted = (
        registry.with_columns(pl.col("unit_code").str.slice(0, 4).alias("city"))
        .group_by("city", "level")
        .len()
        .sort("city", "level")
    )
    out: dict[str, dict[str, int]] = {}
    for city, level, n in counted.iter_rows():
        out.setdefault(city, {})[level] = n
    return out


def cities_off_structure(by_city: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The cities whose level counts differ from Binzhou's 69 市直 / 339 县直 / 92 乡镇."""
    return {city: levels for city, levels in by_city.items() if levels != EXPECTED_UNITS_BY_LEVEL}


def registry_metadata(registry: pl.DataFrame, path: Path, source: str) -> dict[str, object]:
    """What the unit_registry asset records about the (validated) registry the pipeline runs on."""
    summary = registry_summary(registry)
    return {
        "units": registry.height,
        "cities": len(levels_by_city(registry)),
        "source": source,
        "path": str(path),
        "by_level": summary["level"],
        "by_county": summary["county"],
        "by_base_method": summary["base_method"],
    }


def registry_check(registry: pl.DataFrame, path: Path, source: str) -> dg.AssetCheckResult:
    """Every city of the registry holds exactly 69 市直, 339 县直 and 92 乡镇 units, as Binzhou reports.

    Checked per city because a generated province (python -m pipelines.synthetic --cities N) repeats
    Binzhou's structure in each of its N cities: the committed and the generated registries must both
    pass city by city. A registry configured by $ASSESSMENT_REGISTRY_CSV may describe real cities with
    other structures, so there the counts are reported but not enforced (load_registry has already
    enforced the structural rules: 500 units per city, codes, levels, counties).
    """
    by_city = levels_by_city(registry)
    off = cities_off_structure(by_city)
    enforced = source != "configured"
    metadata: dict[str, object] = {
        "source": source,
        "path": str(path),
        "cities": len(by_city),
        "expected_per_city": EXPECTED_UNITS_BY_LEVEL,
        "cities_off_structure": off or "none",
        "enforced": enforced,
    }
    if len(by_city) == 1:
        metadata["by_level"] = next(iter(by_city.values()))
    if not enforced:
        metadata["reason"] = (
            "registry configured by $ASSESSMENT_REGISTRY_CSV: its cities need not follow Binzhou's structure"
        )
    return dg.AssetCheckResult(
        asset_key=REGISTRY_KEY, check_name=REGISTRY_CHECK, passed=not off or not enforced, metadata=metadata
    )


def rules_metadata() -> dict[str, object]:
    """What the assessment_rules asset records: every committed year's rules file, validated."""
    loaded = {year: load_rules(year) for year in rules_years()}
    return {"years": list(loaded), "fingerprints": {str(y): r.fingerprint for y, r in loaded.items()}}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            REGISTRY_KEY,
            group_name=GROUP,
            kinds={"csv"},
            description=(
                "单位名册: the reporting units (500 per city), their level, county and base-score method. "
                "The registry is the one every stage reads (pipelines.paths.registry_csv): "
                "$ASSESSMENT_REGISTRY_CSV, else a generated province registry in the data directory, else "
                "the committed Binzhou registry."
            ),
        ),
        dg.AssetSpec(
            RULES_KEY,
            group_name=GROUP,
            kinds={"toml"},
            description="考核规则: every committed year's rules file, validated against the hard rules.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            REGISTRY_CHECK,
            asset=REGISTRY_KEY,
            blocking=True,
            description=(
                "Every city of the registry holds exactly 69 市直, 339 县直 and 92 乡镇 units, as Binzhou "
                "reports (reported, not enforced, for a registry set by $ASSESSMENT_REGISTRY_CSV)."
            ),
        )
    ],
    name="reference_data",
    can_subset=True,  # either asset, and the check, can be materialised alone
)
def reference_data(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Validate the rules files and the unit registry, and check the registry's structure.

    One Dagster step for both reference assets and the registry's blocking check: they were three steps
    before the quarter's ingestion, each paying Dagster's per-step overhead (issue 16). The check still
    blocks: when it fails, the step fails after recording both assets and nothing downstream of either
    runs (with separate steps, the rules table could still be written; the run failed all the same)."""
    selected = context.selected_asset_keys
    checked = dg.AssetCheckKey(REGISTRY_KEY, REGISTRY_CHECK) in context.selected_asset_check_keys
    if RULES_KEY in selected:
        yield dg.MaterializeResult(asset_key=RULES_KEY, metadata=rules_metadata())
    if REGISTRY_KEY not in selected and not checked:
        return
    # read and validated once for the asset and its check (as two steps, each read it)
    path, source = registry_source()
    registry = load_active_registry()
    if REGISTRY_KEY in selected:
        yield dg.MaterializeResult(asset_key=REGISTRY_KEY, metadata=registry_metadata(registry, path, source))
    if checked:
        yield registry_check(registry, path, source)


reference_job = dg.define_asset_job(
    "reference",
    selection=dg.AssetSelection.groups("reference"),
    description="Validate the unit registry and rules files and write the rules table dbt reads.",
)
