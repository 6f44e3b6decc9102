"""The rules files as a Parquet table dbt can join: `raw/rules/rules.parquet`.

One row per parameter and rules year, in long form, so a new parameter or a new year needs no schema
change. Besides the flat `parameter` key of `Rules.dbt_vars()` every row carries its structure:
`scope` (the dotted path of the section or mapping, e.g. `evaluation.tier_weights`), `member` (the
mapping key, e.g. `分管领导`, or null) and `name` (the field, e.g. `min_raters`, or null for a plain
mapping value), so dbt never parses keys. Numbers and booleans are in `value_number` (booleans as
1.0/0.0); every value is also in `value_text`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.domain.rules import Rules, load_rules
from pipelines.paths import raw_dir, rules_years

RULES_SCHEMA: dict[str, pl.DataType] = {
    "rules_year": pl.Int64,
    "rules_version": pl.Utf8,
    "rules_fingerprint": pl.Utf8,
    "parameter": pl.Utf8,
    "scope": pl.Utf8,
    "member": pl.Utf8,
    "name": pl.Utf8,
    "value_number": pl.Float64,
    "value_text": pl.Utf8,
}


def _walk(
    value: Any, path: tuple[str, ...], member_at: int | None
) -> Iterator[tuple[tuple[str, ...], int | None, Any]]:
    """(path, index of the mapping key in path or None, scalar) for every scalar below `value`."""
    if is_dataclass(value):
        for f in fields(value):
            yield from _walk(getattr(value, f.name), (*path, f.name), member_at)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)), len(path) if member_at is None else member_at)
    else:
        yield path, member_at, value


def rules_rows(rules: Rules) -> list[dict[str, Any]]:
    """The long-form rows of one year's rules; `parameter` equals the `Rules.dbt_vars()` key."""
    rows: list[dict[str, Any]] = []
    for f in fields(rules):
        section = getattr(rules, f.name)
        if not is_dataclass(section):
            continue
        for path, member_at, value in _walk(section, (f.name,), None):
            if member_at is None:
                scope, member, name = ".".join(path[:-1]), None, path[-1]
            else:
                scope, member = ".".join(path[:member_at]), path[member_at]
                name = ".".join(path[member_at + 1 :]) or None
            number = float(value) if isinstance(value, bool | int | float) else None
            rows.append(
                {
                    "rules_year": rules.year,
                    "rules_version": rules.version,
                    "rules_fingerprint": rules.fingerprint,
                    "parameter": "_".join(path),
                    "scope": scope,
                    "member": member,
                    "name": name,
                    "value_number": number,
                    "value_text": str(value).lower() if isinstance(value, bool) else str(value),
                }
            )
    return rows


def rules_frame(years: Iterable[int] | None = None, directory: Path | None = None) -> pl.DataFrame:
    """Every requested year's rules (default: every committed year) as one long frame."""
    chosen = list(years) if years is not None else rules_years(directory)
    rows = [row for year in chosen for row in rules_rows(load_rules(year, directory))]
    return pl.DataFrame(rows, schema=RULES_SCHEMA, orient="row")


def write_rules_table(
    data_dir: Path | None = None, years: Iterable[int] | None = None, directory: Path | None = None
) -> Path:
    """Write `<data_dir>/raw/rules/rules.parquet` (default data dir: $ASSESSMENT_DATA_DIR) and return it.

    Written to a temporary name and renamed, so a reader never sees half a file.
    """
    target_dir = (data_dir / "raw" if data_dir is not None else raw_dir()) / "rules"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "rules.parquet"
    tmp = target_dir / ".rules.parquet.tmp"
    rules_frame(years, directory).write_parquet(tmp)
    tmp.replace(target)
    return target
