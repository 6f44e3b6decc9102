"""A generated province: ingestion, the reference check and dbt read the same (province) registry.

The generator writes `<data dir>/registry/units.csv` for `--cities N`; pipelines.paths.registry_csv()
resolves it for every stage, so units of the second city are accepted like Binzhou's, and the blocking
registry check passes city by city.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.reference.assets import (
    EXPECTED_UNITS_BY_LEVEL,
    cities_off_structure,
    levels_by_city,
    reference_data,
)
from pipelines.domain.quarters import quarter_range
from pipelines.domain.registry import load_registry, province_registry, registry_source
from pipelines.paths import REFERENCE_DIR, registry_csv
from tests.conftest import make_city
from tests.ingest.conftest import data_dir
from tests.ingest.helpers import materialize

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)

QUARTER = "2025Q3"
ACCEPTED = ("on_time", "late")


def _picked_units() -> tuple[str, ...]:
    codes = province_registry(2).get_column("unit_code").to_list()
    return (*codes[:2], *codes[500:503])  # two Binzhou units, three of the second city (Jinan)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(
        tmp_path_factory.mktemp("province2"),
        seed=3,
        units=_picked_units(),
        cities=2,
        scale=0.2,  # few people per unit: the staff of two whole cities are simulated
        clean=True,
        quarters=tuple(quarter_range(QUARTER)),
    )


def test_registry_resolution_prefers_the_generated_province(province: Path) -> None:
    with data_dir(province):
        path, source = registry_source()
        assert path == province / "registry" / "units.csv" == registry_csv()
        assert source == "generated"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSESSMENT_DATA_DIR", str(province.parent / "nowhere"))
        assert registry_source() == (REFERENCE_DIR / "units.csv", "committed")
    # dbt's resolution is the same function (kept importable from its old place).
    from pipelines.defs.dbt.resources import registry_csv as dbt_registry_csv

    assert dbt_registry_csv is registry_csv


def test_units_of_the_second_city_are_accepted(province: Path) -> None:
    with data_dir(province):
        result = materialize(QUARTER)
    assert result.success
    status = pl.read_parquet(province / "raw" / "unit_status" / f"{QUARTER}.parquet")
    assert status.height == 1000  # one row per unit of the province registry
    picked = status.filter(pl.col("unit_code").is_in(list(_picked_units())))
    assert sorted(picked.get_column("status").unique().to_list()) == ["on_time"]
    second_city = picked.filter(~pl.col("unit_code").str.starts_with("3716"))
    assert second_city.height == 3
    roster = pl.read_parquet(province / "raw" / "roster" / f"{QUARTER}.parquet")
    assert set(second_city.get_column("unit_code")) <= set(roster.get_column("unit_code"))
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["every_unit_has_a_status"].passed


def test_registry_check_passes_per_city_on_a_province(province: Path) -> None:
    with data_dir(province):
        result = dg.materialize([reference_data])
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.metadata["cities"].value == 2
    assert evaluation.metadata["source"].value == "generated"


def test_a_city_off_binzhou_structure_is_named() -> None:
    by_city = levels_by_city(load_registry())
    assert by_city == {"3716": EXPECTED_UNITS_BY_LEVEL}
    assert cities_off_structure(by_city) == {}
    skewed = {**by_city, "3701": {"市直": 70, "县直": 338, "乡镇": 92}}
    assert cities_off_structure(skewed) == {"3701": {"市直": 70, "县直": 338, "乡镇": 92}}
