"""Parse one archived delivery: safety checks, reading, normalisation, in-file checks, typed tables.

`parse_delivery` is what a worker process runs (workers.py); it never raises for a bad file: every
problem becomes an issue on the receipt. The cell suites (great-expectations) run afterwards in the
parent process over all new deliveries at once (validate.validate_cells), because one validation of
a stacked sheet is far cheaper than five hundred small ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.ingest.issues import Issue, file_issue
from pipelines.ingest.read import RawSheet, ReadError, read_csv_set, read_xlsx
from pipelines.ingest.safety import check_xlsx
from pipelines.ingest.sheets import ParsedSheet, parse_sheets
from pipelines.ingest.tables import typed_tables
from pipelines.ingest.validate import UnitFacts, check_submission


@dataclass(frozen=True)
class ParseRequest:
    submission_id: str
    format: str  # xlsx / csv / unknown (decided by content, not by the file name)
    files: tuple[tuple[str, str], ...]  # (original name, absolute path of the archived copy)


@dataclass
class ParsedDelivery:
    submission_id: str
    readable: bool  # False: refused or unreadable, nothing to validate
    issues: list[Issue]
    encoding: str | None = None
    sheets: dict[str, ParsedSheet] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    facts: UnitFacts | None = None
    seconds: float = 0.0


def refused(submission_id: str, kind: str, detail: str = "", seconds: float = 0.0) -> ParsedDelivery:
    return ParsedDelivery(submission_id, False, [file_issue(kind, detail)], seconds=seconds)


def _read(request: ParseRequest) -> list[RawSheet]:
    files = [(name, Path(path)) for name, path in request.files]
    if request.format == "csv":
        return read_csv_set(files)
    refusal = check_xlsx(files[0][1])
    if refusal is not None:
        raise ReadError(refusal.kind, refusal.detail)
    return read_xlsx(files[0][1])


def parse_delivery(request: ParseRequest) -> ParsedDelivery:
    """Everything that can be said about one delivery without the folder, the quarter or GX."""
    started = time.perf_counter()
    try:
        raw = _read(request)
    except ReadError as exc:
        return refused(request.submission_id, exc.kind, exc.detail, time.perf_counter() - started)
    encodings = sorted({s.encoding for s in raw if s.encoding})
    sheets, issues = parse_sheets(raw)
    issues.extend(check_submission(sheets))
    tables, cast_issues = typed_tables(sheets, request.submission_id)
    issues.extend(cast_issues)
    return ParsedDelivery(
        submission_id=request.submission_id,
        readable=True,
        issues=issues,
        encoding=",".join(encodings) or None,
        sheets=sheets,
        tables=tables,
        facts=UnitFacts.from_sheets(sheets),
        seconds=time.perf_counter() - started,
    )
