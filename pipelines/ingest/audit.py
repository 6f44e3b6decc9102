"""Audits of what a quarter's ingestion wrote: the facts behind the Dagster asset checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipelines.domain.national_id import ID_DIGIT, ID_MIN_DIGITS, find_ids
from pipelines.ingest.free_text import ID_SPAN_HINT, long_enough_columns
from pipelines.ingest.load import persons_path, raw_path
from pipelines.ingest.schema import RAW_TABLES

# Paths the pipeline made (hex digests joined by separators); never published, never typed by a unit.
PIPELINE_PATHS = frozenset({"archive_path", "receipt_path"})
# What find_ids skips as a whole: a lower-case hex digest (person keys, submission ids). The Rust regex's
# `$` is the end of the text only, so this matches a subset of the texts the detector's own pattern
# skips (Python's `$` also matches before a final newline): skipping the detector on them is exact.
HEX_DIGEST = r"^[0-9a-f]{32,}$"


def read_quarter(raw_root: Path, quarter: str) -> dict[str, pl.DataFrame]:
    """The analytical raw tables of one quarter, as dbt will read them."""
    return {t: pl.read_parquet(raw_path(raw_root, t, quarter)) for t in RAW_TABLES}


def restricted_ids(restricted_root: Path, quarter: str) -> list[str]:
    path = persons_path(restricted_root, quarter)
    if not path.exists():
        return []
    return (
        pl.read_parquet(path, columns=["national_id"])
        .get_column("national_id")
        .drop_nulls()
        .unique()
        .to_list()
    )


def clear_national_ids(tables: dict[str, pl.DataFrame], known_ids: Iterable[str]) -> dict[str, int]:
    """Cells holding a national ID in clear, per table.column: known IDs anywhere in a text, or any
    ID the shared detector finds (pipelines.domain.national_id). Empty means the tables are clean."""
    known = set(known_ids)
    lengths = sorted({len(k) for k in known})
    runs = _runs_of(known, lengths)
    run_pattern = _polars_runs(known, lengths)
    hits: dict[str, int] = {}
    for table, frame in tables.items():
        if frame.height == 0:
            continue
        names = [c for c, t in frame.schema.items() if t == pl.Utf8 and c not in PIPELINE_PATHS]
        # A column whose texts are all too short to hold an ID's digits (most codes, tiers, statuses) is
        # not examined further.
        for column in long_enough_columns(frame, names):
            col = pl.col(column)
            # Each distinct text is examined once and its cells counted: a column such as a person key
            # repeats a few thousand values over hundreds of thousands of rows. Texts too short to hold
            # an ID's digits are dropped before the count (most codes, tiers and scores), and the rest
            # need ID_MIN_DIGITS digits anywhere before the shared detector (which also finds spaced,
            # hyphenated and glued IDs, and skips hex person keys) looks at them, and only where polars
            # finds the 17 closely spaced digits it needs (free_text.ID_SPAN_HINT). The known-ID lookup
            # runs only on the texts that hold a run of the known IDs' characters long enough for one
            # (found by polars, as _runs_of would find it): a hex person key rarely does.
            texts = frame.get_column(column).drop_nulls()
            candidates = (
                texts.filter(texts.str.len_bytes() >= ID_MIN_DIGITS)
                .value_counts(name="cells")
                .filter(col.str.count_matches(ID_DIGIT) >= ID_MIN_DIGITS)
                .with_columns(
                    (~col.str.contains(HEX_DIGEST) & col.str.contains(ID_SPAN_HINT)).alias("_detect"),
                    (pl.lit(True) if run_pattern is None else col.str.contains(run_pattern)).alias("_run"),
                )
                .filter(pl.col("_detect") | pl.col("_run"))
            )
            if candidates.is_empty():
                continue
            n = sum(
                cells
                for v, cells, detect, has_run in candidates.iter_rows()
                if (detect and find_ids(v)) or (has_run and _holds_known(v, known, lengths, runs))
            )
            if n:
                hits[f"{table}.{column}"] = int(n)
    return hits


def _polars_runs(known: set[str], lengths: list[int]) -> str | None:
    """_runs_of's pattern for polars (Rust regex): every character written as a code point escape, so
    no character of a roster's IDs can mean anything but itself. None where _runs_of gives None."""
    if not known or lengths[0] == 0:
        return None
    alphabet = "".join(f"\\x{{{ord(c):X}}}" for c in sorted(set("".join(known))))
    return f"[{alphabet}]{{{lengths[0]},}}"


def _runs_of(known: set[str], lengths: list[int]) -> re.Pattern[str] | None:
    """The runs of a text, made only of characters found in known IDs, long enough to hold one: a
    known ID can only sit inside such a run. None when nothing is known."""
    if not known or lengths[0] == 0:
        return None
    alphabet = "".join(re.escape(c) for c in sorted(set("".join(known))))
    return re.compile(f"[{alphabet}]{{{lengths[0]},}}")


def _holds_known(text: str, known: set[str], lengths: list[int], runs: re.Pattern[str] | None) -> bool:
    """Whether a known ID occurs in `text`: each substring of a known ID's length looked up in the set,
    O(len(text)) per cell instead of one substring search per known ID (which took minutes on a
    500-unit city: ~17,000 IDs against every hex person key). Only the substrings inside `runs` can be
    one: a person key's 64 hex characters rarely hold 18 digits in a row, so most texts need no lookup
    at all (the ~18,000 keys of a city cost 0.1 s of lookups each run before)."""
    if runs is None:
        return "" in known  # an empty known ID is in every text (and nothing else is known)
    return any(
        run[i : i + n] in known
        for found in runs.finditer(text)
        for run in (found.group(),)
        for n in lengths
        for i in range(len(run) - n + 1)
    )
