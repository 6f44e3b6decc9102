"""The unit registry (单位名册): loading, validation and province-scale replication.

The registry decides which units owe a submission each quarter, so every per-unit rate in the
compliance metrics depends on it; a malformed registry must stop the pipeline, not skew the rates.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import polars as pl

from pipelines.domain import registry_builder as builder
from pipelines.domain.template import BASE_METHODS, LEVEL_LETTER, LEVELS
from pipelines.paths import REFERENCE_DIR, REGISTRY_ENV, registry_csv

UNITS_CSV = REFERENCE_DIR / "units.csv"
COUNTIES_CSV = REFERENCE_DIR / "counties.csv"
UNIT_COLUMNS = builder.UNIT_COLUMNS
UNITS_PER_CITY = 500
MAX_CITIES = 1 + len(builder.SHANDONG_CITIES)
MUNICIPAL = "市直"
_CODE = re.compile(r"^\d{6}-[SXZ]-\d{3}$")
_MAX_LISTED = 20  # a broken file can fail on thousands of rows; the first few are enough to act on


class RegistryError(ValueError):
    """The registry breaks a structural rule; the message names the offending rows."""


def registry_source() -> tuple[Path, str]:
    """The registry the pipeline runs on (pipelines.paths.registry_csv) and where it comes from:
    "configured" ($ASSESSMENT_REGISTRY_CSV), "generated" (a province registry the generator wrote into the
    data directory) or "committed" (data/reference/units.csv, Binzhou)."""
    path = registry_csv()
    if path.resolve() == UNITS_CSV.resolve():
        return path, "committed"
    return path, "configured" if os.environ.get(REGISTRY_ENV) else "generated"


def load_active_registry() -> pl.DataFrame:
    """The registry ingestion, the reference checks and dbt all use: see pipelines.paths.registry_csv."""
    return load_registry(registry_csv())


def load_registry(path: Path | str | None = None) -> pl.DataFrame:
    """Read and validate a registry CSV (default: the committed Binzhou registry); all columns Utf8."""
    source = Path(path) if path is not None else UNITS_CSV
    try:
        frame = pl.read_csv(source, infer_schema=False, encoding="utf8")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise RegistryError(f"{source}: cannot read the registry as UTF-8 CSV ({exc})") from exc
    return validate_registry(frame, source=str(source))


def validate_registry(frame: pl.DataFrame, source: str = "registry") -> pl.DataFrame:
    """Check the structural rules; returns the frame with canonical column order and Utf8 columns.

    Rows are named by their line in the CSV (the header is line 1) and their unit_code.
    """
    missing = [c for c in UNIT_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in UNIT_COLUMNS]
    if missing or extra:
        raise RegistryError(
            f"{source}: expected columns {', '.join(UNIT_COLUMNS)}; missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}"
        )
    frame = frame.select(pl.col(c).cast(pl.Utf8) for c in UNIT_COLUMNS)
    problems: list[str] = []
    n = frame.height
    if n == 0 or n % UNITS_PER_CITY:
        problems.append(
            f"has {n} rows; a registry holds {UNITS_PER_CITY} units per city (500 or 500×N for a province)"
        )
    rows = frame.rows(named=True)
    for i, row in enumerate(rows):
        problems.extend(f"line {i + 2} ({row['unit_code']}): {p}" for p in _row_problems(row))
    problems.extend(_duplicates(rows, "unit_code"))
    problems.extend(_duplicates(rows, "unit_name"))
    problems.extend(_county_name_conflicts(rows))
    if problems:
        shown = problems[:_MAX_LISTED]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise RegistryError(f"{source}: invalid unit registry:\n  " + "\n  ".join(shown) + more)
    return frame


def _row_problems(row: dict[str, str | None]) -> list[str]:
    blanks = [c for c in UNIT_COLUMNS if row[c] is None or not row[c].strip()]
    if blanks:
        return [f"empty {', '.join(blanks)}"]
    code, level, county, county_code = (str(row[c]) for c in ("unit_code", "level", "county", "county_code"))
    out: list[str] = []
    if level not in LEVELS:
        out.append(f"level {level!r} is not one of {', '.join(LEVELS)}")
    if row["base_method"] not in BASE_METHODS:
        out.append(f"base_method {row['base_method']!r} is not one of {', '.join(BASE_METHODS)}")
    if not _CODE.match(code):
        out.append("unit_code must look like 371602-X-017 (division code, S/X/Z, 3 digits)")
    else:
        if code[:6] != county_code:
            out.append(f"unit_code division {code[:6]} differs from county_code {county_code}")
        if level in LEVELS and code[7] != LEVEL_LETTER[level]:
            out.append(f"unit_code letter {code[7]} does not match level {level} ({LEVEL_LETTER[level]})")
    # Municipal units form their own group under the city code (…00); county units never do.
    is_city_code = county_code.endswith("00")
    if level == MUNICIPAL and (county != MUNICIPAL or not is_city_code):
        out.append(f"a 市直 unit needs county 市直 and a city code ending in 00, got {county} {county_code}")
    if level in LEVELS and level != MUNICIPAL and (county == MUNICIPAL or is_city_code):
        out.append(f"a {level} unit cannot belong to the municipal group ({county} {county_code})")
    return out


def _duplicates(rows: list[dict[str, str | None]], column: str) -> list[str]:
    lines: dict[str | None, list[int]] = {}
    for i, row in enumerate(rows):
        lines.setdefault(row[column], []).append(i + 2)
    return [
        f"duplicate {column} {value!r} on lines {', '.join(map(str, at))}"
        for value, at in lines.items()
        if value is not None and len(at) > 1
    ]


def _county_name_conflicts(rows: list[dict[str, str | None]]) -> list[str]:
    names: dict[str | None, Counter[str | None]] = {}
    for row in rows:
        names.setdefault(row["county_code"], Counter())[row["county"]] += 1
    conflicts = [
        f"county_code {code} carries several county names: {', '.join(map(str, seen))}"
        for code, seen in names.items()
        if len(seen) > 1
    ]
    # One county of a city under two codes would be ranked twice and get two extracts. The city is the
    # code's first four digits: 市直 recurs in every city of a province, under that city's own code.
    codes: dict[tuple[str, str | None], set[str]] = {}
    for row in rows:
        code = row["county_code"]
        if code:
            codes.setdefault((code[:4], row["county"]), set()).add(code)
    conflicts += [
        f"county {name} carries several county_codes: {', '.join(sorted(seen))}"
        for (_, name), seen in codes.items()
        if len(seen) > 1
    ]
    return conflicts


def counties(registry: pl.DataFrame) -> pl.DataFrame:
    """Distinct county groups (county_code, county) of a registry, municipal groups included."""
    return registry.select("county_code", "county").unique().sort("county_code")


def load_counties(path: Path | str | None = None) -> pl.DataFrame:
    """The committed county list (county_code, county_name), Utf8."""
    source = Path(path) if path is not None else COUNTIES_CSV
    frame = pl.read_csv(source, infer_schema=False, encoding="utf8")
    if frame.columns != list(builder.COUNTY_COLUMNS):
        raise RegistryError(f"{source}: expected columns {', '.join(builder.COUNTY_COLUMNS)}")
    return frame


def province_registry(n_cities: int, path: Path | str | None = None) -> pl.DataFrame:
    """Binzhou (as committed) followed by n_cities − 1 other Shandong cities of the same structure.

    The copies keep Binzhou's unit numbering and base methods; the city prefix of every code, the
    county names and (for municipal units) the city name in the unit name change, so codes and names
    stay unique province-wide.
    """
    if isinstance(n_cities, bool) or not isinstance(n_cities, int) or not 1 <= n_cities <= MAX_CITIES:
        raise ValueError(f"n_cities must be an integer from 1 to {MAX_CITIES}, got {n_cities!r}")
    base = load_registry(path)
    frames = [base]
    binzhou_names = {code[4:]: name for code, name in builder.COUNTIES}
    for prefix, city, division_names in builder.SHANDONG_CITIES[: n_cities - 1]:
        suffixes = zip(builder.DIVISION_SUFFIXES, division_names, strict=True)
        rename = {binzhou_names[suffix]: name for suffix, name in suffixes}
        frames.append(pl.DataFrame([_relocate(row, prefix, city, rename) for row in base.rows(named=True)]))
    return validate_registry(pl.concat(frames), source=f"province registry ({n_cities} cities)")


def _relocate(row: dict[str, str], prefix: str, city: str, rename: dict[str, str]) -> dict[str, str]:
    if row["level"] == MUNICIPAL:
        county = MUNICIPAL
        # 市发改委 → 济南市发改委, 团市委 → 团济南市委: the city name goes before the first 市.
        name = row["unit_name"].replace("市", f"{city}市", 1)
    else:
        county = rename[row["county"]]
        name = row["unit_name"].replace(row["county"], county, 1)
    return {
        **row,
        "unit_code": prefix + row["unit_code"][4:],
        "unit_name": name,
        "county": county,
        "county_code": prefix + row["county_code"][4:],
    }
