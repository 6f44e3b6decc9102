"""Figures on a person's notice read as the unit workbook's 0.00 cells show them (Excel rounds halves up)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.deliverables.notice import _num, _pct


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # a probe found 96 of 7,196 figures printed one cent lower on the notice than in the workbook
        (89.785, "89.79"),  # stored as 89.78499999999999…
        (92.505, "92.51"),
        (89.78499999999999, "89.79"),  # the same score summed in another order
        (79.995, "80.00"),
        (100.0, "100.00"),
        (0.0, "0.00"),
    ],
)
def test_scores_are_printed_halves_up(value: float, shown: str) -> None:
    assert _num(value) == shown


def test_shares_are_printed_halves_up() -> None:
    assert _pct(0.12345) == "12.3%" and _pct(0.12355) == "12.4%" and _num(None) == _pct(None) == ""


@given(st.integers(min_value=0, max_value=10_000_000))
def test_a_score_of_three_decimals_rounds_as_written(thousandths: int) -> None:
    """Whatever binary value holds k/1000, the notice shows k/1000 rounded half up, as Excel would."""
    cents, rest = divmod(thousandths, 10)
    expected = cents + (1 if rest >= 5 else 0)
    assert _num(thousandths / 1000) == f"{expected // 100}.{expected % 100:02d}"
