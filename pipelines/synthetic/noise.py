"""Cosmetic noise: the harmless ways real clerks fill in the template.

Every noise kind here only changes spelling, never meaning: a cell normalised by the rules of
submission-format.md gives back the canonical value. Those rules, as this module relies on them:

- full-width ASCII (U+FF01..U+FF5E) folds to ASCII and U+3000 to a space;
- text and enum cells are stripped; whitespace between two CJK characters is dropped (a clerk pads a
  two-character name to ``张  三``); code cells lose all whitespace;
- numbers stored as text are parsed, ``60%`` is 0.6 in a share cell;
- dates may be ``2026-10-09``, ``2026/10/9``, ``2026年10月9日`` or an Excel serial number;
- yes/no may be 是/否, Y/N, 1/0 or √/× (always written as text here);
- code lists may be separated by 、，,; or a space;
- the quarter may be ``2026Q3``, ``2026-Q3`` or ``2026年第3季度``.

Cell-level kinds are drawn per column with one vectorised uniform draw (``noise_column``); workbook-level
kinds (quarter spelling, unit name, extra column, column order, trailing blank rows) are decided by the
writer, which uses the helpers at the bottom of this module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from pipelines.domain.quarters import Quarter
from pipelines.domain.template import Column, Kind

Target = Literal["xlsx", "csv"]

CELL_KINDS = ("fullwidth", "stray_space", "number_as_text", "list_separator", "date_variant", "bool_variant")
WORKBOOK_KINDS = (
    "quarter_variant",
    "unit_name_variant",
    "extra_column",
    "column_order",
    "trailing_blank_rows",
)

DATE_STYLE = "date"
PERCENT_STYLE = "percent"
LIST_SEPARATOR = "、"
NOISY_SEPARATORS = ("，", ",", ";", " ")
EXCEL_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()  # Excel's day 0 once its 1900 leap-year bug is absorbed
_BOOL_SPELLINGS = (("Y", "N"), ("1", "0"), ("√", "×"))
_DATE_VARIANTS = {"xlsx": ("slash", "chinese", "serial", "iso_text"), "csv": ("slash", "chinese", "serial")}
_FULLWIDTH = {c: c + 0xFEE0 for c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_SPACES = (" ", " ", "\u3000")  # an ASCII space twice as often as an ideographic one


@dataclass(frozen=True)
class NoiseRates:
    """Probabilities of each cosmetic noise kind; all zero (``NoiseRates.clean()``) writes clean files.

    The defaults describe a messy but valid city. Cell rates are per eligible cell; the cell kinds that
    can hit the same cell (fullwidth, stray_space, number_as_text) are mutually exclusive, so their sum
    must not exceed 1.
    """

    fullwidth: float = 0.003
    """Digits/letters of a number or code cell written full-width (``８５``, ``Ｐ０１７``)."""
    stray_space: float = 0.005
    """Leading, trailing or inner spaces (ASCII or U+3000) in a text, enum or code cell."""
    number_as_text: float = 0.005
    """xlsx only: a number stored as a text string (``"85.5"``; a share as ``"60%"``)."""
    list_separator: float = 0.05
    """A code list of two or more codes joined by ，,; or a space instead of 、."""
    date_variant: float = 0.30
    """A date written ``2026/10/9``, ``2026年10月9日``, as an Excel serial, or (xlsx) as text ISO."""
    bool_variant: float = 0.10
    """是/否 written Y/N, 1/0 or √/×."""
    quarter_variant: float = 0.20
    """Per workbook: the quarter written ``2026年第3季度`` or ``2026-Q3``."""
    unit_name_variant: float = 0.05
    """Per workbook: a unit name that differs from the registry (full name, abbreviation, prefix)."""
    extra_column: float = 0.05
    """Per workbook: one sheet gets an unknown column (备注, 序号 or 联系电话)."""
    column_order: float = 0.05
    """Per workbook: the columns of one sheet are shuffled."""
    trailing_blank_rows: float = 0.05
    """Per workbook: one sheet ends in formatted blank rows."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"NoiseRates.{f.name} must be within [0, 1], got {value}")
        if self.fullwidth + self.stray_space + self.number_as_text > 1.0:
            raise ValueError("fullwidth + stray_space + number_as_text must not exceed 1")

    @classmethod
    def clean(cls) -> NoiseRates:
        return cls(**{f.name: 0.0 for f in fields(cls)})

    def scaled(self, factor: float) -> NoiseRates:
        """Every rate times ``factor`` (capped at 1): a careful unit is 0.2, a sloppy one 3."""
        scaled = {f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self)}
        exclusive = scaled["fullwidth"] + scaled["stray_space"] + scaled["number_as_text"]
        if exclusive > 1.0:
            for name in ("fullwidth", "stray_space", "number_as_text"):
                scaled[name] /= exclusive
        return replace(self, **scaled)


# A deliberate breakage (pipelines.synthetic.breakage) as the delivery's report records it; it lives
# here, with the report, so that breakage -> writer -> noise never leads back to breakage.
@dataclass(frozen=True)
class Defect:
    """Where a deliberate defect sits, in the unit's terms (Chinese sheet title and header)."""

    breakage: str
    error_kind: str
    sheet: str | None = None
    header: str | None = None
    excel_row: int | None = None  # as the unit sees it in Excel or as the CSV line: the header is row 1
    value: Any = None
    note: str = ""


@dataclass
class NoiseReport:
    """What a write did: noise applied and cells eligible per kind, workbook-level events, files."""

    applied: Counter[str] = field(default_factory=Counter)
    eligible: Counter[str] = field(default_factory=Counter)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, sheet title, detail)
    cells: int = 0  # data cells written, header and blank padding excluded
    paths: list[Path] = field(default_factory=list)
    defect: Defect | None = None  # set by deliver() when the delivery carries a breakage

    def rate(self, kind: str) -> float:
        n = self.eligible[kind]
        return self.applied[kind] / n if n else 0.0

    def merge(self, other: NoiseReport) -> None:
        """Add another report's counts (for city-wide totals); files and defects are not merged."""
        self.applied.update(other.applied)
        self.eligible.update(other.eligible)
        self.events.extend(other.events)
        self.cells += other.cells


class Styled(NamedTuple):
    """An xlsx number that needs a cell format (a real date, a percentage)."""

    value: float
    style: str


Cell = str | int | float | Styled | None


# -- clean rendering ----------------------------------------------------------------------------------


def number_text(value: int | float) -> str:
    """A number as a clerk would type it: ``85`` not ``85.0``."""
    if isinstance(value, float | np.floating):
        value = float(value)  # numpy scalars repr as np.float64(...)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(int(value))


def excel_serial(value: date) -> int:
    return value.toordinal() - EXCEL_EPOCH_ORDINAL


def percent_text(value: float) -> str:
    return number_text(round(value * 100, 9)) + "%"


# Exact classes, so a bool (an int subclass) is never a number; numpy scalars are tolerated.
_NUMBER_TYPES = (int, float, np.float64, np.int64)
_TEXT_TYPES = (str,)
_DATE_TYPES = (date, datetime)
_ELIGIBLE_TYPES = {
    Kind.INT: _NUMBER_TYPES,
    Kind.NUMBER: _NUMBER_TYPES,
    Kind.SHARE: _NUMBER_TYPES,
    Kind.TEXT: _TEXT_TYPES,
    Kind.ENUM: _TEXT_TYPES,
    Kind.CODE: _TEXT_TYPES,
    Kind.DATE: _DATE_TYPES,
    Kind.BOOL: (bool,),
}


def _is_number(value: object) -> bool:
    return value.__class__ in _NUMBER_TYPES


def clean_cell(value: Any, column: Column, target: Target) -> Cell:
    """The cell a careful clerk writes for a canonical value; unexpected types pass through verbatim."""
    return clean_column([value], column, target)[0]


def clean_column(values: list[Any], column: Column, target: Target) -> list[Cell]:
    kind = column.kind
    # One comprehension per kind keeps the per-cell cost to a type check: ratings are most of a city.
    if kind in (Kind.INT, Kind.NUMBER):
        if target == "xlsx":
            return list(values)
        return [number_text(v) if _is_number(v) else _text(v) for v in values]
    if kind == Kind.DATE:
        if target == "xlsx":
            return [Styled(excel_serial(v), DATE_STYLE) if isinstance(v, date) else v for v in values]
        return [_iso(v) if isinstance(v, date) else _text(v) for v in values]
    if kind == Kind.BOOL:
        out = ["是" if v is True else "否" if v is False else v for v in values]
        return out if target == "xlsx" else [_text(v) for v in out]
    if kind == Kind.SHARE:
        if target == "xlsx":
            return [Styled(v, PERCENT_STYLE) if _is_number(v) else v for v in values]
        return [percent_text(v) if _is_number(v) else _text(v) for v in values]
    if kind == Kind.CODE_LIST:
        out = [LIST_SEPARATOR.join(v) if isinstance(v, list | tuple) else v for v in values]
        return [v or None for v in out] if target == "xlsx" else [_text(v) for v in out]
    if target == "xlsx":
        return list(values)
    return [_text(v) for v in values]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return number_text(value) if _is_number(value) else str(value)


def _iso(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


# -- cell noise -----------------------------------------------------------------------------------------


def cell_kinds(column: Column, target: Target) -> tuple[str, ...]:
    """The cell-level noise kinds a column can receive, in the order their probability bands stack."""
    kind = column.kind
    if kind in (Kind.INT, Kind.NUMBER):
        return ("fullwidth", "number_as_text") if target == "xlsx" else ("fullwidth",)
    if kind == Kind.CODE:
        return ("fullwidth", "stray_space")
    if kind in (Kind.TEXT, Kind.ENUM):
        return ("stray_space",)
    if kind == Kind.SHARE:
        return ("number_as_text",) if target == "xlsx" else ()
    if kind == Kind.DATE:
        return ("date_variant",)
    if kind == Kind.BOOL:
        return ("bool_variant",)
    if kind == Kind.CODE_LIST:
        return ("list_separator",)
    return ()


def is_eligible(value: Any, column: Column) -> bool:
    """Whether cell noise may touch this value (never a blank, never a deliberately wrong type)."""
    if column.kind == Kind.CODE_LIST:
        return isinstance(value, list | tuple) and len(value) >= 2
    return value.__class__ in _ELIGIBLE_TYPES.get(column.kind, ()) and value != ""


def count_eligible(values: list[Any], column: Column) -> int:
    """``sum(is_eligible(v) for v in values)``, counted in C: ratings columns are most of a city."""
    types = _ELIGIBLE_TYPES.get(column.kind)
    if types is None:
        return sum(1 for v in values if is_eligible(v, column))
    classes = list(map(type, values))
    n = sum(classes.count(t) for t in types)
    return n - values.count("") if types is _TEXT_TYPES else n


def noisy_cell(value: Any, column: Column, kind: str, rng: np.random.Generator, target: Target) -> Cell:
    """Render an eligible canonical value with the given noise kind."""
    if kind == "fullwidth":
        text = number_text(value) if _is_number(value) else str(value)
        return text.translate(_FULLWIDTH)
    if kind == "stray_space":
        return _stray_space(str(value), column.kind == Kind.CODE, rng)
    if kind == "number_as_text":
        if column.kind == Kind.SHARE and rng.random() < 0.5:
            return percent_text(value)
        return number_text(value)
    if kind == "list_separator":
        return NOISY_SEPARATORS[rng.integers(len(NOISY_SEPARATORS))].join(value)
    if kind == "date_variant":
        return _date_variant(value, _DATE_VARIANTS[target][rng.integers(len(_DATE_VARIANTS[target]))], target)
    if kind == "bool_variant":
        yes, no = _BOOL_SPELLINGS[rng.integers(len(_BOOL_SPELLINGS))]
        return yes if value else no
    raise ValueError(f"not a cell noise kind: {kind!r}")


def apply_noise(
    value: Any, column: Column, rng: np.random.Generator, rates: NoiseRates, target: Target = "xlsx"
) -> tuple[Cell, str | None]:
    """One cell: the rendered value and the noise kind applied (None when it came out clean)."""
    kinds = cell_kinds(column, target)
    if kinds and is_eligible(value, column):
        u = rng.random()
        bound = 0.0
        for kind in kinds:
            bound += getattr(rates, kind)
            if u < bound:
                return noisy_cell(value, column, kind, rng, target), kind
    return clean_cell(value, column, target), None


def noise_column(
    values: list[Any],
    column: Column,
    rng: np.random.Generator,
    rates: NoiseRates,
    target: Target,
    report: NoiseReport,
) -> list[Cell]:
    """A whole column: clean rendering, then noise on the few cells one vectorised draw picks."""
    cells = clean_column(values, column, target)
    kinds = cell_kinds(column, target)
    probs = [getattr(rates, k) for k in kinds]
    if not kinds or sum(probs) <= 0.0 or not values:
        return cells
    n_eligible = count_eligible(values, column)
    for kind in kinds:
        report.eligible[kind] += n_eligible
    bounds = np.cumsum(probs)
    u = rng.random(len(values))
    for i in np.flatnonzero(u < bounds[-1]).tolist():
        if not is_eligible(values[i], column):
            continue
        kind = kinds[int(np.searchsorted(bounds, u[i], side="right"))]
        cells[i] = noisy_cell(values[i], column, kind, rng, target)
        report.applied[kind] += 1
    return cells


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _stray_space(text: str, anywhere: bool, rng: np.random.Generator) -> str:
    pad = _SPACES[rng.integers(len(_SPACES))] * int(rng.integers(1, 3))
    # Inner spaces only where normalisation provably removes them: anywhere in a code, between two
    # CJK characters in text (text may legitimately contain ASCII words separated by spaces).
    inner = [i for i in range(1, len(text)) if anywhere or (_is_cjk(text[i - 1]) and _is_cjk(text[i]))]
    where = int(rng.integers(4)) if inner else int(rng.integers(3))
    if where == 0:
        return pad + text
    if where == 1:
        return text + pad
    if where == 2:
        return pad + text + pad
    i = inner[int(rng.integers(len(inner)))]
    return text[:i] + pad + text[i:]


def _date_variant(value: date, variant: str, target: Target) -> Cell:
    if variant == "slash":
        return f"{value.year}/{value.month}/{value.day}"
    if variant == "chinese":
        return f"{value.year}年{value.month}月{value.day}日"
    if variant == "serial":
        return excel_serial(value) if target == "xlsx" else str(excel_serial(value))
    return _iso(value)


# -- workbook-level helpers ---------------------------------------------------------------------------


def quarter_spelling(quarter: Quarter, rng: np.random.Generator) -> str:
    """One of the template's alternative quarter spellings."""
    if rng.random() < 0.5:
        return f"{quarter.year}年第{quarter.q}季度"
    return f"{quarter.year}-Q{quarter.q}"


# Registry abbreviation <-> full name, both directions occur in real submissions.
_NAME_SWAPS = (
    ("发改委", "发展和改革委员会"),
    ("人社局", "人力资源和社会保障局"),
    ("住建局", "住房和城乡建设局"),
    ("卫健委", "卫生健康委员会"),
    ("工信局", "工业和信息化局"),
    ("文旅局", "文化和旅游局"),
    ("科技局", "科学技术局"),
    ("应急局", "应急管理局"),
    ("退役军人局", "退役军人事务局"),
    ("市场监管局", "市场监督管理局"),
    ("街道办事处", "街道"),
    ("镇人民政府", "镇"),
    ("乡人民政府", "乡"),
)


def unit_name_variant(name: str, rng: np.random.Generator, city: str = "滨州") -> str:
    """A plausible spelling of a unit's name that differs from the registry's."""
    options: list[str] = []
    for short, full in _NAME_SWAPS:
        if short in name:
            options.append(name.replace(short, full, 1))
        elif full in name:
            options.append(name.replace(full, short, 1))
    if name.startswith("中共"):
        options.append(name[2:])
    elif name.startswith("市委"):
        options.append(f"中共{city}{name}")
    elif any(party in name[:6] for party in ("区委", "县委", "市委")):
        options.append("中共" + name)
    if name.startswith("市"):
        options.append(city + name)
    elif name.startswith(city):
        options.append(name[len(city) :])
    else:
        options.append(f"{city}市{name}")
    options = [o for o in options if o != name]
    return options[int(rng.integers(len(options)))] if options else name + "（本级）"


EXTRA_HEADERS = ("备注", "序号", "联系电话")
_REMARKS = ("借调", "试用期", "病假", "已核实", "新入职", "产假", "挂职")


def extra_column_cells(header: str, n_rows: int, rng: np.random.Generator, target: Target) -> list[Cell]:
    """Contents of an unknown column a unit added for its own bookkeeping."""
    if header == "序号":
        return [i + 1 if target == "xlsx" else str(i + 1) for i in range(n_rows)]
    if header == "联系电话":
        digits = rng.integers(0, 10, size=(n_rows, 9))
        return ["13" + "".join(map(str, row)) for row in digits.tolist()]
    filled = rng.random(n_rows) < 0.2
    picks = rng.integers(len(_REMARKS), size=n_rows)
    return [
        _REMARKS[p] if f else (None if target == "xlsx" else "") for f, p in zip(filled, picks, strict=True)
    ]
