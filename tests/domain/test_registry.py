"""The committed unit registry (单位名册), its builder, the loader's validation and province scaling."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from pipelines.domain import registry_builder
from pipelines.domain.registry import (
    COUNTIES_CSV,
    UNITS_CSV,
    RegistryError,
    counties,
    load_counties,
    load_registry,
    province_registry,
)
from pipelines.paths import PROJECT_ROOT

BINZHOU_COUNTIES = {
    "371600": "市直",
    "371602": "滨城区",
    "371603": "沾化区",
    "371621": "惠民县",
    "371622": "阳信县",
    "371623": "无棣县",
    "371625": "博兴县",
    "371681": "邹平市",
}


@pytest.fixture(scope="module")
def registry() -> pl.DataFrame:
    return load_registry()


def test_committed_registry_has_the_article_counts(registry: pl.DataFrame) -> None:
    assert registry.height == 500
    assert registry.columns == ["unit_code", "unit_name", "level", "county", "county_code", "base_method"]
    assert all(dtype == pl.Utf8 for dtype in registry.dtypes)
    assert Counter(registry["level"]) == {"市直": 69, "县直": 339, "乡镇": 92}


def test_seven_counties_plus_the_municipal_group(registry: pl.DataFrame) -> None:
    groups = dict(counties(registry).iter_rows())
    assert groups == BINZHOU_COUNTIES
    listed = dict(load_counties().iter_rows())
    assert listed == BINZHOU_COUNTIES
    municipal = registry.filter(pl.col("level") == "市直")
    assert set(municipal["county"]) == {"市直"} and set(municipal["county_code"]) == {"371600"}
    per_county = Counter(zip(registry["county"], registry["level"], strict=True))
    for name in list(BINZHOU_COUNTIES.values())[1:]:
        assert 45 <= per_county[(name, "县直")] <= 52, name
        assert 10 <= per_county[(name, "乡镇")] <= 17, name


def test_unit_codes_are_well_formed_and_numbered_from_001(registry: pl.DataFrame) -> None:
    letters = {"市直": "S", "县直": "X", "乡镇": "Z"}
    numbers: dict[tuple[str, str], list[int]] = {}
    for row in registry.iter_rows(named=True):
        code = row["unit_code"]
        assert re.fullmatch(r"\d{6}-[SXZ]-\d{3}", code), code
        division, letter, number = code.split("-")
        assert division == row["county_code"]
        assert letter == letters[row["level"]]
        numbers.setdefault((division, letter), []).append(int(number))
    for key, seen in numbers.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), key
    assert registry["unit_code"].n_unique() == 500


def test_base_methods_follow_the_article(registry: pl.DataFrame) -> None:
    municipal = registry.filter(pl.col("level") == "市直")
    assert Counter(municipal["base_method"]) == {
        "workload_weighted": 25,
        "section_coefficient": 10,
        "category_peer": 5,
        "uniform": 29,
    }
    others = registry.filter(pl.col("level") != "市直")
    assert set(others["base_method"]) == {"uniform"}
    method = dict(zip(municipal["unit_name"], municipal["base_method"], strict=True))
    assert method["市城管局"] == "workload_weighted"
    assert method["市发改委"] == "section_coefficient"
    assert method["市公安局"] == "category_peer"
    assert method["市生态环境局"] == "category_peer"


def test_names_are_unique_and_shaped_by_level(registry: pl.DataFrame) -> None:
    assert registry["unit_name"].n_unique() == 500
    for row in registry.iter_rows(named=True):
        name, level, county = row["unit_name"], row["level"], row["county"]
        if level == "市直":
            assert "市" in name, name
        elif level == "县直":
            assert county in name, name
        else:
            assert name.startswith(county), name
            assert name.endswith(("镇人民政府", "乡人民政府", "街道办事处")), name
    names = set(registry["unit_name"])
    for expected in (
        "市委组织部",
        "市总工会",
        "团市委",
        "市中级人民法院",
        "滨城区市西街道办事处",
        "邹平市魏桥镇人民政府",
    ):
        assert expected in names


def test_builder_reproduces_the_committed_files_byte_identically(tmp_path: Path) -> None:
    assert registry_builder.render_units_csv() == UNITS_CSV.read_bytes()
    assert registry_builder.render_counties_csv() == COUNTIES_CSV.read_bytes()
    subprocess.run(
        [sys.executable, "-m", "pipelines.domain.registry_builder", "--out", str(tmp_path)],
        check=True,
        cwd=PROJECT_ROOT,
        capture_output=True,
    )
    assert (tmp_path / "units.csv").read_bytes() == UNITS_CSV.read_bytes()
    assert (tmp_path / "counties.csv").read_bytes() == COUNTIES_CSV.read_bytes()


def test_province_registry_scales_to_sixteen_cities(registry: pl.DataFrame) -> None:
    province = province_registry(16)
    assert province.height == 8000
    assert province["unit_code"].n_unique() == 8000
    assert province["unit_name"].n_unique() == 8000
    divisions = counties(province)
    assert divisions.height == 16 * 8
    assert divisions["county_code"].n_unique() == 128
    assert province.head(500).equals(registry)
    cities = province["unit_code"].str.slice(0, 4)
    assert cities.n_unique() == 16
    assert "3712" not in set(cities)  # Laiwu was merged into Jinan in 2019
    # Every city copies Binzhou's structure and base methods.
    for city in set(cities):
        part = province.filter(cities == city)
        assert Counter(part["level"]) == {"市直": 69, "县直": 339, "乡镇": 92}
        assert part["base_method"].to_list() == registry["base_method"].to_list()
    jinan = province.filter(pl.col("unit_code") == "370100-S-018").row(0, named=True)
    assert jinan["unit_name"] == "济南市发改委" and jinan["base_method"] == "section_coefficient"


def test_province_registry_of_one_city_is_binzhou(registry: pl.DataFrame) -> None:
    assert province_registry(1).equals(registry)


@pytest.mark.parametrize("n", [0, 17, -1, True, 2.0])
def test_province_registry_refuses_impossible_sizes(n: object) -> None:
    with pytest.raises(ValueError, match="n_cities"):
        province_registry(n)  # type: ignore[arg-type]


def _lines() -> list[str]:
    return UNITS_CSV.read_text(encoding="utf-8").splitlines()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "units.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replace_line(line_no: int, old: str, new: str) -> list[str]:
    lines = _lines()
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    return lines


def _moved_to_phantom_county() -> list[str]:
    """Line 80's unit under county code 371699 (in no list), its unit code moved along, name kept."""
    lines = _lines()
    lines[79] = lines[79].replace("371602", "371699")
    return lines


# Line 2 is 371600-S-001 市委办公室; line 80 is a 县直 unit of 滨城区.
BROKEN = {
    "bad code format": (_replace_line(2, "371600-S-001", "371600-S-01"), ["line 2", "371600-S-01"]),
    "division prefix differs": (_replace_line(2, "371600-S-001", "371602-S-001"), ["line 2", "division"]),
    "letter does not match level": (_replace_line(2, "371600-S-001", "371600-X-001"), ["line 2", "letter"]),
    "unknown level": (_replace_line(2, ",市直,市直,", ",市属,市直,"), ["line 2", "level '市属'"]),
    "unknown base method": (_replace_line(2, "workload_weighted", "weighted"), ["line 2", "base_method"]),
    "empty name": (_replace_line(2, "市委办公室", ""), ["line 2", "empty unit_name"]),
    "duplicate code": (
        _replace_line(3, "371600-S-002", "371600-S-001"),
        ["duplicate unit_code", "lines 2, 3"],
    ),
    "duplicate name": (_replace_line(3, "市委组织部", "市委办公室"), ["duplicate unit_name", "lines 2, 3"]),
    # A probe moved one 滨城区 unit to an unlisted code: 滨城区 was ranked twice, with two extracts.
    "one county under two codes": (
        _moved_to_phantom_county(),
        ["county 滨城区 carries several county_codes", "371602", "371699"],
    ),
    "county unit in the municipal group": (
        _replace_line(80, _lines()[79].split(",")[3] + ",", "市直,"),
        ["line 80", "municipal group"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_registries_are_refused_naming_the_row(tmp_path: Path, case: str) -> None:
    lines, fragments = BROKEN[case]
    with pytest.raises(RegistryError) as info:
        load_registry(_write(tmp_path, lines))
    message = str(info.value)
    assert "units.csv" in message
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_wrong_row_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="499 rows"):
        load_registry(_write(tmp_path, _lines()[:-1]))


def test_missing_column_is_refused(tmp_path: Path) -> None:
    lines = [",".join(line.split(",")[:-1]) for line in _lines()]
    with pytest.raises(RegistryError, match="missing \\['base_method'\\]"):
        load_registry(_write(tmp_path, lines))


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    lines = _lines()
    lines[1] = lines[1].replace("workload_weighted", "weighted")
    lines[9] = lines[9].replace(",市直,市直,", ",市属,市直,")
    with pytest.raises(RegistryError) as info:
        load_registry(_write(tmp_path, lines))
    assert "line 2" in str(info.value) and "line 10" in str(info.value)
