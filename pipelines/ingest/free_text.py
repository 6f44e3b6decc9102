"""National IDs typed outside the ID column: a receipt warning for the unit, masked in what is kept.

A clerk may paste an ID into a title, a remark, a task name or even a code cell, glued to Chinese text,
spaced or full-width. The shared detector (pipelines.domain.national_id) finds them. Two steps, both
called from run._assemble:

- `add_warnings` puts one warning per cell on the receipt of every readable submission (sheet, row or
  record, column header; never the ID itself);
- `mask_tables` rewrites every kept text column of the quarter's tables before they are written. Free
  text gets 「[身份证号已隐去]」; a code column (person, rater, leader, task codes) gets a keyed token
  instead, the same for the same ID, so the references between sheets still join.

Only the roster's 身份证号 column keeps the ID: it goes to the restricted persons table, pseudonymised
for everything else (pseudonym.py). Path and hash columns of the ledger are not text a unit typed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipelines.domain.national_id import ID_DIGIT, ID_MIN_DIGITS, ID_SPAN_HINT, mask_ids
from pipelines.domain.template import SHEETS_BY_NAME
from pipelines.ingest import cache
from pipelines.ingest.issues import Issue, issue
from pipelines.ingest.pseudonym import PseudonymKey
from pipelines.ingest.tables import TABLES

KIND = "national_id_in_text"
# Columns that hold an ID on purpose, or are made by the pipeline, not typed by a unit (a person key
# is hex of an HMAC: the detector skips it anyway, after looking at every one of ~17,000 per city).
NOT_FREE_TEXT = frozenset({"national_id", "submission_id", "archive_path", "receipt_path", "person_key"})
# Columns other sheets refer to: a keyed token keeps the references consistent.
CODE_COLUMNS = frozenset({"person_code", "leader_code", "lead_code", "rater_code", "ratee_code", "task_code"})
CODE_TOKEN = "身份证号已隐去#"
# How a receipt names the record when the table keeps no Excel row.
_LOCATORS: dict[str, tuple[tuple[str, str], ...]] = {
    "sections": (("section", "科室"),),
    "tasks": (("task_code", "任务编号"),),
    "ratings": (("ratee_code", "被评议人编号"), ("rater_code", "评议人编号")),
    "adjustments": (("person_code", "人员编号"), ("item_no", "第{}条")),
    "year_end": (("person_code", "人员编号"),),
}
# task_assignments is made from the tasks sheet, warned there.
WARNED_TABLES = tuple(t for t in TABLES if t != "task_assignments")


def _text_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t == pl.Utf8 and c not in NOT_FREE_TEXT]


def _candidates(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The rows of `frame` whose `column` holds at least ID_MIN_DIGITS digits, in order: the cheap
    vectorised filter before the detector.

    A digit takes at least one byte, so the byte length rules out the short cells (codes, tiers,
    scores: nearly all of them) before the regular expression counts digits in the rest. On a
    city's tables that is a quarter of the time of counting in every cell."""
    long = frame.filter(pl.col(column).str.len_bytes() >= ID_MIN_DIGITS)
    digits = long.filter(pl.col(column).str.count_matches(ID_DIGIT).fill_null(0) >= ID_MIN_DIGITS)
    return digits.filter(pl.col(column).str.contains(ID_SPAN_HINT))


def add_warnings(
    extra: dict[tuple[str, str], list[Issue]],
    root: Path,
    metas: dict[str, cache.CachedMeta],
) -> None:
    """Append a warning to `extra[(unit, submission)]` for every cell of that submission holding an ID.
    Found once per submission, when its batch is cached (cache.write_batch with find_in_table), and
    read from there; looked for here only in batches cached before they were kept."""
    wanted = [metas[s] for s in sorted({sha for _, sha in extra})]
    found, covered = cache.read_free_text(root, wanted)
    found.update(find_in_submissions(root, [m for m in wanted if m.submission_id not in covered]))
    for key in extra:
        if found.get(key[1]):
            extra[key] = extra[key] + found[key[1]]


def find_in_submissions(root: Path, metas: list[cache.CachedMeta]) -> dict[str, list[Issue]]:
    """Warnings per submission id, from the cached typed tables of readable submissions."""
    out: dict[str, list[Issue]] = {}
    for table in WARNED_TABLES:
        find_in_table(table, cache.read_table(root, table, metas), out)
    return out


def find_in_table(table: str, frame: pl.DataFrame, out: dict[str, list[Issue]]) -> None:
    """Add to `out` the warnings of one typed table as cached (tables.cache_schema), each submission's
    rows together in file order. Called on every table in TABLES order, it lists them as
    find_in_submissions does: by table, then column, then row."""
    if table not in WARNED_TABLES:
        return
    for column in _text_columns(frame):
        hits = _candidates(frame, column)
        for row in hits.iter_rows(named=True):
            n = mask_ids(row[column])[1]
            if n:
                out.setdefault(row["submission_id"], []).append(_warning(table, column, row, n))


def _warning(table: str, column: str, row: dict[str, object], n: int) -> Issue:
    sheet = SHEETS_BY_NAME[table]
    header = sheet.column(column).header if column in {c.field for c in sheet.columns} else column
    place = []
    for field, label in _LOCATORS.get(table, ()):
        value = row.get(field)
        if value is not None:
            text = mask_ids(str(value))[0]  # a locator may itself be an ID typed as a code
            place.append(label.format(text) if "{}" in label else f"{label}{text}")
    detail = f"（{n}处" + ("；" + "，".join(place) if place else "") + "）"
    excel_row = row.get("excel_row")
    return issue(
        KIND,
        sheet=sheet.title,
        row=excel_row if isinstance(excel_row, int) else None,
        header=header,
        detail=detail,
    )


def mask_tables(tables: dict[str, pl.DataFrame], key: PseudonymKey) -> int:
    """Mask every ID in the kept text columns of `tables` (in place); returns how many cells changed."""
    changed = 0
    for name, frame in tables.items():
        columns = _text_columns(frame)
        if not columns or frame.height == 0:
            continue
        replacements: dict[str, pl.Expr] = {}
        for column in long_enough_columns(frame, columns):
            values = _candidates(frame, column).get_column(column).unique().to_list()
            mapping = {v: _masked(v, column, key) for v in values}
            mapping = {v: m for v, m in mapping.items() if m != v}
            if mapping:
                changed += frame.select(pl.col(column).is_in(list(mapping)).sum()).item()
                replacements[column] = pl.col(column).replace(mapping)
        if replacements:
            tables[name] = frame.with_columns(**replacements)
    return changed


def long_enough_columns(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    """The columns holding a text long enough for an ID's digits, found in one pass over the frame:
    _candidates of any other column is empty, and most (codes, tiers, statuses) are."""
    if not columns or frame.height == 0:
        return []
    longest = frame.select(pl.col(c).str.len_bytes().max() for c in columns).row(0)
    return [c for c, n in zip(columns, longest, strict=True) if n is not None and n >= ID_MIN_DIGITS]


def _masked(value: str, column: str, key: PseudonymKey) -> str:
    masked, n = mask_ids(value)
    if n and column in CODE_COLUMNS:
        return CODE_TOKEN + _token(value, key)
    return masked


def _token(value: str, key: PseudonymKey) -> str:
    """Stable for one code value under one key; reveals nothing about the ID without the key."""
    return hmac.new(key.secret, b"code|" + value.encode("utf-8"), hashlib.sha256).hexdigest()[:8]


def count_ids(values: Iterable[str | None]) -> int:
    """How many IDs the detector finds in `values` (tests and audits)."""
    return sum(mask_ids(v)[1] for v in values if v)
