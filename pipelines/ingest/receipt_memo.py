"""Which receipts a run need not render again: their inputs and the file on disk are what they were.

Every run re-decides every verdict (a later file can refuse an earlier one, a registry change renames a
unit), so every receipt's inputs are gathered each run. Rendering ~500 pages from them was a third of a
one-unit resubmission's assembly although one or two of them change. The memo keeps, per receipt file,
the SHA-256 of what it was rendered from (the renderer's source, its header, its receipt_items rows)
and of the bytes written. A receipt is skipped only when both still hold: the same inputs, and a file
on disk whose bytes hash to what was written (a deleted or edited receipt is rendered and written
again, as before). Keys are content hashes, never file times.

The memo lives in the parse cache's namespace (ingest_cache/<namespace>/receipts/<quarter>.json), not
beside the receipts: receipt folders hold nothing but what units are sent. Losing it costs one run that
renders everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.ingest import issues, normalise, receipt
from pipelines.ingest.receipt import ReceiptHeader

MEMO_VERSION = 1
# The modules whose code decides a receipt's text (the renderer, its issue texts, and the invisible
# characters those strip): a change in any renders every receipt again.
RENDERER_MODULES = (receipt, issues, normalise)
Owner = tuple[str, str]  # (unit_code, submission_id)


@cache
def renderer_fingerprint() -> str:
    h = hashlib.sha256(f"memo {MEMO_VERSION}\0".encode())
    for module in RENDERER_MODULES:
        h.update(Path(str(module.__file__)).read_bytes() + b"\0")
    return h.hexdigest()


# Rows encoded at a time: a 16-city province has ~400,000 receipt items, and their JSON all at once
# would be ~100 MB more at the assembly's peak.
ROWS_PER_SLICE = 50_000


def items_digests(items: pl.DataFrame) -> dict[Owner, str]:
    """The SHA-256 of each owner's receipt_items rows, in their order: each row as one JSON object (nulls
    and separators inside values stay unambiguous), one per line (JSON escapes line breaks)."""
    hashes: dict[Owner, Any] = {}
    for part in items.iter_slices(ROWS_PER_SLICE):
        row_json = pl.struct(pl.all()).struct.json_encode().alias("_row")
        encoded = part.select("unit_code", "submission_id", row_json)
        for unit, sha, row in encoded.iter_rows():
            h = hashes.get((unit, sha))
            if h is None:
                h = hashes[(unit, sha)] = hashlib.sha256()
            h.update(row.encode("utf-8") + b"\n")
    return {owner: h.hexdigest() for owner, h in hashes.items()}


def input_key(header: ReceiptHeader, items_digest: str) -> str:
    """The SHA-256 of everything render_receipt reads for this receipt, and the renderer itself."""
    head = json.dumps(
        [
            header.quarter,
            header.unit_code,
            header.unit_name,
            header.file_name,
            header.submission_id,
            header.arrival_at.isoformat(),
            header.accepted,
            header.is_current,
        ],
        ensure_ascii=False,
    )
    body = "\0".join((renderer_fingerprint(), head, items_digest))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass
class ReceiptMemo:
    """Receipt path (relative to the receipts folder) -> [input key, SHA-256 of the bytes written]."""

    path: Path
    entries: dict[str, list[str]] = field(default_factory=dict)

    def unchanged(self, relpath: str, key: str, file: Path) -> bool:
        """The receipt was rendered from these very inputs and its file still holds what was written."""
        entry = self.entries.get(relpath)
        if entry is None or entry[0] != key:
            return False
        try:
            data = file.read_bytes()
        except OSError:
            return False
        return hashlib.sha256(data).hexdigest() == entry[1]


def memo_path(cache_root: Path, quarter: str) -> Path:
    return cache_root / "receipts" / f"{quarter}.json"


def load_memo(cache_root: Path, quarter: str) -> ReceiptMemo:
    """The memo of the quarter's last run; empty when absent or unreadable (everything is rendered)."""
    path = memo_path(cache_root, quarter)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ReceiptMemo(path)
    entries = body.get("receipts") if isinstance(body, dict) and body.get("version") == MEMO_VERSION else None
    if not isinstance(entries, dict):
        return ReceiptMemo(path)
    return ReceiptMemo(path, {k: v for k, v in entries.items() if _is_entry(v)})


def _is_entry(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(x, str) for x in value)


def output_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_memo(memo: ReceiptMemo) -> None:
    """Replace the memo atomically; call it only once the receipts it describes are written."""
    memo.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.path.with_name(f".{memo.path.name}.{os.getpid()}.partial")
    body = {"version": MEMO_VERSION, "receipts": memo.entries}
    tmp.write_text(json.dumps(body, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    tmp.replace(memo.path)
