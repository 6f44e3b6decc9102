"""Parse one archived delivery: safety checks, reading, normalisation, in-file checks.

`parse_delivery` is what a worker process runs (workers.py); it never raises for a bad file: every
problem becomes an issue on the receipt, and an unexpected exception (a bug, a library failing on a
hostile file) becomes an incident: the file is rejected with 「系统处理本文件时出错」 and an
incident id, the traceback travels back with the result and the parent logs it under that id.

The cell suites (great-expectations) and the cast to typed tables run afterwards in the parent, once
per sheet over all new deliveries stacked (validate.validate_batches, tables.typed_batch): one polars
or GX call over a stacked sheet is far cheaper than five hundred small ones.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.checks import UnitFacts, check_submission, log_incident
from pipelines.ingest.issues import Incident, Issue, file_issue, incident_id
from pipelines.ingest.read import RawSheet, ReadError, read_csv_set, read_xlsx
from pipelines.ingest.safety import check_xlsx
from pipelines.ingest.sheets import ParsedSheet, parse_sheets


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
    facts: UnitFacts | None = None
    seconds: float = 0.0
    incidents: list[Incident] = field(default_factory=list)  # logged by the parent with their ids
    notes: list[str] = field(default_factory=list)  # technical detail behind a Chinese reason, for the log


def refused(
    submission_id: str, kind: str, detail: str = "", seconds: float = 0.0, note: str = ""
) -> ParsedDelivery:
    return ParsedDelivery(
        submission_id, False, [file_issue(kind, detail)], seconds=seconds, notes=[note] if note else []
    )


def failed(submission_id: str, stage: str, detail: str, seconds: float = 0.0) -> ParsedDelivery:
    """The delivery's rejection for an unexpected failure: 系统处理本文件时出错 with an incident id."""
    incident = Incident(incident_id(submission_id, stage, detail), stage, detail)
    return ParsedDelivery(submission_id, False, [incident.issue()], seconds=seconds, incidents=[incident])


def failed_validation(delivery: ParsedDelivery, incident: Incident) -> ParsedDelivery:
    """A delivery whose cell validation raised: rejected with the incident, nothing else to say."""
    return ParsedDelivery(
        delivery.submission_id,
        False,
        [incident.issue()],
        encoding=delivery.encoding,
        seconds=delivery.seconds,
        incidents=[incident],
    )


def log_parse_notes(delivery: ParsedDelivery, log: logging.Logger) -> None:
    """In the parent: the worker's incidents (with their tracebacks) and technical detail, to the log."""
    for incident in delivery.incidents:
        log_incident(incident, delivery.submission_id, log)
    for note in delivery.notes:
        log.warning("submission %s: %s", delivery.submission_id, note)


def _read(request: ParseRequest) -> list[RawSheet]:
    files = [(name, Path(path)) for name, path in request.files]
    if request.format == "csv":
        return read_csv_set(files)
    formula_parts: set[str] = set()
    refusal = check_xlsx(files[0][1], formula_parts)
    if refusal is not None:
        raise ReadError(refusal.kind, refusal.detail, refusal.technical)
    return read_xlsx(files[0][1], formula_parts)


def prepare_worker() -> None:
    """Run in each parse worker before its first file (workers.WorkerPool's `initializer`).

    fastexcel hands each sheet over through pyarrow, and pyarrow imports NumPy if it can: 0.15 s
    of CPU at every worker start, for a library no worker uses (pyarrow treats NumPy as optional
    since 16.0; the lists come from Arrow itself). A resubmission's single worker starts on the
    run's critical path. NumPy is blocked only if nothing in the process has imported it already
    (the spawned worker re-imports the parent's main module, which may)."""
    if "numpy" not in sys.modules:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` now raises ImportError


def parse_delivery(request: ParseRequest) -> ParsedDelivery:
    """Everything that can be said about one delivery without the folder, the quarter or GX."""
    started = time.perf_counter()
    try:
        return _parse(request, started)
    except Exception:  # whatever one file holds, it fails only itself
        return failed(request.submission_id, "parse", traceback.format_exc(), time.perf_counter() - started)


def _parse(request: ParseRequest, started: float) -> ParsedDelivery:
    try:
        raw = _read(request)
    except ReadError as exc:
        seconds = time.perf_counter() - started
        return refused(request.submission_id, exc.kind, exc.detail, seconds, exc.technical)
    encodings = sorted({s.encoding for s in raw if s.encoding})
    sheets, issues = parse_sheets(raw)
    issues.extend(check_submission(sheets))
    return ParsedDelivery(
        submission_id=request.submission_id,
        readable=True,
        issues=issues,
        encoding=",".join(encodings) or None,
        sheets=sheets,
        facts=UnitFacts.from_sheets(sheets),
        seconds=time.perf_counter() - started,
    )
