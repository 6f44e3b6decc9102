"""The parse cache: each submission's validated result, found by its SHA-256.

    ingest_cache/<namespace>/batches/<batch>/entries.json       meta of each submission: readable,
                                                                 counts, facts
    ingest_cache/<namespace>/batches/<batch>/issues.parquet      every content error and warning
    ingest_cache/<namespace>/batches/<batch>/<table>.parquet     typed tables (content-valid only)
    ingest_cache/<namespace>/batches/<batch>/free_text.parquet   national IDs typed outside the ID
                                                                 column (free_text.py), found once
    ingest_cache/<namespace>/entries/<sha256>.transient.json    a timeout or crash, retried next run

A re-run reads these instead of parsing: an unchanged file is never parsed twice. The results of
one run are written as one batch (a Parquet file per table holding all its new submissions, with
a submission_id column, and one JSON file of their metas) rather than files per submission: a city
quarter is ~500 submissions, and ~500 small files cost seconds to write and to read back on a slow
disk, one batch costs milliseconds. A batch is written in a hidden folder and renamed into place
when complete: the rename is the commit; batches are immutable. When two batches hold a final
result for the same submission (two runs racing), the later batch's is used.

The namespace hashes CACHE_VERSION and the committed suites, so changing a rule (or the parser,
by bumping CACHE_VERSION) re-validates everything once.

The cache holds what the archive holds (names and national IDs in the roster), so it is restricted
data like the archive: it never feeds analysts directly, only the quarter assembly in run.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.ingest.issues import Issue
from pipelines.ingest.suites import suites_fingerprint
from pipelines.ingest.tables import TABLES, cache_schema
from pipelines.ingest.validate import UnitFacts

CACHE_VERSION = "2"  # bump when parsing or a code check changes what a file yields, or the layout
# (2: the metas of a batch in one entries.json instead of a file per submission)

ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8,
    "ordinal": pl.Int64,
    "severity": pl.Utf8,
    "kind": pl.Utf8,
    "sheet": pl.Utf8,
    "excel_row": pl.Int64,
    "column_header": pl.Utf8,
    "value": pl.Utf8,
    "message": pl.Utf8,
}


def namespace() -> str:
    h = hashlib.sha256(CACHE_VERSION.encode() + b"\0" + suites_fingerprint())
    return f"v{CACHE_VERSION}-{h.hexdigest()[:12]}"


def cache_root(data_root: Path) -> Path:
    return data_root / "ingest_cache" / namespace()


@dataclass
class Entry:
    """What one parse produced, ready to be cached."""

    submission_id: str
    readable: bool
    issues: list[Issue]
    encoding: str | None = None
    facts: UnitFacts | None = None
    parse_seconds: float = 0.0
    transient: bool = False  # a timeout or a worker crash: says more about the run than the file

    @property
    def n_errors(self) -> int:
        return sum(i.severity == "error" for i in self.issues)

    @property
    def content_ok(self) -> bool:
        return self.readable and self.n_errors == 0


@dataclass(frozen=True)
class CachedMeta:
    submission_id: str
    batch: str
    readable: bool
    content_ok: bool  # readable and no content error: its typed tables are in the batch
    encoding: str | None
    facts: UnitFacts | None
    n_errors: int
    n_warnings: int
    parse_seconds: float


ENTRIES = "entries.json"


def _transient_path(root: Path, submission_id: str) -> Path:
    return root / "entries" / f"{submission_id}.transient.json"


# Metas of the batches read so far, by cache root and batch: batches are immutable, so each is read
# once per process however many runs (a Dagster process, the tests) look at the cache.
_BATCHES: dict[Path, dict[str, dict[str, CachedMeta]]] = {}


def final_metas(root: Path) -> dict[str, CachedMeta]:
    """Every final (not transient) cached result, by submission id."""
    folder = root / "batches"
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
    loaded = _BATCHES.setdefault(root, {})
    out: dict[str, CachedMeta] = {}
    for name in names:  # batch names start with their UTC time: the later batch wins
        if name not in loaded:
            path = folder / name / ENTRIES
            body = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
            loaded[name] = {m["submission_id"]: _meta(m) for m in body}
        out.update(loaded[name])
    return out


def has(root: Path, submission_id: str) -> bool:
    """A final result is cached. A transient one (timeout, crash) is retried on the next run: a
    machine under load must not turn into a permanent rejection of a good file."""
    return submission_id in final_metas(root)


def all_issues(entries: list[Entry]) -> pl.DataFrame:
    """The issues of every entry as one frame, numbered per entry in receipt order."""
    rows = [
        (e.submission_id, k, i.severity, i.kind, i.sheet, i.excel_row, i.header, i.value, i.message)
        for e in entries
        for k, i in enumerate(e.issues)
    ]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA, orient="row")


# The cache is written once and read back by the same run's assembly (and by every re-run): LZ4 writes
# in ~0.75x zstd's CPU and reads in ~0.35x its time, for files about twice as large (~18 MB for a
# 4-city province's first run).
COMPRESSION = "lz4"


# The warnings free_text.py finds in a batch's typed tables, as Issue fields in the order found.
FREE_TEXT = "free_text"
FREE_TEXT_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8,
    "kind": pl.Utf8,
    "message": pl.Utf8,
    "sheet": pl.Utf8,
    "excel_row": pl.Int64,
    "header": pl.Utf8,
    "value": pl.Utf8,
}
# free_text.find_in_table: (table, its kept rows, the warnings found so far by submission id).
FindInTable = Callable[[str, pl.DataFrame, dict[str, list[Issue]]], None]


def write_batch(
    root: Path,
    entries: list[Entry],
    tables: dict[str, pl.DataFrame],
    issues: pl.DataFrame | None = None,
    find: FindInTable | None = None,
) -> str:
    """Cache the results of one run; returns the batch id. `tables`: the typed tables of the run's
    deliveries (tables.typed_batch), of which those of content-valid entries are kept. `issues`:
    all_issues(entries), when the caller has it already. `find`: what finds the free-text warnings
    in each kept table (free_text.find_in_table), kept beside them so that no later run looks for
    them again; a batch without them (written before) has them found at each assembly."""
    batch = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder = root / "batches" / batch
    tmp = root / "batches" / f".tmp-{batch}"
    tmp.mkdir(parents=True)
    issues = all_issues(entries) if issues is None else issues
    issues.write_parquet(tmp / "issues.parquet", compression=COMPRESSION)
    # Counted once per entry: each count walks every issue of the file (a province's 100,000s).
    errors = [e.n_errors for e in entries]
    valid = [e.submission_id for e, n in zip(entries, errors, strict=True) if e.readable and n == 0]
    found: dict[str, list[Issue]] = {}
    for table in TABLES:  # one kept table at a time: a province's are hundreds of MB together
        schema = cache_schema(table)
        frame = tables.get(table, pl.DataFrame(schema=schema))
        frame = frame.filter(pl.col("submission_id").is_in(valid))
        kept = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        kept.write_parquet(tmp / f"{table}.parquet", compression=COMPRESSION)
        if find is not None:
            find(table, kept, found)
    if find is not None:
        _free_text_frame(found).write_parquet(tmp / f"{FREE_TEXT}.parquet", compression=COMPRESSION)
    metas = [
        CachedMeta(
            submission_id=e.submission_id,
            batch=batch,
            readable=e.readable,
            content_ok=e.readable and n == 0,
            encoding=e.encoding,
            facts=e.facts,
            n_errors=n,
            n_warnings=len(e.issues) - n,
            parse_seconds=round(e.parse_seconds, 4),
        )
        for e, n in zip(entries, errors, strict=True)
    ]
    final = [asdict(m) for m, e in zip(metas, entries, strict=True) if not e.transient]
    (tmp / ENTRIES).write_text(json.dumps(final, ensure_ascii=False), encoding="utf-8")
    tmp.rename(folder)
    (root / "entries").mkdir(parents=True, exist_ok=True)
    for meta, e in zip(metas, entries, strict=True):
        if e.transient:
            _write_transient(_transient_path(root, e.submission_id), meta)
        else:
            _transient_path(root, e.submission_id).unlink(missing_ok=True)
    return batch


def _free_text_frame(found: dict[str, list[Issue]]) -> pl.DataFrame:
    rows = [
        (sha, i.kind, i.message, i.sheet, i.excel_row, i.header, i.value)
        for sha, issues in found.items()
        for i in issues
    ]
    return pl.DataFrame(rows, schema=FREE_TEXT_SCHEMA, orient="row")


def read_free_text(root: Path, metas: list[CachedMeta]) -> tuple[dict[str, list[Issue]], set[str]]:
    """The free-text warnings cached for these submissions, and which submissions that answers for:
    every one whose batch keeps them (with or without a warning), none of an older batch's."""
    batches: dict[str, set[str]] = {}
    for m in metas:
        batches.setdefault(m.batch, set()).add(m.submission_id)
    found: dict[str, list[Issue]] = {}
    covered: set[str] = set()
    for batch, ids in sorted(batches.items()):
        path = root / "batches" / batch / f"{FREE_TEXT}.parquet"
        if not path.exists():  # a batch written before the warnings were kept
            continue
        frame = pl.read_parquet(path)
        covered |= ids
        for sha, kind, message, sheet, row, header, value in frame.filter(
            pl.col("submission_id").is_in(list(ids))
        ).iter_rows():
            found.setdefault(sha, []).append(Issue(kind, message, sheet, row, header, value))
    return found, covered


def _write_transient(path: Path, meta: CachedMeta) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(asdict(meta), ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _meta(body: dict[str, Any]) -> CachedMeta:
    body = dict(body)
    facts = body.pop("facts")
    if facts is not None:
        facts["blank_coefficient_rows"] = tuple(facts["blank_coefficient_rows"])
    return CachedMeta(**body, facts=UnitFacts(**facts) if facts is not None else None)


def read_metas(root: Path, submission_ids: list[str]) -> dict[str, CachedMeta]:
    """The cached result of each submission: the final one, else the transient one of the last run."""
    final = final_metas(root)
    out = {}
    for sha in submission_ids:
        meta = final.get(sha)
        if meta is None:
            meta = _meta(json.loads(_transient_path(root, sha).read_text(encoding="utf-8")))
        out[sha] = meta
    return out


def read_meta(root: Path, submission_id: str) -> CachedMeta:
    return read_metas(root, [submission_id])[submission_id]


def _read(root: Path, name: str, metas: list[CachedMeta], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of the given submissions from their batches, in the order of `metas`, then file order."""
    order = {m.submission_id: i for i, m in enumerate(metas)}
    batches: dict[str, list[str]] = {}
    for m in metas:
        batches.setdefault(m.batch, []).append(m.submission_id)
    frames = [
        pl.read_parquet(root / "batches" / batch / f"{name}.parquet").filter(
            pl.col("submission_id").is_in(ids)
        )
        for batch, ids in sorted(batches.items())
    ]
    if not frames:
        return pl.DataFrame(schema=schema)
    stacked = pl.concat([f.select([pl.col(c).cast(t) for c, t in schema.items()]) for f in frames])
    rank = pl.col("submission_id").replace_strict(order, return_dtype=pl.Int64)
    return stacked.sort(rank, maintain_order=True)


def read_issues(root: Path, metas: list[CachedMeta]) -> pl.DataFrame:
    return _read(root, "issues", metas, ISSUE_SCHEMA)


def read_table(root: Path, table: str, metas: list[CachedMeta]) -> pl.DataFrame:
    """One typed table of cached, content-valid submissions."""
    return _read(root, table, [m for m in metas if m.content_ok], cache_schema(table))
