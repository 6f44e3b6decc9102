"""Per-Kind cell normalisers: the spellings the template tolerates become one canonical text.

Every normaliser takes the cell as text (and whether the workbook stored it as a number) and
returns the canonical text plus the warning kinds that explain what was changed. A value that is
not a valid spelling of its kind comes back cleaned but otherwise unchanged, so the declarative
suites (expectations/*.json) reject it with the unit's own value in the receipt.

Rules (submission-format.md, and the noise the generator documents in pipelines/synthetic/noise.py):
- full-width ASCII U+FF01..U+FF5E folds to ASCII; U+3000 is whitespace. In free text only full-width
  digits and letters fold: full-width punctuation (，。（）) is ordinary Chinese typography there.
- codes lose all whitespace; text and enum cells are stripped and lose whitespace between two CJK
  characters (张  三 -> 张三), never between Latin words.
- numbers stored as text are parsed; a share may be written 60% or 0.6.
- dates: 2026-10-09, 2026/10/9, 2026年10月9日, or an Excel serial number (as a number or text).
- yes/no: 是/否, also Y/N, 1/0, √/× (and TRUE/FALSE).
- quarters: 2026Q3, 2026-Q3, 2026年第3季度.
- code lists: separated by 、 (canonical) or ，,;； or whitespace.
- invisible control characters (C0/C1 controls other than tab and line breaks, bidi overrides, zero-width
  spaces, stray BOMs) are removed from every cell: they cannot be seen in Excel, would make two equal
  codes differ, and some writers downstream refuse them.
- free text that starts like a formula (=, +, -, @) is kept as text with a warning; whatever the
  project writes neutralises it.

Numbers are checked here for what a float can hold: NaN, infinities and anything that overflows are
never turned into a canonical number, so no arithmetic downstream ever sees them.

Canonical texts (what CANONICAL_PATTERNS describe): numbers as the shortest decimal (85, 84.5),
integers without a fraction, dates ISO (2026-10-09), booleans 是/否, quarters 2026Q3, lists joined
by 、.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from pipelines.domain.quarters import parse_quarter
from pipelines.domain.template import FALSE_WORDS, TRUE_WORDS, Kind

Source = Literal["xlsx", "csv"]

FULLWIDTH = "fullwidth_normalised"
WHITESPACE = "whitespace_normalised"
NUMBER_AS_TEXT = "number_as_text"
DATE_VARIANT = "date_variant"
BOOL_VARIANT = "bool_variant"
QUARTER_VARIANT = "quarter_variant"
LIST_SEPARATOR = "list_separator"
CONTROL_CHARS = "control_chars_removed"
FORMULA_LIKE = "formula_like_text"

YES, NO = "是", "否"
LIST_JOIN = "、"
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is absorbed
# Template dates are deadlines and filing dates; a year outside this is a typo or a stray number
# (2025 typed into a date cell would otherwise become the serial date 1905-07-17).
MIN_YEAR, MAX_YEAR = 1950, 2099

# Canonical text per kind; the GX suites check these, and the typed cast relies on them.
CANONICAL_PATTERNS: dict[Kind, str] = {
    # A code never starts like a formula (=, +, -, @): it is an identifier, and it is published.
    Kind.CODE: r"^[^\s=+\-@]\S*$",
    Kind.INT: r"^-?\d+$",
    Kind.NUMBER: r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$",
    Kind.SHARE: r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$",
    Kind.DATE: r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$",
    Kind.BOOL: r"^(?:是|否)$",
    Kind.QUARTER: r"^\d{4}Q[1-4]$",
    Kind.CODE_LIST: r"^[^\s、=+\-@][^\s、]*(?:、[^\s、=+\-@][^\s、]*)*$",
}

_FOLD_ALL = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD_ALNUM = {
    c: c - 0xFEE0
    for lo, hi in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for c in range(lo, hi + 1)
}
_CJK = "\u3400-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NATIVE_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATE_VARIANTS = (
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$"),
)
_SERIAL = re.compile(r"^\d{1,6}(\.\d+)?$")
_LIST_SEPARATORS = re.compile(r"[、，,;；\s]+")
# Invisible characters no clerk can see or mean: C0/C1 controls except tab, LF and CR; zero-width
# space; LRM/RLM and the bidi embeddings, overrides and isolates; word joiner; BOM. (ZWJ/ZWNJ stay:
# emoji and some scripts need them.)
INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1 controls, DEL (tab, LF, CR stay)
    r"\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
# Text a spreadsheet would run as a formula (the OWASP CSV-injection prefixes); a leading sign before
# a digit is a number, not a formula.
_FORMULA_LIKE = re.compile(r"^(?:[=@]|[+-](?![\d.\s]|$))")
_TRUE = frozenset(TRUE_WORDS)
_FALSE = frozenset(FALSE_WORDS)


@dataclass(frozen=True)
class Normalised:
    value: str | None  # canonical text, None for a blank cell
    warnings: tuple[str, ...] = ()


BLANK = Normalised(None)


def is_blank(raw: str | None) -> bool:
    return raw is None or not raw.strip()


@lru_cache(maxsize=200_000)
def normalise(kind: Kind, raw: str | None, numeric: bool = False, source: Source = "xlsx") -> Normalised:
    """Normalise one cell. `numeric`: the workbook stored the cell as a number (never for CSV).

    Cached: a sheet repeats the same few hundred spellings thousands of times.
    """
    if is_blank(raw):
        return BLANK
    assert raw is not None
    if INVISIBLE.search(raw):
        cleaned = _normalise(kind, INVISIBLE.sub("", raw), numeric, source)
        return Normalised(cleaned.value, (CONTROL_CHARS, *cleaned.warnings))
    return _normalise(kind, raw, numeric, source)


def _normalise(kind: Kind, raw: str, numeric: bool, source: Source) -> Normalised:
    if is_blank(raw):
        return BLANK
    if kind == Kind.TEXT:
        text = _text(raw, _FOLD_ALNUM)
        if text.value is not None and _FORMULA_LIKE.match(text.value):
            return Normalised(text.value, (*text.warnings, FORMULA_LIKE))
        return text
    if kind == Kind.ENUM:
        return _text(raw, _FOLD_ALL)
    if kind == Kind.CODE:
        return _code(raw)
    if kind in (Kind.INT, Kind.NUMBER, Kind.SHARE):
        return _number(kind, raw, numeric, source)
    if kind == Kind.DATE:
        return _date(raw, numeric, source)
    if kind == Kind.BOOL:
        return _bool(raw)
    if kind == Kind.QUARTER:
        return _quarter(raw)
    if kind == Kind.CODE_LIST:
        return _code_list(raw)
    raise ValueError(f"no normaliser for kind {kind!r}")


def fold(text: str, table: dict[int, int] = _FOLD_ALL) -> tuple[str, bool]:
    """Fold full-width forms; U+3000 becomes a space but does not count as full-width."""
    folded = text.translate(table)
    return folded.replace("\u3000", " "), folded != text


def _cleaned(raw: str, table: dict[int, int]) -> tuple[str, list[str]]:
    """Fold and strip; the warnings say which of the two changed anything."""
    folded, was_wide = fold(raw, table)
    stripped = folded.strip()
    warnings = [FULLWIDTH] if was_wide else []
    if stripped != folded:
        warnings.append(WHITESPACE)
    return stripped, warnings


def _text(raw: str, table: dict[int, int]) -> Normalised:
    stripped, warnings = _cleaned(raw, table)
    joined = _CJK_GAP.sub("", stripped)
    if joined != stripped and WHITESPACE not in warnings:
        warnings.append(WHITESPACE)
    return Normalised(joined, tuple(warnings))


def _code(raw: str) -> Normalised:
    folded, was_wide = fold(raw)
    squeezed = _SPACE.sub("", folded)
    warnings = [FULLWIDTH] if was_wide else []
    if squeezed != folded:
        warnings.append(WHITESPACE)
    return Normalised(squeezed, tuple(warnings))


def format_number(value: float | int) -> str:
    """Shortest canonical decimal: 85, 84.5, 0.6 (ints too: template bounds may be written as 1 or 5)."""
    value = float(value)
    if not math.isfinite(value):
        return repr(value)  # never a canonical number; only ever quoted in a message
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def parse_number(text: str) -> float | None:
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _number(kind: Kind, raw: str, numeric: bool, source: Source) -> Normalised:
    text, warnings = _cleaned(raw, _FOLD_ALL)
    percent = kind == Kind.SHARE and text.endswith("%")
    value = parse_number(text[:-1].strip() if percent else text)
    if value is None:
        return Normalised(text, tuple(warnings))
    if percent:
        value = round(value / 100, 12)
    # A number typed as text is only worth its own warning when nothing else explains the cell.
    if source == "xlsx" and not numeric and not warnings:
        warnings.append(NUMBER_AS_TEXT)
    if kind == Kind.INT and value.is_integer():
        return Normalised(str(int(value)), tuple(warnings))
    return Normalised(format_number(value), tuple(warnings))


def _ymd(y: str, m: str, d: str) -> str | None:
    try:
        day = date(int(y), int(m), int(d))
    except ValueError:
        return None
    return day.isoformat() if MIN_YEAR <= day.year <= MAX_YEAR else None


def excel_serial_date(serial: float) -> str | None:
    """ISO date of an Excel serial day number (the fraction, a time of day, is dropped)."""
    if not 1 <= serial < 2_958_466:
        return None
    day = EXCEL_EPOCH + timedelta(days=int(serial))
    return day.isoformat() if MIN_YEAR <= day.year <= MAX_YEAR else None


def _date(raw: str, numeric: bool, source: Source) -> Normalised:
    text, warnings = _cleaned(raw, _FOLD_ALL)
    if numeric or _SERIAL.match(text):
        serial = parse_number(text)
        iso = excel_serial_date(serial) if serial is not None else None
        if iso is None:
            return Normalised(text, tuple(warnings))
        return Normalised(iso, (*warnings, DATE_VARIANT))
    m = _NATIVE_DATETIME.match(text)
    if m:
        iso = _ymd(*m.groups()[:3])
        # calamine renders a real date cell this way; in a CSV it is someone's typing.
        extra = () if source == "xlsx" else (DATE_VARIANT,)
        return Normalised(iso, (*warnings, *extra)) if iso else Normalised(text, tuple(warnings))
    m = _ISO.match(text)
    if m:
        iso = _ymd(*m.groups())
        if iso is None:
            return Normalised(text, tuple(warnings))
        # ISO is the canonical CSV spelling; in a workbook a date typed as text is a variant.
        canonical = source == "csv" and text == iso
        return Normalised(iso, tuple(warnings) if canonical else (*warnings, DATE_VARIANT))
    for pattern in _DATE_VARIANTS:
        m = pattern.match(text)
        if m:
            iso = _ymd(*m.groups())
            if iso is None:
                return Normalised(text, tuple(warnings))
            return Normalised(iso, (*warnings, DATE_VARIANT))
    return Normalised(text, tuple(warnings))


def _bool(raw: str) -> Normalised:
    text, warnings = _cleaned(raw, _FOLD_ALL)
    if text in (YES, NO):
        return Normalised(text, tuple(warnings))
    if text in _TRUE:
        return Normalised(YES, (*warnings, BOOL_VARIANT))
    if text in _FALSE:
        return Normalised(NO, (*warnings, BOOL_VARIANT))
    return Normalised(text, tuple(warnings))


def _quarter(raw: str) -> Normalised:
    text, warnings = _cleaned(raw, _FOLD_ALL)
    try:
        key = parse_quarter(text).key
    except ValueError:
        return Normalised(text, tuple(warnings))
    if key != text:
        warnings.append(QUARTER_VARIANT)
    return Normalised(key, tuple(warnings))


def _code_list(raw: str) -> Normalised:
    stripped = raw.strip()
    warnings: list[str] = [WHITESPACE] if stripped != raw else []
    tokens = [t for t in _LIST_SEPARATORS.split(stripped) if t]
    separators = _LIST_SEPARATORS.findall(stripped)
    codes = []
    for token in tokens:
        folded, was_wide = fold(token)
        if was_wide and FULLWIDTH not in warnings:
            warnings.append(FULLWIDTH)
        codes.append(folded)
    if any(sep != LIST_JOIN for sep in separators):
        warnings.append(LIST_SEPARATOR)
    if not codes:
        return BLANK
    return Normalised(LIST_JOIN.join(codes), tuple(warnings))


def split_codes(canonical: str | None) -> list[str]:
    """The codes of a canonical list cell."""
    return canonical.split(LIST_JOIN) if canonical else []
