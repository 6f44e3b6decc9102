"""Golden outputs of ingestion: every raw table and every receipt's issue list, on two inputs.

(a) a generated 40-unit quarter with the generator's default mess (noise, breakages, CSV units, late
and rejected files), ingested with parse workers; (b) the hostile corpus of test_hostile_corpus.py
landed on its clean 6-unit base, ingested inline. The files were written by the ingestion that parsed
one workbook at a time (before the columnar rewrite of issue 16); test_golden.py ingests the same
inputs with the current code and compares.

What depends on the run rather than on the files is taken out, the rest is kept as is:
- submission ids are SHA-256 of the bytes; openpyxl stamps the hostile workbooks with the time they
  were written, so ids (and the sha-derived receipt paths and incident ids) become the file's
  `unit_code/file_name`;
- arrival times and sizes of the hostile cases depend on the moment they were written (the city's
  arrivals come from its receiving log and are kept).

Write them (only from code whose outputs are known good):
    uv run python -m tests.ingest.golden --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.domain.quarters import quarter_range
from pipelines.ingest import prefetch
from pipelines.ingest.prefetched import Prefetched
from pipelines.ingest.run import IngestSettings, ingest_quarter
from pipelines.ingest.schema import RAW_TABLES

if TYPE_CHECKING:
    from tests.ingest.hostile import Base

GOLDEN = Path(__file__).parent / "golden"
QUARTER = "2025Q3"
CITY_UNITS, CITY_SEED = 40, 7
# Above this many serialised bytes a table is kept as its row count and a hash, not row by row.
MAX_INLINE_BYTES = 300_000
ALWAYS_INLINE = ("receipt_items", "submissions", "unit_status")  # the receipts' issue rows
_INCIDENT = re.compile(r"E[0-9A-F]{10}")
_SHA = re.compile(r"[0-9a-f]{64}")
_VOLATILE_HOSTILE = ("arrival_at", "first_accepted_at", "size_bytes")


def _stable_ids(root: Path) -> dict[str, str]:
    """submission id -> unit_code/file_name (numbered when a unit sent two files of one name)."""
    ledger = pl.read_parquet(root / "raw" / "submissions" / f"{QUARTER}.parquet")
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    rows = ledger.sort("unit_code", "file_name", "arrival_at", "size_bytes").iter_rows(named=True)
    for row in rows:
        name = f"{row['unit_code']}/{row['file_name']}"
        seen[name] = seen.get(name, 0) + 1
        out[row["submission_id"]] = name if seen[name] == 1 else f"{name}#{seen[name]}"
    return out


def _rename(value: Any, ids: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    value = _SHA.sub(lambda m: ids.get(m.group(), "<sha>"), value)
    for sha, name in ids.items():  # receipt file names carry the first 12 hex digits
        value = value.replace(f"_{sha[:12]}.", f"_{name.replace('/', '|')}.")
    return _INCIDENT.sub("E<incident>", value)


def snapshot(root: Path, volatile: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every raw table of the quarter, ids made stable, rows sorted: a JSON-able value."""
    ids = _stable_ids(root)
    out: dict[str, Any] = {}
    for table in sorted(RAW_TABLES):
        frame = pl.read_parquet(root / "raw" / table / f"{QUARTER}.parquet")
        frame = frame.drop([c for c in volatile if c in frame.columns])
        text_columns = [c for c, t in frame.schema.items() if t == pl.Utf8]
        frame = frame.with_columns(
            pl.col(c).map_elements(lambda v: _rename(v, ids), return_dtype=pl.Utf8) for c in text_columns
        )
        rows = [
            json.dumps(r, ensure_ascii=False, sort_keys=True, default=str)
            for r in frame.iter_rows(named=True)
        ]
        rows.sort()
        body = "\n".join(rows)
        if table not in ALWAYS_INLINE and len(body.encode()) > MAX_INLINE_BYTES:
            out[table] = {
                "rows": len(rows),
                "columns": frame.columns,
                "sha256": hashlib.sha256(body.encode()).hexdigest(),
            }
        else:
            out[table] = {"rows": len(rows), "columns": frame.columns, "data": rows}
    return out


def generate_messy_city(root: Path) -> Path:
    from tests.conftest import make_city

    quarters = tuple(quarter_range(QUARTER))
    return make_city(root, seed=CITY_SEED, units=CITY_UNITS, quarters=quarters, workers=1)


def ingest_messy_city(root: Path, prefetched: bool = False) -> dict[str, Any]:
    """Ingest the city `generate_messy_city` wrote into `root`."""
    ingest(root, workers=2, prefetched=prefetched)
    return snapshot(root)


def ingest_hostile(base: Base, work: Path, prefetched: bool = False) -> dict[str, Any]:
    """The hostile corpus landed on a copy (in `work`) of its clean base, then ingested."""
    from tests.ingest.hostile import copy_base, landing_folder
    from tests.ingest.test_hostile_corpus import ACCEPTED, CASES

    root = copy_base(base, work)
    units = base.units
    csv_units = {"csv_300000_char_cell": units[2], "csv_bad_utf8": units[3]}
    placed = {case.name: csv_units.get(case.name, units[k % 2]) for k, case in enumerate(CASES)}
    placed.update({case.name: unit for case, unit in zip(ACCEPTED, units[4:], strict=True)})
    for case in (*CASES, *ACCEPTED):
        unit = placed[case.name]
        case.write(base, landing_folder(root, unit) / f"{case.name}.xlsx", unit)
    ingest(root, workers=0, prefetched=prefetched)
    return snapshot(root, _VOLATILE_HOSTILE)


def ingest(root: Path, workers: int, prefetched: bool = False) -> None:
    """`prefetched`: archived and parsed first by the operator command's prefetch process
    (pipelines/ingest/prefetch.py, its default settings), then ingested; else all in ingest_quarter."""
    import os

    previous = os.environ.get("ASSESSMENT_DATA_DIR")
    os.environ["ASSESSMENT_DATA_DIR"] = str(root)
    os.environ.pop("ASSESSMENT_REGISTRY_CSV", None)
    os.environ.setdefault("ASSESSMENT_DEMO", "1")
    try:
        done = _prefetch(root) if prefetched else None
        report = ingest_quarter(QUARTER, IngestSettings(workers=workers), prefetched=done)
        if prefetched:  # the step itself found every delivery archived and parsed
            assert "parse.parse_workers" not in report.timings, report.timings
            assert report.parsed_now == report.archived_now > 0, report
    finally:
        if previous is None:
            os.environ.pop("ASSESSMENT_DATA_DIR", None)
        else:
            os.environ["ASSESSMENT_DATA_DIR"] = previous


def _prefetch(root: Path) -> Prefetched:
    log = root / "logs" / "prefetch.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = prefetch.start([QUARTER], root, log)
    try:
        done = prefetch.wait_for(root, QUARTER)
    finally:
        prefetch.stop(handle)
    assert done is not None, log.read_text(encoding="utf-8")
    return done


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def load(name: str) -> dict[str, Any]:
    return json.loads(golden_path(name).read_text(encoding="utf-8"))


def write(name: str, value: dict[str, Any]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    text = json.dumps(value, ensure_ascii=False, indent=0, sort_keys=True)
    golden_path(name).write_text(text + "\n", encoding="utf-8")


def main() -> None:
    from tests.ingest.hostile import build_base

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--write", action="store_true", help="write the golden files (else just print sizes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        city = ingest_messy_city(generate_messy_city(Path(tmp) / "city"))
        hostile = ingest_hostile(build_base(Path(tmp) / "base"), Path(tmp) / "hostile")
    for name, value in (("messy_city", city), ("hostile", hostile)):
        if args.write:
            write(name, value)
        print(name, {t: v["rows"] for t, v in value.items()})


if __name__ == "__main__":
    main()
