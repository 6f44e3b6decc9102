"""Text that units typed is data, never a formula: neutralise it in every CSV or Excel file we write.

Excel, WPS and LibreOffice evaluate a cell that starts with `=`, `+`, `-` or `@` (and, after a tab or a
carriage return, the text that follows) as a formula, so `=HYPERLINK("http://…","点此")` in a task name
would become a live link in an operator's spreadsheet (CSV injection, OWASP). Such a text gets a leading
apostrophe, the spreadsheet convention for "this is text"; the visible value is unchanged. Numbers are
never touched (only strings are), so a negative adjustment stays a number.

Every CSV or Excel file the project writes goes through `write_csv` / `safe_rows` (the synthetic
generator is the exception: it writes the units' own hostile input on purpose).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START_RE = r"^[=+\-@\t\r]"
TEXT_MARK = "'"


def neutralise(value: Any) -> Any:
    """`value` with a leading apostrophe when it is a string a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARK + value
    return value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` neutralised (vectorised; other columns unchanged)."""
    exprs = [
        pl.when(pl.col(c).str.contains(_FORMULA_START_RE))
        .then(pl.lit(TEXT_MARK) + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in frame.schema.items()
        if t == pl.Utf8
    ]
    return frame.with_columns(exprs) if exprs else frame


def safe_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for csv.DictWriter (or an Excel writer) with every string neutralised."""
    return [{k: neutralise(v) for k, v in row.items()} for row in rows]


def write_csv(frame: pl.DataFrame, path: Path, **options: Any) -> Path:
    """polars' write_csv on the neutralised frame (UTF-8 with a BOM by default, so Excel reads Chinese)."""
    options.setdefault("include_bom", True)
    neutralise_frame(frame).write_csv(path, **options)
    return path
