"""Per-Kind normalisers: every tolerated spelling becomes the canonical text with the right warning."""

from __future__ import annotations

import re

import pytest

from pipelines.domain.template import FALSE_WORDS, TRUE_WORDS, Kind
from pipelines.ingest.normalise import (
    BOOL_VARIANT,
    CANONICAL_PATTERNS,
    DATE_VARIANT,
    FULLWIDTH,
    LIST_SEPARATOR,
    NUMBER_AS_TEXT,
    QUARTER_VARIANT,
    WHITESPACE,
    Normalised,
    normalise,
)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", " \t\u3000 "])
@pytest.mark.parametrize("kind", list(Kind))
def test_blank_cells_are_blank_without_warning(kind: Kind, raw: str | None) -> None:
    assert normalise(kind, raw) == Normalised(None)


@pytest.mark.parametrize(
    ("raw", "value", "warnings"),
    [
        ("P017", "P017", ()),
        ("Ｐ０１７", "P017", (FULLWIDTH,)),
        ("  P017 ", "P017", (WHITESPACE,)),
        ("P 0\u300017", "P017", (WHITESPACE,)),  # inner spaces, ASCII and ideographic
        ("３７１６０２-X-０１７", "371602-X-017", (FULLWIDTH,)),
        ("Ｐ０１７\u3000", "P017", (FULLWIDTH, WHITESPACE)),
    ],
)
def test_codes_fold_full_width_and_lose_all_whitespace(
    raw: str, value: str, warnings: tuple[str, ...]
) -> None:
    assert normalise(Kind.CODE, raw) == Normalised(value, warnings)


@pytest.mark.parametrize(
    ("raw", "value", "warnings"),
    [
        ("张三", "张三", ()),
        ("张  三", "张三", (WHITESPACE,)),
        ("张\u3000三", "张三", (WHITESPACE,)),
        (" 王小明 ", "王小明", (WHITESPACE,)),
        ("Project Alpha 推进", "Project Alpha 推进", ()),  # Latin words keep their spaces
        ("完成率达到９５%", "完成率达到95%", (FULLWIDTH,)),
        ("按节点推进，3季度内完成", "按节点推进，3季度内完成", ()),  # Chinese punctuation stays
    ],
)
def test_text_is_stripped_and_cjk_gaps_closed(raw: str, value: str, warnings: tuple[str, ...]) -> None:
    assert normalise(Kind.TEXT, raw) == Normalised(value, warnings)


def test_enum_folds_all_full_width_forms() -> None:
    assert normalise(Kind.ENUM, "＂83＂工程") == Normalised('"83"工程', (FULLWIDTH,))
    assert normalise(Kind.ENUM, "综合 管理") == Normalised("综合管理", (WHITESPACE,))


@pytest.mark.parametrize(
    ("kind", "raw", "numeric", "source", "value", "warnings"),
    [
        (Kind.NUMBER, "85.5", True, "xlsx", "85.5", ()),
        (Kind.NUMBER, "85.5", False, "xlsx", "85.5", (NUMBER_AS_TEXT,)),
        (Kind.NUMBER, "85.5", False, "csv", "85.5", ()),  # every CSV cell is text
        (Kind.NUMBER, "85", True, "xlsx", "85", ()),
        (Kind.NUMBER, "85.0", False, "csv", "85", ()),
        (Kind.NUMBER, "８５", False, "xlsx", "85", (FULLWIDTH,)),  # one explanation per cell is enough
        (Kind.NUMBER, "-3", False, "csv", "-3", ()),
        (Kind.NUMBER, "1e400", False, "csv", "1e400", ()),  # not finite: left for the suite to reject
        (Kind.NUMBER, "优", False, "xlsx", "优", ()),
        (Kind.NUMBER, "nan", False, "csv", "nan", ()),
        (Kind.INT, "3", True, "xlsx", "3", ()),
        (Kind.INT, "3.0", False, "csv", "3", ()),
        (Kind.INT, "2.5", True, "xlsx", "2.5", ()),
        (Kind.SHARE, "0.6", True, "xlsx", "0.6", ()),
        (Kind.SHARE, "60%", False, "xlsx", "0.6", (NUMBER_AS_TEXT,)),
        (Kind.SHARE, "60%", False, "csv", "0.6", ()),
        (Kind.SHARE, "0.65", False, "csv", "0.65", ()),
        (Kind.SHARE, "６５%", False, "csv", "0.65", (FULLWIDTH,)),
    ],
)
def test_numbers(
    kind: Kind, raw: str, numeric: bool, source: str, value: str, warnings: tuple[str, ...]
) -> None:
    assert normalise(kind, raw, numeric, source) == Normalised(value, warnings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "numeric", "source", "value", "warnings"),
    [
        ("2025-10-09 00:00:00", False, "xlsx", "2025-10-09", ()),  # a real date cell as calamine renders it
        ("45939", True, "xlsx", "2025-10-09", (DATE_VARIANT,)),  # an Excel serial stored as a number
        ("45939", False, "csv", "2025-10-09", (DATE_VARIANT,)),
        ("2025-10-09", False, "csv", "2025-10-09", ()),  # ISO is the canonical CSV spelling
        ("2025-10-09", False, "xlsx", "2025-10-09", (DATE_VARIANT,)),  # typed as text in a workbook
        ("2025-10-9", False, "csv", "2025-10-09", (DATE_VARIANT,)),
        ("2025/10/9", False, "csv", "2025-10-09", (DATE_VARIANT,)),
        ("2025年10月9日", False, "xlsx", "2025-10-09", (DATE_VARIANT,)),
        ("２０２５/１０/９", False, "csv", "2025-10-09", (FULLWIDTH, DATE_VARIANT)),
        ("2025-02-30", False, "csv", "2025-02-30", ()),  # impossible date: left for the type check
        ("2025", True, "xlsx", "2025", ()),  # 1905 as a serial: a year typed into a date cell
        ("下周", False, "csv", "下周", ()),
        ("2025.10.9", False, "csv", "2025.10.9", ()),  # not a spelling the template allows
    ],
)
def test_dates(raw: str, numeric: bool, source: str, value: str, warnings: tuple[str, ...]) -> None:
    assert normalise(Kind.DATE, raw, numeric, source) == Normalised(value, warnings)  # type: ignore[arg-type]


def test_every_template_yes_no_spelling() -> None:
    for word in TRUE_WORDS:
        expected = () if word == "是" else (BOOL_VARIANT,)
        assert normalise(Kind.BOOL, word) == Normalised("是", expected)
    for word in FALSE_WORDS:
        expected = () if word == "否" else (BOOL_VARIANT,)
        assert normalise(Kind.BOOL, word) == Normalised("否", expected)
    assert normalise(Kind.BOOL, "Ｙ") == Normalised("是", (FULLWIDTH, BOOL_VARIANT))
    assert normalise(Kind.BOOL, "可能") == Normalised("可能", ())


@pytest.mark.parametrize(
    ("raw", "value", "warnings"),
    [
        ("2026Q3", "2026Q3", ()),
        ("2026-Q3", "2026Q3", (QUARTER_VARIANT,)),
        ("2026年第3季度", "2026Q3", (QUARTER_VARIANT,)),
        ("2026年第三季度", "2026Q3", (QUARTER_VARIANT,)),
        ("２０２６Ｑ３", "2026Q3", (FULLWIDTH,)),
        ("2026Q5", "2026Q5", ()),
    ],
)
def test_quarters(raw: str, value: str, warnings: tuple[str, ...]) -> None:
    assert normalise(Kind.QUARTER, raw) == Normalised(value, warnings)


@pytest.mark.parametrize(
    ("raw", "value", "warnings"),
    [
        ("P001", "P001", ()),
        ("P001、P002", "P001、P002", ()),
        ("P001，P002", "P001、P002", (LIST_SEPARATOR,)),
        ("P001,P002;P003", "P001、P002、P003", (LIST_SEPARATOR,)),
        ("P001 P002", "P001、P002", (LIST_SEPARATOR,)),
        ("P001；P002", "P001、P002", (LIST_SEPARATOR,)),
        (" P001、P002 ", "P001、P002", (WHITESPACE,)),
        ("Ｐ００１、P002", "P001、P002", (FULLWIDTH,)),
        ("、", None, ()),
    ],
)
def test_code_lists(raw: str, value: str | None, warnings: tuple[str, ...]) -> None:
    assert normalise(Kind.CODE_LIST, raw) == Normalised(value, warnings)


@pytest.mark.parametrize(
    ("kind", "raw", "numeric", "source"),
    [
        (Kind.NUMBER, "８５.５", False, "xlsx"),
        (Kind.INT, "4", True, "xlsx"),
        (Kind.SHARE, "60%", False, "csv"),
        (Kind.DATE, "2025年1月2日", False, "xlsx"),
        (Kind.DATE, "45000", True, "xlsx"),
        (Kind.BOOL, "√", False, "xlsx"),
        (Kind.QUARTER, "2025-Q1", False, "csv"),
        (Kind.CODE_LIST, "P1;P2", False, "csv"),
        (Kind.CODE, " P 1 ", False, "csv"),
    ],
)
def test_normalised_values_match_the_canonical_patterns_the_suites_check(
    kind: Kind, raw: str, numeric: bool, source: str
) -> None:
    value = normalise(kind, raw, numeric, source).value  # type: ignore[arg-type]
    assert value is not None
    assert re.fullmatch(CANONICAL_PATTERNS[kind], value)
