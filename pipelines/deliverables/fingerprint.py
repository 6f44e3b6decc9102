"""Write only what changed: a content fingerprint per deliverable file.

Every file of `data/deliverables/<quarter>/` is a pure function of what it is written from (the rows of
the warehouse and of the ledger it shows, the quarter, the calendar time zone) and of the code that writes
it. Its fingerprint hashes exactly those inputs — never the "generated at" stamp, which changes on every
run — together with a hash of the writing code (this package's modules and templates, the cell
neutraliser, the versions of xlsxwriter and Jinja2), so a change of layout rewrites every file.

The fingerprints of a set are kept in `<quarter>/.fingerprints.json` with each file's size and mtime.
The next run writes a file again only when its fingerprint differs or the file is not the one recorded
(missing, or touched since, e.g. opened and saved by someone); an unchanged file is carried into the new
set as a hard link, so its bytes and mtime stay as they were.

Floats are rounded to 9 decimals before hashing, as the release fingerprint does
(pipelines/publish/fingerprint.py): DuckDB's parallel sums differ in their last bits from one build of
the same inputs to the next, which the files show only at 2 decimals.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

MANIFEST = ".fingerprints.json"
FLOAT_DIGITS = 9
_PACKAGE = Path(__file__).resolve().parent
_NEUTRALISER = _PACKAGE.parent / "domain" / "safe_cells.py"


def canonical(value: Any) -> Any:
    """`value` as plain JSON data, the same for the same content (frames as columns and row lists)."""
    if isinstance(value, pl.DataFrame):
        # serialised by polars (row by row in Python costs a second for a city's 20,000 people)
        rounded = value.with_columns(pl.col(pl.Float32, pl.Float64).round(FLOAT_DIGITS))
        return {"columns": value.columns, "rows": rounded.write_ndjson()}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else round(value, FLOAT_DIGITS)
    if isinstance(value, datetime | date | time):
        return value.isoformat()  # keeps the UTC offset of an aware datetime
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


def digests_by(frame: pl.DataFrame, key: str) -> dict[str, str]:
    """A hash of each `key` group's rows (in the frame's order, floats rounded), for the whole frame at
    once: one serialisation by polars instead of one per unit, which costs a second for a city."""
    if frame.height == 0:
        return {}
    rounded = frame.with_columns(pl.col(pl.Float32, pl.Float64).round(FLOAT_DIGITS))
    rows = rounded.select(pl.col(key).cast(pl.Utf8), pl.struct(pl.all()).struct.json_encode().alias("_row"))
    grouped = rows.group_by(key, maintain_order=True).agg(pl.col("_row").str.join("\n"))
    return {str(k): hashlib.sha256(text.encode()).hexdigest() for k, text in grouped.iter_rows()}


@cache
def code_version() -> str:
    """A hash of the code that writes the files: changing a template or a sheet rewrites every file."""
    import jinja2
    import xlsxwriter

    sources = sorted([*_PACKAGE.rglob("*.py"), *_PACKAGE.rglob("*.j2"), _NEUTRALISER])
    return files_digest(
        f"xlsxwriter {xlsxwriter.__version__} jinja2 {jinja2.__version__}",
        sources,
        label=lambda path: str(path.relative_to(_PACKAGE.parent)),
    )


def files_digest(header: str, files: Iterable[Path], label: Callable[[Path], str]) -> str:
    """A hash of a code version: `header` (library versions), then each existing file's label and bytes."""
    digest = hashlib.sha256(f"{header}\n".encode())
    for path in files:
        if path.is_file():
            digest.update(f"{label(path)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def json_digest(value: Any) -> str:
    """SHA-256 of a JSON-able value, written one way only (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(kind: str, *inputs: Any) -> str:
    """The fingerprint of one file: its kind (which writer), what it is written from, the code version."""
    return json_digest([kind, code_version(), canonical(list(inputs))])


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {fingerprint, size, mtime_ns}} of a written set (empty when none or unreadable)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def write_manifest(folder: Path, entries: Mapping[str, str]) -> None:
    """Record each file's fingerprint with the size and mtime it has now (after writing or linking)."""
    files = {}
    for rel, value in sorted(entries.items()):
        stat = (folder / rel).stat()
        files[rel] = {"fingerprint": value, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    text = json.dumps({"files": files}, ensure_ascii=False, indent=1, sort_keys=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")


def unchanged(previous: Mapping[str, Mapping[str, Any]], old_folder: Path, rel: str, value: str) -> bool:
    """The file `rel` of the previous set has fingerprint `value` and is still the file that was written."""
    entry = previous.get(rel)
    if entry is None or entry.get("fingerprint") != value:
        return False
    try:
        stat = (old_folder / rel).stat()
    except OSError:
        return False
    return stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")


def carry(old: Path, new: Path) -> None:
    """`old` into the new set unchanged: a hard link (same bytes, same mtime), else a copy keeping mtime."""
    new.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(old, new)
    except OSError:  # a file system without hard links
        shutil.copy2(old, new)
