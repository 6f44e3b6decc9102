"""Cell values for the workbooks and notices: formula-like text neutralised (the project's one helper,
pipelines/domain/safe_cells.py), safe file names, CJK display widths."""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

from pipelines.domain.safe_cells import FORMULA_STARTS, neutralise

__all__ = ["FORMULA_STARTS", "display_width", "is_missing", "neutralise", "safe_name"]

_UNSAFE_NAME = re.compile(r"[^\w\u3400-\u9fff（）()\-]+")


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name part from a unit or county name: letters, digits, CJK, brackets and hyphens only."""
    cleaned = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFKC", text)).strip("_.")
    return cleaned[:limit] or "_"


@lru_cache(maxsize=65536)  # sections, grades, yes/no and headers repeat in every unit's workbook
def display_width(text: str) -> int:
    """Columns a text needs in Excel: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
