"""Resident identity numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
# What the cheap filters before find_ids look for, in Python, polars and DuckDB alike: an ID holds at
# least ID_MIN_DIGITS digits (ASCII or full-width), and a digit takes at least one byte, so a text
# shorter than ID_MIN_DIGITS bytes cannot hold one.
ID_DIGIT = r"[0-9０-９]"
ID_MIN_DIGITS = 17


def check_character(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid(national_id: str) -> bool:
    """True when the shape is right and the check character matches (lower-case x is not accepted)."""
    return bool(_SHAPE.match(national_id)) and check_character(national_id[:17]) == national_id[17]


def make(region: str, birth_yyyymmdd: str, sequence: int) -> str:
    """Build a valid ID from a 6-digit region, a birth date and a 3-digit sequence (odd = male)."""
    first17 = f"{region}{birth_yyyymmdd}{sequence:03d}"
    return first17 + check_character(first17)


# -- finding IDs inside free text -----------------------------------------------------------------------
#
# A unit may type an ID anywhere: glued to Chinese text, in groups (371623 19850304 123X), hyphenated,
# in full-width digits, with a lower-case x. The detector folds full-width characters, cuts the text into
# tokens (a run of digits, or an X) joined by short separator runs, and tries every
# span of whole tokens that holds exactly 18 characters with X only last. A span is an ID when its check
# character is right. Deliberate limits (docs/security.md):
# - tokens are whole: 18 digits glued directly inside a longer digit run are a different, longer number;
# - region and birth date are not required (an ID made with any 17 digits is still masked); one random
#   18-digit number in 11 has a valid check character and is masked too: losing a document number from a
#   task name is cheaper than publishing an ID, and the unit's receipt says what was masked where;
# - an ID with a wrong check character (a typo, or 37162319850304123X as someone may write it) is masked
#   when its region is a real province prefix and its birth date a real date from 1900 on;
# - a whole value that is a lower-case hex digest (person keys, submission ids) is not text a unit typed.

MASK = "[身份证号已隐去]"
_FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "Ｘ": "X", "ｘ": "X", "x": "X"})
_TOKEN = re.compile(r"[0-9]+|X")
# Between the groups of one ID: up to MAX_SEPARATOR_RUN whitespace characters (Python's: every one
# str.isspace() accepts) or SEPARATOR_CHARS: dashes, dots, underscores, slashes, middle dots, commas,
# colons, brackets, and characters that show nothing (a soft hyphen, zero-width and direction marks).
# An independent probe published IDs written 110101,19900307,1137, 110101(19900307)1233, with soft
# hyphens or zero-width joiners, or with four spaces between the groups. The prefilters before the
# detector (ID_SPAN_HINT below, publish/audit.ID_SEPARATORS) are built from these.
SEPARATOR_CHARS = (
    "-‐‑‒–—―－_.．·/／,，、;；:：()（）[]【】"
    "\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069"
)
MAX_SEPARATOR_RUN = 4
_SEPARATOR = re.compile(rf"[\s{re.escape(SEPARATOR_CHARS)}]{{1,{MAX_SEPARATOR_RUN}}}")
_ANY_DIGIT = re.compile(r"\d")  # Unicode decimal digits, as _FOLD folds them

# A text the shared detector can find an ID in holds 17 digits (ASCII or full-width) in a row, each
# next one glued or after at most MAX_SEPARATOR_RUN separator characters (no separator is a digit): the
# 17 digits before an ID's check character. For polars (Rust regex), a superset of the detector's hits:
# any such run of non-digits stands for a separator run, so no character class has to agree between two
# engines.
_DIGIT_RE2 = r"[0-9\x{FF10}-\x{FF19}]"
_NOT_DIGITS_RE2 = rf"[^0-9\x{{FF10}}-\x{{FF19}}]{{0,{MAX_SEPARATOR_RUN}}}"
ID_SPAN_HINT = rf"{_DIGIT_RE2}(?:{_NOT_DIGITS_RE2}{_DIGIT_RE2}){{16}}"
_HEX_DIGEST = re.compile(r"^[0-9a-f]{32,}$")


# Any other Unicode decimal digit (Arabic-Indic, mathematical bold …) folds to its ASCII digit too: a
# receipt quotes a cell as typed, before normalisation folds it, and a probe's 𝟏𝟏𝟎𝟏𝟎𝟏… showed there.


def _fold(text: str) -> str:
    """`text` with every digit ASCII and every X upper-case, one character for one (offsets stay valid)."""
    folded = text.translate(_FOLD)
    if folded.isascii():
        return folded
    return _ANY_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), folded)


@dataclass(frozen=True)
class Span:
    """Where an ID sits in the original text (end exclusive), and the ID in canonical form."""

    start: int
    end: int
    value: str

    @property
    def plausible(self) -> bool:
        """Region starts 1–8 and the birth date is a real date from 1900 on (for reporting only)."""
        return self.value[0] in "12345678" and _real_date(self.value[6:14])


def _real_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born.year >= 1900


# First two digits of the provinces, regions and HK/Macau/Taiwan (GB/T 2260).
_PROVINCES = frozenset(
    (
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    )
)


def _looks_typed_wrong(chars: str) -> bool:
    """An ID with a wrong check character is still somebody's ID (or one typo away from it): masked
    when region and birth date are real, which random digits almost never are (about 1 in 4,000)."""
    return chars[:2] in _PROVINCES and _real_date(chars[6:14]) and chars[6:8] in ("19", "20")


def may_hold_id(text: str) -> bool:
    """Cheap test: fewer than ID_MIN_DIGITS digits (of any script: Python's \\d) cannot hold an ID."""
    return len(_ANY_DIGIT.findall(text)) >= ID_MIN_DIGITS


def find_ids(text: str) -> list[Span]:
    """Every national ID in `text`, left to right, non-overlapping."""
    if not text or not may_hold_id(text) or _HEX_DIGEST.match(text):
        return []
    folded = _fold(text)  # one character for one: offsets stay valid in `text`
    tokens = list(_TOKEN.finditer(folded))
    found: list[Span] = []
    i = 0
    while i < len(tokens):
        span = _span_from(folded, tokens, i)
        if span is None:
            i += 1
            continue
        found.append(span[0])
        i = span[1]
    return found


def _span_from(folded: str, tokens: list[re.Match[str]], first: int) -> tuple[Span, int] | None:
    """The ID made of tokens first..k, if any, and the index of the token after it."""
    chars = ""
    for k in range(first, len(tokens)):
        glued = tokens[k - 1].end() == tokens[k].start() if k > first else True
        # Groups need a separator between them; only the check character may follow its digits glued.
        if k > first and not (
            (glued and tokens[k].group() == "X")
            or _SEPARATOR.fullmatch(folded, tokens[k - 1].end(), tokens[k].start())
        ):
            return None
        chars += tokens[k].group()
        if len(chars) > 18 or ("X" in chars[:-1]):
            return None
        if len(chars) == 18:
            if is_valid(chars) or _looks_typed_wrong(chars):
                return Span(tokens[first].start(), tokens[k].end(), chars), k + 1
            return None
    return None


def mask_ids(text: str, mask: str = MASK) -> tuple[str, int]:
    """`text` with every ID replaced by `mask`, and how many were replaced."""
    spans = find_ids(text)
    if not spans:
        return text, 0
    parts, last = [], 0
    for s in spans:
        parts += [text[last : s.start], mask]
        last = s.end
    parts.append(text[last:])
    return "".join(parts), len(spans)
