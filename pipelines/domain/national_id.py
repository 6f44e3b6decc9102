"""Resident identity numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


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
