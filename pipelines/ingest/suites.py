"""The declarative cell rules: one great-expectations suite per template sheet, kept as JSON.

The suites are generated from the template (pipelines/domain/template.py), so a template change is
one command away from new suites, and committed under expectations/<sheet>.json, where a reviewer
reads the rules without reading code. A test fails when the committed JSON drifts from the
template. Each expectation's `meta.error_kind` is the receipt issue kind a failing cell gets, and
`meta.rule` picks the Chinese wording.

Columns are validated after normalisation (normalise.py): `<field>` holds the canonical text and,
for numeric kinds, `<field>__value` its float value, on which ranges are checked.

    python -m pipelines.ingest.suites          # rewrite expectations/*.json from the template
    python -m pipelines.ingest.suites --check  # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.domain.template import SHEETS, Column, Kind, Sheet
from pipelines.ingest.normalise import CANONICAL_PATTERNS, NO, YES
from pipelines.paths import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
NUMERIC_KINDS = (Kind.INT, Kind.NUMBER, Kind.SHARE)
MAX_TEXT_CHARS = 500  # a name, a target or a reason; more is a pasted document, not a cell
MAX_CODE_CHARS = 50  # a person, task or rater code (P017, T03, F12); a list of codes gets MAX_TEXT_CHARS
VALUE_SUFFIX = "__value"

# Rules the template's Kind does not carry. Kept here, next to the generated suites, so every
# column rule is visible in one place.
NATIONAL_ID_PATTERN = r"^\d{17}[\dX]$"
_FIELD_PATTERNS: dict[tuple[str, str], tuple[str, str]] = {
    # (sheet, field) -> (pattern, error kind)
    ("roster", "national_id"): (NATIONAL_ID_PATTERN, "invalid_national_id"),
}


_MAX_CHARS = {Kind.TEXT: MAX_TEXT_CHARS, Kind.CODE: MAX_CODE_CHARS, Kind.CODE_LIST: MAX_TEXT_CHARS}


def value_column(field: str) -> str:
    return field + VALUE_SUFFIX


def _expectation(kind: str, column: str, error_kind: str, rule: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "kwargs": {"column": column, **kwargs},
        "meta": {"error_kind": error_kind, "rule": rule},
    }


def column_expectations(sheet: Sheet, column: Column) -> list[dict[str, Any]]:
    """Presence, type, allowed values and range of one column."""
    f = column.field
    out: list[dict[str, Any]] = []
    if not column.nullable:
        out.append(_expectation("expect_column_values_to_not_be_null", f, "missing_value", "not_null"))
    special = _FIELD_PATTERNS.get((sheet.name, f))
    if special:
        pattern, error_kind = special
        out.append(
            _expectation("expect_column_values_to_match_regex", f, error_kind, "pattern", regex=pattern)
        )
    elif column.kind == Kind.BOOL:
        out.append(
            _expectation(
                "expect_column_values_to_be_in_set", f, "wrong_type", "type_bool", value_set=[YES, NO]
            )
        )
    elif column.kind in CANONICAL_PATTERNS:
        out.append(
            _expectation(
                "expect_column_values_to_match_regex",
                f,
                "wrong_type",
                f"type_{column.kind.value}",
                regex=CANONICAL_PATTERNS[column.kind],
            )
        )
    longest = _MAX_CHARS.get(column.kind) if not special else None
    if longest is not None:  # any characters in free text, but every cell is bounded
        out.append(
            _expectation(
                "expect_column_value_lengths_to_be_between",
                f,
                "out_of_range",
                "length",
                min_value=1,
                max_value=longest,
            )
        )
    if column.allowed:  # an enum's allowed values are its type
        out.append(
            _expectation(
                "expect_column_values_to_be_in_set",
                f,
                "invalid_value",
                "allowed",
                value_set=list(column.allowed),
            )
        )
    if column.kind in NUMERIC_KINDS and (column.min_value is not None or column.max_value is not None):
        bounds: dict[str, Any] = {}
        if column.min_value is not None:
            bounds["min_value"] = column.min_value
        if column.max_value is not None:
            bounds["max_value"] = column.max_value
        out.append(
            _expectation(
                "expect_column_values_to_be_between", value_column(f), "out_of_range", "range", **bounds
            )
        )
    return out


def build_suite(sheet: Sheet) -> dict[str, Any]:
    """The suite of one sheet, in GX's own JSON shape (gx.ExpectationSuite(**suite) loads it)."""
    expectations = [e for c in sheet.columns for e in column_expectations(sheet, c)]
    return {
        "name": sheet.name,
        "expectations": expectations,
        "meta": {
            "sheet_title": sheet.title,
            "generated_from": "pipelines/domain/template.py by python -m pipelines.ingest.suites",
        },
        "notes": f"「{sheet.title}」表的逐列校验规则：必填、类型、允许值、取值范围。",
    }


def build_suites() -> dict[str, dict[str, Any]]:
    return {s.name: build_suite(s) for s in SHEETS}


def suite_path(name: str, directory: Path = EXPECTATIONS_DIR) -> Path:
    return directory / f"{name}.json"


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, ensure_ascii=False, indent=2) + "\n"


def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, dict[str, Any]]:
    """The committed suites, by sheet name."""
    return {s.name: json.loads(suite_path(s.name, directory).read_text(encoding="utf-8")) for s in SHEETS}


def suites_fingerprint(directory: Path = EXPECTATIONS_DIR) -> bytes:
    """The committed suites' bytes: part of the parse-cache namespace, so a rule change re-validates."""
    return b"".join(suite_path(s.name, directory).read_bytes() for s in SHEETS)


def write_suites(directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, suite in build_suites().items():
        path = suite_path(name, directory)
        path.write_text(render(suite), encoding="utf-8")
        paths.append(path)
    return paths


def stale_suites(directory: Path = EXPECTATIONS_DIR) -> list[str]:
    """Sheet names whose committed JSON differs from what the template generates."""
    return [
        name
        for name, suite in build_suites().items()
        if not suite_path(name, directory).exists()
        or suite_path(name, directory).read_text(encoding="utf-8") != render(suite)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ingest.suites", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only report stale suites (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_suites()
        for name in stale:
            print(f"stale: {suite_path(name)}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_suites():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def raise_if_expectation_raised(outcome: Any, where: str) -> None:
    """GX reports an expectation that crashed as a failed result; ours must not read it as bad data.

    GX 1.x files the crash in one of two shapes: flat ({"raised_exception": True, "exception_message":
    …}) or, when a metric the expectation needs could not be computed (a column the frame lacks, say),
    one such record per failed metric, keyed by the metric's id. Either raises here."""
    info = outcome.exception_info or {}
    records = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for record in records:
        if record.get("raised_exception"):
            raise RuntimeError(
                f"expectation {outcome.expectation_config.type} on {where} raised: "
                f"{record.get('exception_message')}"
            )
