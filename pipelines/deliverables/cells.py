"""Cell values for the workbooks and notices: formula-like text neutralised, safe file names.

No shared helper existed when this was written (another change may add one in pipelines/): this is a
small local one. Text that units typed is data; a cell starting with = + - @ (or a tab or carriage
return, which some spreadsheet programs skip before one of those) could run as a formula once the
sheet is copied elsewhere, so it gets a leading apostrophe, as OWASP recommends.
"""

from __future__ import annotations

import math
import re
import unicodedata

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^\w\u3400-\u9fff（）()\-]+")


def neutralise(value: object) -> object:
    """The value to write: text starting like a formula gets a leading apostrophe; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_LEADS)


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name part from a unit or county name: letters, digits, CJK, brackets and hyphens only."""
    cleaned = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFKC", text)).strip("_.")
    return cleaned[:limit] or "_"


def display_width(text: str) -> int:
    """Columns a text needs in Excel: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
