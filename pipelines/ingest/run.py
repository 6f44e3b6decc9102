"""Ingest one quarter: landing area -> archive -> parse cache -> raw tables, ledger and receipts.

    discover   every delivery under landing/<quarter>/<unit>/ (sub-folders too) with its SHA-256 and size;
               anything else in the quarter folder is listed in the report and ignored
    archive    copy new deliveries, untouched, into the append-only archive; the arrival is the
               receiving side's (receiving log, else first sight), numbered in the order of first sight
    parse      deliveries the cache lacks, in isolated workers with a timeout (parse.py, workers.py),
               then the cast and the suites' cell rules (as polars expressions, rules.py) over all of
               them at once; results cached by SHA-256
    assemble   context checks (folder, quarter, registry), a person claimed by two units (the later
               arrival is refused, conflicts.py), the current submission and status of every unit,
               typed raw tables with person keys
    write      raw/<table>/<quarter>.parquet, restricted/persons/<quarter>.parquet, one HTML receipt
               per submission under receipts/<quarter>/<unit>/

A re-run with no new files parses nothing and rewrites the same rows (the assembly reads the cache).
Everything the quarter's tables contain comes from the archive, so a file later deleted from the
landing area is still in the ledger, and its data still counts if it is current. A run works on the
archive as it stood when the run began plus what the run itself archived: a file that lands later
is the next run's (`IngestReport.archive_high_water` is the last order of first sight it used).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.domain.constants import SUBMISSION_STATUSES
from pipelines.domain.quarters import TZ, Quarter, parse_quarter
from pipelines.domain.registry import load_active_registry
from pipelines.domain.rules import RulesError, load_rules
from pipelines.domain.template import SHEETS
from pipelines.ingest import cache, conflicts, free_text
from pipelines.ingest.archive import ArchiveRecord, archive_delivery, load_quarter, next_seq
from pipelines.ingest.discover import Delivery, discover_quarter
from pipelines.ingest.issues import Incident, Issue
from pipelines.ingest.ledger import mark_current, unit_status
from pipelines.ingest.load import write_quarter
from pipelines.ingest.parse import (
    ParsedDelivery,
    ParseRequest,
    failed,
    failed_validation,
    log_parse_notes,
    parse_delivery,
    prepare_worker,
    refused,
)
from pipelines.ingest.prefetched import Prefetched
from pipelines.ingest.pseudonym import DEMO_WARNING, PseudonymKey, load_key, person_keys
from pipelines.ingest.receipt import ReceiptHeader, receipt_file_name, render_receipt, write_if_changed
from pipelines.ingest.receipt_memo import (
    ReceiptMemo,
    input_key,
    items_digests,
    load_memo,
    output_hash,
    save_memo,
)
from pipelines.ingest.schema import RAW_TABLES, TZ_TIMESTAMP
from pipelines.ingest.sheets import ParsedSheet
from pipelines.ingest.tables import TABLES, typed_batch
from pipelines.ingest.validate import (
    CellBatch,
    check_batches,
    checked_context,
    merge_cell_issues,
    report_incident,
    stack,
    validate_isolated,
)
from pipelines.ingest.workers import ERROR as WORKER_ERROR
from pipelines.ingest.workers import TIMEOUT, WORKER_MEMORY_BYTES, Outcome, WorkerPool
from pipelines.paths import archive_dir, data_dir, landing_dir, raw_dir, receipts_dir, restricted_dir

LOG = logging.getLogger(__name__)
# What the landing area held that is not ingested, and what the receiving log said about itself: logged
# by every run's ingest step, after a prefetch too (from what the prefetch found), so the prefetch leaves
# these lines out of what it hands the step (prefetch.py).
NOT_INGESTED = "not ingested: %s"
RECEIVING_NOTE = "receiving log: %s"
# Retried next run, not cached for good: a machine under load, or a failure of ours (an incident),
# must not turn into a permanent rejection of a good file; an incident id is stable across replays.
TRANSIENT_KINDS = ("parse_timeout", "parse_failed", "internal_error")
_SHEET_RANK = {s.title: i for i, s in enumerate(SHEETS)}


@dataclass(frozen=True)
class IngestSettings:
    workers: int = 2  # parse processes; 0 parses inline (no timeout, for debugging only)
    parse_timeout_seconds: float = 20.0
    worker_memory_bytes: int | None = WORKER_MEMORY_BYTES


@dataclass
class IngestReport:
    quarter: str
    deadline: datetime
    deadline_source: str
    deliveries_in_landing: int = 0
    archived_now: int = 0
    parsed_now: int = 0
    submissions: int = 0
    accepted: int = 0
    rejected: int = 0
    unaccounted: int = 0  # landing deliveries with no ledger row (must be 0)
    statuses: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    warning_kinds: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # what in landing is not a unit's file, and why
    receiving_notes: list[str] = field(default_factory=list)  # what the receiving log said about itself
    conflicts: list[conflicts.Conflict] = field(default_factory=list)  # persons listed by two units
    archive_high_water: int = 0  # the last order of first sight this run's results are built from
    current_submissions: dict[str, str] = field(default_factory=dict)  # unit -> its current file
    demo_key: bool = False
    key_fingerprint: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def quarter_deadline(quarter: Quarter) -> tuple[datetime, str]:
    """The deadline from the year's rules file, or the spec's default when the year has none."""
    try:
        return load_rules(quarter.year).calendar.deadline(quarter), f"rules {quarter.year}"
    except RulesError:
        return quarter.deadline(), "default: 15 days after quarter end (no rules file for the year)"


def ingest_quarter(
    quarter: Quarter | str,
    settings: IngestSettings | None = None,
    log: logging.Logger | None = None,
    on_file: Callable[[int, int], None] | None = None,
    prefetched: Prefetched | None = None,
) -> IngestReport:
    """Run the whole ingestion of one quarter under $ASSESSMENT_DATA_DIR; idempotent.
    `on_file(done, total)`: progress over the quarter's files (files parsed by an earlier run count as
    done from the start), for the operator's progress bar. `prefetched`: what `archive_and_parse` did for
    this run just before (counted as this run's archiving and parsing in the report)."""
    settings = settings or IngestSettings()
    log = log or LOG
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(quarter)
    clock = _Clock()
    deadline, deadline_source = quarter_deadline(q)
    report = IngestReport(q.key, deadline, deadline_source)
    key = load_key()
    report.demo_key, report.key_fingerprint = key.is_demo, key.fingerprint
    if key.is_demo:
        log.warning(DEMO_WARNING)
    registry = {r["unit_code"]: r for r in load_active_registry().iter_rows(named=True)}

    root = cache.cache_root(data_dir())
    records, landed = _archive_and_parse(
        q, report, log, set(registry), root, settings, on_file, clock, prefetched
    )
    clock.lap(report, "parse_validate")
    if prefetched is not None:
        report.archived_now += prefetched.archived
        report.parsed_now += prefetched.parsed
        report.timings["prefetch"] = round(prefetched.seconds, 3)

    tables, (receipts, memo) = _assemble(q, records, registry, root, key, deadline, report)
    report.unaccounted = len(landed - {(r.unit_code, r.submission_id) for r in records})
    clock.lap(report, "assemble")

    persons = tables.pop("_persons")
    written = write_quarter(tables, persons, q.key, raw_dir(), restricted_dir())
    report.paths = {t: str(p) for t, p in written.items()}
    for path, text in receipts:
        write_if_changed(path, text)
    save_memo(memo)
    conflict_report = conflicts.report_path(receipts_dir(), q.key)
    conflict_report.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(conflict_report, conflicts.render_csv(report.conflicts))
    report.paths["conflicts"] = str(conflict_report)
    clock.lap(report, "write")
    report.timings["total"] = round(time.perf_counter() - clock.started, 3)
    log.info(
        "ingested %s: %d submissions (%d parsed now), units %s in %.1fs",
        q.key,
        report.submissions,
        report.parsed_now,
        report.statuses,
        report.timings["total"],
    )
    return report


def archive_and_parse(
    quarter: Quarter | str,
    settings: IngestSettings | None = None,
    log: logging.Logger | None = None,
    on_file: Callable[[int, int], None] | None = None,
) -> Prefetched:
    """Ingestion's first half alone: archive what is new in the quarter's landing folder, parse what the
    cache lacks and cache it; no raw table, receipt or ledger is written.

    `ingest_quarter` does the same first; after this it finds everything archived and cached, so only
    the assembly and the writing are left to it. The operator's command runs this in a process of its
    own while it loads Dagster and dbt (pipelines/ingest/prefetch.py)."""
    started = time.perf_counter()
    settings = settings or IngestSettings()
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(quarter)
    report = IngestReport(q.key, *quarter_deadline(q))
    codes = set(load_active_registry().get_column("unit_code").to_list())
    root = cache.cache_root(data_dir())
    _, landed = _archive_and_parse(q, report, log or LOG, codes, root, settings, on_file, _Clock())
    return Prefetched(
        report.archived_now,
        report.parsed_now,
        time.perf_counter() - started,
        report.deliveries_in_landing,
        frozenset(landed),
        tuple(report.skipped),
        tuple(report.receiving_notes),
    )


def _archive_and_parse(
    q: Quarter,
    report: IngestReport,
    log: logging.Logger,
    unit_codes: set[str],
    root: Path,
    settings: IngestSettings,
    on_file: Callable[[int, int], None] | None,
    clock: _Clock,
    prefetched: Prefetched | None = None,
) -> tuple[list[ArchiveRecord], set[tuple[str, str]]]:
    """Archive what is new, parse what the cache lacks and cache it; the records and what landed.
    After a prefetch, the landing area is taken as the prefetch found it (nothing is discovered again).

    A function of its own so that the parse's results (every cell as Python objects, the pool's
    outcomes, the chunks) are freed before the assembly, not kept alive beside it for the garbage
    collector to walk."""
    archive_root = archive_dir()  # once: each call resolves the data directory on disk
    done = cache.final_metas(root)
    requests: list[ParseRequest] = []  # the pool's tasks, in the order submitted
    submitted: set[str] = set()
    with WorkerPool(
        parse_delivery,
        workers=settings.workers,
        timeout=settings.parse_timeout_seconds,
        memory_bytes=settings.worker_memory_bytes,
        initializer=prepare_worker,
        depth=PARSE_DEPTH,
    ) as pool:
        # Each delivery the cache lacks goes to the workers as soon as it is in the archive: they
        # start (and parse) while the rest is still being copied. Nothing new: no worker starts.
        def parse_soon(record: ArchiveRecord) -> None:
            if record.submission_id not in done and record.submission_id not in submitted:
                request = _request(record, archive_root)
                submitted.add(record.submission_id)
                requests.append(request)
                pool.submit(request)

        if prefetched is None:
            records, landed = _archive(q, report, log, unit_codes, parse_soon)
        else:
            records, landed = _as_prefetched(q, report, log, prefetched, parse_soon)
        clock.lap(report, "discover_archive")
        # One parse per submission: the same bytes from two units are one file to parse.
        todo = list(dict.fromkeys(r.submission_id for r in records if r.submission_id not in done))
        report.parsed_now = len(todo)
        cached = len(records) - len(todo)
        if on_file is not None:
            on_file(cached, len(records))
        if not todo:
            return records, landed
        on_parsed = None if on_file is None else (lambda n: on_file(cached + n, len(records)))
        _receipt_folders(receipts_dir() / q.key, records)
        chunks = _Chunks(requests, todo, settings, log, pool.poll)
        pool.results(on_parsed, chunks.add)
        report.timings["parse.parse_workers"] = _since(clock.last)
    entries, tables, issues = chunks.finish()
    report.timings["parse.last_chunk"] = _since(clock.last)
    cache.write_batch(root, entries, tables, issues, free_text.find_in_table)
    report.timings["parse.cached"] = _since(clock.last)
    return records, landed


def _receipt_folders(root: Path, records: list[ArchiveRecord]) -> None:
    """Make every unit's receipt folder now, while the workers parse and this process waits for them.

    Making a folder is slow on ext4 (0.6 ms of wall time, 0.23 ms of CPU in the kernel on the
    development machine) and a city's first run needs ~500 of them. Made when the receipts are
    written, they would add that time after the parse, where nothing else runs. If the run fails
    later, the folders stay, empty, until the next run writes into them."""
    for unit in sorted({r.unit_code for r in records}):
        (root / unit).mkdir(parents=True, exist_ok=True)


def receive_quarter(quarter: Quarter | str, log: logging.Logger | None = None) -> IngestReport:
    """Record first sight only: archive what is new in the quarter's landing folder, parse nothing.

    Arrival is the moment of first sight, so files must be seen when they land, not when the quarter
    is run after its deadline. Where no receiving log is written, run this every few minutes during
    the submission window (`python -m pipelines.ingest.receive`), or keep the sensor on."""
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(quarter)
    deadline, deadline_source = quarter_deadline(q)
    report = IngestReport(q.key, deadline, deadline_source)
    codes = set(load_active_registry().get_column("unit_code").to_list())
    records, _ = _archive(q, report, log or LOG, codes)
    report.submissions = len(records)
    return report


class _Clock:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def lap(self, report: IngestReport, name: str) -> None:
        now = time.perf_counter()
        report.timings[name] = round(now - self.last, 3)
        self.last = now


# -- discover and archive ---------------------------------------------------------------------------


def _archive(
    q: Quarter,
    report: IngestReport,
    log: logging.Logger,
    unit_codes: set[str],
    on_record: Callable[[ArchiveRecord], None] | None = None,
) -> tuple[list[ArchiveRecord], set[tuple[str, str]]]:
    """Archive what is new in landing; return the records this run works on and what landed.

    The records are those archived when the run began plus those it archived itself: a delivery
    another process archives meanwhile waits for the next run instead of joining this one halfway.
    `on_record` is called with each of them as soon as it is in the archive (so it can be parsed)."""
    discovery = discover_quarter(landing_dir() / q.key, q.key, unit_codes)
    report.deliveries_in_landing = len(discovery.deliveries)
    report.skipped = list(discovery.skipped)
    archive_root = archive_dir()
    before = {(r.unit_code, r.submission_id): r for r in load_quarter(archive_root, q.key)}
    seq = next_seq(list(before.values()))
    seen_ns = time.time_ns()
    records = dict(before)
    if on_record is not None:
        for record in before.values():
            on_record(record)
    landed: set[tuple[str, str]] = set()
    for delivery in sorted(discovery.deliveries, key=_first_sight_order):
        owner = (delivery.unit_code, delivery.submission_id)
        # The same bytes twice in one unit folder (say, also in 更正/) are one submission.
        try:
            record = records.get(owner) or archive_delivery(delivery, archive_root, seen_ns, seq)
        except OSError as exc:  # what the file system refuses for this file fails this file only
            log.error("could not archive %s/%s", delivery.unit_code, delivery.file_name, exc_info=True)
            report.skipped.append(
                f"{delivery.unit_code}/{delivery.file_name}: 无法归档，下次运行再试 "
                f"(could not be archived: {exc.strerror or type(exc).__name__}; next run)"
            )
            continue
        if record is None:
            report.skipped.append(
                f"{delivery.unit_code}/{delivery.file_name}: 读取时文件仍在变化，下次运行再处理 "
                "(changed while being read; next run)"
            )
            continue
        landed.add(owner)
        if owner not in records:
            records[owner] = record
            report.archived_now += 1
            if on_record is not None:
                on_record(record)
            seq = max(seq, record.seq + 1)
    report.receiving_notes = list(discovery.log_notes)
    return _in_arrival_order(report, log, records.values()), landed


def _as_prefetched(
    q: Quarter,
    report: IngestReport,
    log: logging.Logger,
    prefetched: Prefetched,
    on_record: Callable[[ArchiveRecord], None],
) -> tuple[list[ArchiveRecord], set[tuple[str, str]]]:
    """`_archive` after a prefetch of this run archived the quarter's new deliveries: what landed is
    what the prefetch found, the records are the archive as it is now (what was there when the command
    started, what the prefetch added, and, rarely, what the receiving sensor archived since; each goes
    to the workers if the cache lacks it, like the rest). Walking and hashing the landing area again
    would cost seconds on a province and tell nothing new to a run that started moments ago: a file
    landed since is the next run's."""
    records = load_quarter(archive_dir(), q.key)
    for record in records:
        on_record(record)
    report.deliveries_in_landing = prefetched.deliveries
    report.skipped = list(prefetched.skipped)
    report.receiving_notes = list(prefetched.receiving_notes)
    return _in_arrival_order(report, log, records), set(prefetched.landed)


def _in_arrival_order(
    report: IngestReport, log: logging.Logger, found: Iterable[ArchiveRecord]
) -> list[ArchiveRecord]:
    """The records by unit and arrival, the high-water mark set and what was not ingested logged."""
    records = list(found)
    report.archive_high_water = max((r.seq for r in records), default=0)
    for line in report.skipped:
        log.warning(NOT_INGESTED, line)
    for line in report.receiving_notes:
        log.warning(RECEIVING_NOTE, line)
    return sorted(records, key=lambda r: (r.unit_code, r.arrival_ns, r.seq, r.submission_id))


def _first_sight_order(delivery: Delivery) -> tuple[bool, int, int, str, str]:
    """The order in which new deliveries are numbered: those the receiving log dates, as the log has
    them (time, then line); then those seen for the first time now, in folder order."""
    return (
        delivery.received_ns is None,
        delivery.received_ns or 0,
        delivery.received_order,
        delivery.unit_code,
        delivery.file_name,
    )


# -- parse and validate new deliveries --------------------------------------------------------------


def _request(record: ArchiveRecord, archive_root: Path) -> ParseRequest:
    files = tuple((name, str(path)) for name, path in record.paths(archive_root))
    return ParseRequest(record.submission_id, record.format, files)


# Deliveries stacked, cast and checked together while the workers parse the rest. One chunk's polars
# calls cost ~20 ms whatever its size, so chunks must not be tiny; the last one is all that is left
# to do once the workers finish, so they must not be large. Measured on the province (docs/ingestion.md).
CHUNK_FILES = 128
# Calls sent ahead to each worker: with 2 (the pool's default) a worker runs dry within a file
# while this process is busy with a chunk; 4 keeps ~3 files (~25 ms) in each worker's pipe.
PARSE_DEPTH = 4


class _Chunks:
    """The workers' results, typed and checked a chunk at a time as they arrive, cached together.

    Before, every result waited until the last file was parsed, and then one stack, cast and rule
    check over all of them ran alone (~0.3 s a city, ~5 s for a 16-city province, on one core while the
    other had nothing to do). A chunk's work is the same per file: the cast, the cell rules, the
    `item_no` numbering and the task assignments only ever look within one delivery, so each file's
    issues and typed rows are the same whichever chunk it is in. Between the steps of a chunk
    `service()` (the pool's `poll`) takes in finished files and sends more, so the workers keep
    parsing meanwhile."""

    def __init__(
        self,
        requests: list[ParseRequest],
        order: list[str],
        settings: IngestSettings,
        log: logging.Logger,
        service: Callable[[], None],
    ) -> None:
        self._requests = requests
        self._rank = {sid: i for i, sid in enumerate(order)}
        self._settings = settings
        self._log = log
        self._service = service
        self._waiting: list[ParsedDelivery] = []
        self._entries: list[cache.Entry] = []
        self._tables: dict[str, list[pl.DataFrame]] = {}
        self._issues: list[pl.DataFrame] = []

    def add(self, index: int, outcome: Outcome[ParsedDelivery]) -> None:
        self._waiting.append(_result(self._requests[index], outcome, self._settings, self._log))
        if len(self._waiting) >= CHUNK_FILES:
            self._flush()

    def finish(self) -> tuple[list[cache.Entry], dict[str, pl.DataFrame], pl.DataFrame]:
        """Every entry, typed table and issue in the order given (unit, then arrival), as the cache
        batch held them when the whole run was cast at once. The order is not needed for the raw
        tables (the assembly reads the cache back in the quarter's order), but the assembly's reads,
        each a sort, cost more on a batch out of order than this one sort does (province: +0.3-0.4 s
        of CPU in the assembly against 0.22 s here)."""
        self._flush()
        rank = self._rank
        entries = sorted(self._entries, key=lambda e: rank[e.submission_id])
        by_rank = pl.col("submission_id").replace_strict(rank, return_dtype=pl.Int64)
        # Sorted even when there is one chunk: a chunk holds its files in the order they were parsed.
        tables = {
            table: pl.concat(frames).sort(by_rank, maintain_order=True)
            for table, frames in self._tables.items()
        }
        return entries, tables, pl.concat(self._issues).sort(by_rank, maintain_order=True)

    def _flush(self) -> None:
        results, self._waiting = self._waiting, []
        if not results:
            return
        entries, tables = _typed_and_checked(results, self._log, self._service)
        self._entries.extend(entries)
        self._issues.append(cache.all_issues(entries))
        for table, frame in tables.items():
            self._tables.setdefault(table, []).append(frame)
        self._service()


def _typed_and_checked(
    results: list[ParsedDelivery], log: logging.Logger, service: Callable[[], None]
) -> tuple[list[cache.Entry], dict[str, pl.DataFrame]]:
    """Type and check every cell of these deliveries once per stacked sheet: their cache entries and
    typed tables. The cell rules are the suites compiled to polars expressions (rules.py);
    great-expectations itself runs the same suites as an asset check over the raw tables."""
    by_sheet: dict[str, list[tuple[int, ParsedSheet]]] = {}
    for index, result in enumerate(results):
        if result.readable:
            for name, parsed in result.sheets.items():
                by_sheet.setdefault(name, []).append((index, parsed))
    batches = _stacked(by_sheet, log)
    service()
    tables, cast_issues, cast_incidents = _typed(by_sheet, batches, results, log)
    service()
    ids = {i: r.submission_id for i, r in enumerate(results)}
    cell_issues, incidents = validate_isolated(by_sheet, check_batches, ids, log, stacked=batches)
    # A file whose cast or validation raised says only that (its incident), nothing else.
    for i, incident in {**cast_incidents, **incidents}.items():
        results[i] = failed_validation(results[i], incident)
        cast_issues.pop(i, None)
        cell_issues.pop(i, None)
    entries = [
        cache.Entry(
            submission_id=r.submission_id,
            readable=r.readable,
            issues=_ordered(merge_cell_issues(r.issues + cast_issues.get(i, []), cell_issues.get(i, []))),
            encoding=r.encoding,
            facts=r.facts,
            parse_seconds=r.seconds,
            transient=any(x.kind in TRANSIENT_KINDS for x in r.issues),
        )
        for i, r in enumerate(results)
    ]
    return entries, tables


def _stacked(
    by_sheet: dict[str, list[tuple[int, ParsedSheet]]], log: logging.Logger
) -> list[CellBatch] | None:
    """The sheets of all new deliveries stacked once, for the cast and the cell rules; None if that
    raises, and then both go file by file (only the file that makes them raise is rejected)."""
    try:
        return stack(by_sheet)
    except Exception:
        log.exception("stacking the new deliveries' sheets failed; casting and checking each file on its own")
        return None


def _typed(
    by_sheet: dict[str, list[tuple[int, ParsedSheet]]],
    batches: list[CellBatch] | None,
    results: list[ParsedDelivery],
    log: logging.Logger,
) -> tuple[dict[str, pl.DataFrame], dict[int, list[Issue]], dict[int, Incident]]:
    """The typed tables of every readable delivery in one cast per table (over `batches`, the stacked
    `by_sheet`); if that raises (or the stacking did), each delivery is cast on its own, so only the
    file that makes it raise is rejected (an incident)."""
    ids = [r.submission_id for r in results]
    try:
        if batches is None:
            raise RuntimeError("the stacked sheets are missing (stacking raised)")
        return (*typed_batch({b.sheet: b.frame for b in batches}, ids), {})
    except Exception:
        log.exception("batched cast to typed tables failed; casting each file on its own")
    parts: dict[str, list[pl.DataFrame]] = {}
    issues: dict[int, list[Issue]] = {}
    incidents: dict[int, Incident] = {}
    for index in sorted({i for sheet in by_sheet.values() for i, _ in sheet}):
        own = {name: [p for p in sheet if p[0] == index] for name, sheet in by_sheet.items()}
        try:
            tables, found = typed_batch({b.sheet: b.frame for b in stack(own)}, ids)
        except Exception:
            incidents[index] = report_incident(ids[index], "cast", log)
            continue
        issues.update(found)
        for table, frame in tables.items():
            parts.setdefault(table, []).append(frame)
    return {t: pl.concat(frames) for t, frames in parts.items()}, issues, incidents


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _result(
    request: ParseRequest, outcome: Outcome[ParsedDelivery], settings: IngestSettings, log: logging.Logger
) -> ParsedDelivery:
    if outcome.ok and outcome.value is not None:
        log_parse_notes(outcome.value, log)
        return outcome.value
    if outcome.failure == TIMEOUT:
        detail = f"（超过{settings.parse_timeout_seconds:g}秒仍未完成，文件可能异常）"
        return refused(request.submission_id, "parse_timeout", detail, outcome.seconds)
    if outcome.failure == WORKER_ERROR:  # raised past parse_delivery (e.g. an unpicklable result)
        delivery = failed(request.submission_id, "parse", outcome.detail, outcome.seconds)
        log_parse_notes(delivery, log)
        return delivery
    log.error("parsing %s failed: %s %s", request.submission_id, outcome.failure, outcome.detail)
    return refused(request.submission_id, "parse_failed", "（文件结构异常，无法解析）", outcome.seconds)


def _ordered(issues: list[Issue]) -> list[Issue]:
    """Errors before warnings, then in template sheet order and by row: how a clerk works through it."""
    return sorted(
        issues,
        key=lambda i: (
            i.severity != "error",
            _SHEET_RANK.get(i.sheet or "", -1 if i.sheet is None else 99),
            i.excel_row or 0,
        ),
    )


# -- assemble the quarter -----------------------------------------------------------------------------


def _arrival(record: ArchiveRecord) -> datetime:
    """The arrival instant to the microsecond (integer arithmetic: a float would round it)."""
    seconds, ns = divmod(record.arrival_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=ns // 1000)


def _assemble(
    q: Quarter,
    records: list[ArchiveRecord],
    registry: dict[str, dict[str, str]],
    root: Path,
    key: PseudonymKey,
    deadline: datetime,
    report: IngestReport,
) -> tuple[dict[str, pl.DataFrame], tuple[list[tuple[Path, str]], ReceiptMemo]]:
    metas = cache.read_metas(root, [r.submission_id for r in records])
    unique = list(metas.values())
    extra: dict[tuple[str, str], list[Issue]] = {}
    accepted: dict[tuple[str, str], bool] = {}
    for r in records:
        meta = metas[r.submission_id]
        context = checked_context(
            meta.facts if meta.readable else None,
            r.unit_code,
            q,
            registry.get(r.unit_code),
            r.submission_id,
            LOG,
        )
        extra[(r.unit_code, r.submission_id)] = context
        accepted[(r.unit_code, r.submission_id)] = meta.content_ok and not any(
            i.severity == "error" for i in context
        )
    report.conflicts = _reject_shared_people(q, records, registry, root, metas, accepted, extra, key)
    free_text.add_warnings(extra, root, metas)  # IDs typed outside the ID column: warned, masked below

    ledger = _ledger(q, records, metas, accepted, extra)
    items = _receipt_items(q, records, root, unique, extra)
    current = ledger.filter(pl.col("is_current")).select("unit_code", "submission_id").sort("unit_code")
    report.current_submissions = dict(current.iter_rows())
    tables = _current_tables(q, current, root, metas, key)
    tables["submissions"] = ledger
    tables["unit_status"] = unit_status(ledger, sorted(registry), q.key, deadline)
    tables["receipt_items"] = items
    receipts = _receipts(q, records, ledger, items, registry, root)
    free_text.mask_tables(tables, key)

    report.submissions = ledger.height
    report.accepted = int(ledger["accepted"].sum())
    report.rejected = ledger.height - report.accepted
    report.statuses = dict.fromkeys(SUBMISSION_STATUSES, 0)
    report.statuses.update(dict(tables["unit_status"].group_by("status").len().iter_rows()))
    report.error_kinds = _top(items, "error")
    report.warning_kinds = _top(items, "warning")
    report.rows = {t: tables[t].height for t in RAW_TABLES}
    return tables, receipts


def _reject_shared_people(
    q: Quarter,
    records: list[ArchiveRecord],
    registry: dict[str, dict[str, str]],
    root: Path,
    metas: dict[str, cache.CachedMeta],
    accepted: dict[tuple[str, str], bool],
    extra: dict[tuple[str, str], list[Issue]],
    key: PseudonymKey,
) -> list[conflicts.Conflict]:
    """Refuse each accepted submission that lists a person another unit's current file already holds
    (the later arrival); the holder keeps its data (conflicts.py)."""
    ids = sorted({sha for (_, sha), ok in accepted.items() if ok})
    rosters = cache.read_table(root, "roster", [metas[i] for i in ids])
    persons: dict[str, list[tuple[str, int | None]]] = {}
    for sha, nid, row in rosters.select("submission_id", "national_id", "excel_row").iter_rows():
        if nid is not None:
            persons.setdefault(sha, []).append((nid, row))
    names = {code: unit["unit_name"] for code, unit in registry.items()}
    refused, found = conflicts.resolve(
        q.key, records, accepted, persons, names, lambda nids: person_keys(key, nids)
    )
    for owner, issues in refused.items():
        extra[owner] = extra[owner] + issues
    return found


def _ledger(
    q: Quarter,
    records: list[ArchiveRecord],
    metas: dict[str, cache.CachedMeta],
    accepted: dict[tuple[str, str], bool],
    extra: dict[tuple[str, str], list[Issue]],
) -> pl.DataFrame:
    rows = []
    seqs = []
    data, receipts = data_dir(), receipts_dir()  # once: each call resolves the path on disk
    for r in records:
        meta, more = metas[r.submission_id], extra[(r.unit_code, r.submission_id)]
        seqs.append(r.seq)
        more_errors = sum(i.severity == "error" for i in more)
        rows.append(
            {
                "submission_id": r.submission_id,
                "quarter": q.key,
                "unit_code": r.unit_code,
                "file_name": r.file_name,
                "archive_path": r.archive_path,
                "size_bytes": r.size_bytes,
                "arrival_at": _arrival(r),
                "format": r.format,
                "encoding": meta.encoding,
                "accepted": accepted[(r.unit_code, r.submission_id)],
                "n_errors": meta.n_errors + more_errors,
                "n_warnings": meta.n_warnings + len(more) - more_errors,
                "receipt_path": str(_receipt_path(receipts, q, r).relative_to(data)),
            }
        )
    schema = {c: t for c, t in RAW_TABLES["submissions"].items() if c != "is_current"}
    frame = pl.DataFrame(rows, schema={**schema, "arrival_at": pl.Datetime("us", "UTC")}, orient="row")
    frame = frame.with_columns(
        pl.col("arrival_at").dt.convert_time_zone("Asia/Shanghai").cast(TZ_TIMESTAMP),
        pl.Series("seq", seqs, dtype=pl.Int64),
    )
    return mark_current(frame).select(list(RAW_TABLES["submissions"]))


def _receipt_path(receipts: Path, q: Quarter, r: ArchiveRecord) -> Path:
    return receipts / q.key / r.unit_code / receipt_file_name(r.file_name, r.submission_id, r.format)


def _receipt_items(
    q: Quarter,
    records: list[ArchiveRecord],
    root: Path,
    metas: list[cache.CachedMeta],
    extra: dict[tuple[str, str], list[Issue]],
) -> pl.DataFrame:
    owners = pl.DataFrame(
        {
            "unit_code": [r.unit_code for r in records],
            "submission_id": [r.submission_id for r in records],
            "_order": list(range(len(records))),
        },
        schema={"unit_code": pl.Utf8, "submission_id": pl.Utf8, "_order": pl.Int64},
    )
    content = cache.read_issues(root, metas).join(owners, on="submission_id")
    added = []
    for i, r in enumerate(records):
        for k, issue in enumerate(extra[(r.unit_code, r.submission_id)]):
            added.append(
                {
                    "submission_id": r.submission_id,
                    "ordinal": 1_000_000 + k,
                    "severity": issue.severity,
                    "kind": issue.kind,
                    "sheet": issue.sheet,
                    "excel_row": issue.excel_row,
                    "column_header": issue.header,
                    "value": issue.value,
                    "message": issue.message,
                    "unit_code": r.unit_code,
                    "_order": i,
                }
            )
    schema = {**cache.ISSUE_SCHEMA, "unit_code": pl.Utf8, "_order": pl.Int64}
    combined = pl.concat([content.select(list(schema)), pl.DataFrame(added, schema=schema)])
    return (
        combined.sort(["_order", pl.col("severity") != "error", "ordinal"])
        .with_columns(pl.lit(q.key).alias("quarter"))
        .select(list(RAW_TABLES["receipt_items"]))
    )


def _current_tables(
    q: Quarter, current: pl.DataFrame, root: Path, metas: dict[str, cache.CachedMeta], key: PseudonymKey
) -> dict[str, pl.DataFrame]:
    """Each unit's current submission, typed, with folder context and pseudonymous person keys."""
    chosen = [metas[i] for i in current.get_column("submission_id").to_list()]
    out: dict[str, pl.DataFrame] = {}
    for table in TABLES:
        frame = cache.read_table(root, table, chosen).join(
            current, on="submission_id", how="inner", maintain_order="left"
        )
        out[table] = frame.with_columns(pl.lit(q.key).alias("quarter"))
    roster = out["roster"]
    roster = roster.with_columns(
        pl.Series("person_key", person_keys(key, roster.get_column("national_id").to_list()), dtype=pl.Utf8)
    )
    out["_persons"] = roster.select(
        "person_key", "national_id", "name", "quarter", "unit_code", "person_code"
    )
    # Names and IDs stop here: the analytical roster carries the key only.
    out["roster"] = roster.drop("national_id", "name", "excel_row")
    return out


def _receipts(
    q: Quarter,
    records: list[ArchiveRecord],
    ledger: pl.DataFrame,
    items: pl.DataFrame,
    registry: dict[str, dict[str, str]],
    root: Path,
) -> tuple[list[tuple[Path, str]], ReceiptMemo]:
    """The receipts to write (those whose inputs or file changed since the last run, receipt_memo.py)
    and the memo to save once they are written."""
    flags = {
        (r["unit_code"], r["submission_id"]): (r["accepted"], r["is_current"])
        for r in ledger.select("unit_code", "submission_id", "accepted", "is_current").iter_rows(named=True)
    }
    digests = items_digests(items)
    previous = load_memo(root, q.key)
    memo = ReceiptMemo(previous.path)
    receipts = receipts_dir()
    paths = [_receipt_path(receipts, q, r) for r in records]
    # Two records with one receipt path (never seen; the hash is in the name) keep the old behaviour:
    # both rendered and written in order, the later one last.
    shared = {p for p, n in Counter(paths).items() if n > 1}
    todo: list[tuple[Path, ReceiptHeader, str]] = []
    for r, path in zip(records, paths, strict=True):
        owner = (r.unit_code, r.submission_id)
        is_accepted, is_current = flags[owner]
        unit = registry.get(r.unit_code)
        header = ReceiptHeader(
            quarter=q.key,
            unit_code=r.unit_code,
            unit_name=unit["unit_name"] if unit else None,
            file_name=r.file_name,
            submission_id=r.submission_id,
            arrival_at=_arrival(r).astimezone(TZ),
            accepted=is_accepted,
            is_current=is_current,
        )
        relpath = path.relative_to(receipts).as_posix()
        key = input_key(header, digests.get(owner, ""))
        if path not in shared and previous.unchanged(relpath, key, path):
            memo.entries[relpath] = previous.entries[relpath]
        else:
            todo.append((path, header, key))
    # Only the rows of the receipts rendered are turned into Python objects.
    wanted = pl.DataFrame(
        [(h.unit_code, h.submission_id) for _, h, _ in todo],
        schema={"unit_code": pl.Utf8, "submission_id": pl.Utf8},
        orient="row",
    ).unique()
    by_owner: dict[tuple[str, str], list[dict[str, object]]] = {}
    rendered = items.join(wanted, on=["unit_code", "submission_id"], maintain_order="left")
    for row in rendered.iter_rows(named=True):
        by_owner.setdefault((row["unit_code"], row["submission_id"]), []).append(row)
    out = []
    for path, header, key in todo:
        text = render_receipt(header, by_owner.get((header.unit_code, header.submission_id), []))
        memo.entries[path.relative_to(receipts).as_posix()] = [key, output_hash(text)]
        out.append((path, text))
    return out, memo


def _top(items: pl.DataFrame, severity: str) -> dict[str, int]:
    counts = Counter(items.filter(pl.col("severity") == severity).get_column("kind").to_list())
    return dict(counts.most_common())
