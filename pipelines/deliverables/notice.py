"""个人平时考核结果通知单: one printable A4 page per participant, as one HTML file per unit.

Rendered with Jinja2 with autoescaping on, so every name, section or reason a unit typed is shown as
text. Each notice is a <section> that ends with a page break; the browser prints one notice per page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from pipelines.deliverables.fingerprint import FLOAT_DIGITS


def _decimal(value: float, places: int) -> str:
    """`value` to `places` decimals, halves up, as Excel shows the unit workbook's 0.00 cells: a score of
    89.785 is stored as 89.78499999999999…, which f"{:.2f}" printed as 89.78 while the workbook showed
    89.79. Rounded to FLOAT_DIGITS first, as the files' fingerprints are, so bit noise between two builds
    never flips a printed figure."""
    exact = Decimal(f"{round(value, FLOAT_DIGITS):.{FLOAT_DIGITS}f}")
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _num(value: Any) -> str:
    return "" if value is None else _decimal(value, 2)


def _pct(value: Any) -> str:
    return "" if value is None else f"{_decimal(value * 100, 1)}%"


TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    """Autoescaping on for every template, whatever its file name ends with. One environment per process:
    it keeps each template compiled, so 500 units' notices do not compile the template 500 times."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def render_notices(
    unit: Mapping[str, Any], period: str, persons: Sequence[Mapping[str, Any]], generated_on: str
) -> str:
    template = environment().get_template("notice.html.j2")
    return template.render(
        unit=unit, unit_name=unit["unit_name"], period=period, persons=persons, generated_on=generated_on
    )


def write_notices(
    path: Path, unit: Mapping[str, Any], period: str, persons: Sequence[Mapping[str, Any]], generated_on: str
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_notices(unit, period, persons, generated_on), encoding="utf-8")
    return path
