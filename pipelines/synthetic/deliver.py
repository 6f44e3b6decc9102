"""Drop one delivery into a unit's landing folder, as the unit would, and say when it was received.

The planned arrival is what the receiving side records (`receiving_entries` → the quarter's receiving
log, pipelines/ingest/receiving.py): ingestion reads arrivals from there, never from a file's mtime.
The files' mtimes are set to the arrival as well, only so the landing area looks as it would on a
real server; nothing decides on them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pipelines.ingest.discover import sha256_file
from pipelines.ingest.receiving import Entry
from pipelines.synthetic.breakage import BREAKAGES, break_workbook
from pipelines.synthetic.noise import NoiseRates, NoiseReport
from pipelines.synthetic.workbook import Delivery, UnitWorkbook
from pipelines.synthetic.writer import FULL_LAYOUT, write_csv_folder, write_xlsx

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ns(moment: datetime) -> int:
    """Exact nanoseconds since the epoch (float seconds would round the microseconds)."""
    if moment.tzinfo is None:
        raise ValueError(f"arrival must be timezone-aware, got {moment!r}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def deliver(
    unit_dir: Path, wb: UnitWorkbook, delivery: Delivery, rng: np.random.Generator, rates: NoiseRates
) -> NoiseReport:
    """Write the delivery into ``unit_dir`` (an xlsx file, or one CSV per sheet directly in the folder).

    A content breakage is applied to a copy of ``wb`` before writing, a file breakage to the written
    bytes; ``report.defect`` says where the defect is. Every written file's mtime is set to the
    arrival (cosmetic: the receiving log is what ingestion reads, see `receiving_entries`).
    """
    ns = epoch_ns(delivery.arrival)
    breakage = BREAKAGES[delivery.breakage] if delivery.breakage else None
    if breakage is not None and delivery.fmt not in breakage.formats:
        raise ValueError(f"breakage {breakage.key!r} cannot be delivered as {delivery.fmt}")
    unit_dir = Path(unit_dir)
    unit_dir.mkdir(parents=True, exist_ok=True)
    layout, defect = FULL_LAYOUT, None
    if breakage is not None and breakage.content is not None:
        broken = break_workbook(breakage.key, wb, rng)
        wb, layout, defect = broken.wb, broken.layout, broken.defect
    if delivery.fmt == "xlsx":
        path = unit_dir / delivery.file_name
        report = write_xlsx(path, wb, rng, rates, layout)
        if breakage is not None and breakage.file is not None:
            defect = breakage.file(path, rng)
    elif delivery.fmt == "csv":
        # CSV files are named by sheet title, so a CSV resubmission replaces the earlier files.
        report = write_csv_folder(unit_dir, wb, rng, rates, delivery.encoding, layout)
    else:
        raise ValueError(f"delivery format must be 'xlsx' or 'csv', got {delivery.fmt!r}")
    for path in report.paths:
        os.utime(path, ns=(ns, ns))
    report.defect = defect
    return report


def receiving_entries(unit_dir: Path, paths: list[Path], arrival: datetime) -> list[Entry]:
    """What the receiving side logs for the files of one delivery: each file's path in the unit
    folder, the SHA-256 of its bytes as written (a breakage included) and when it came in."""
    unit_dir = Path(unit_dir)
    return [
        Entry(unit_dir.name, Path(p).relative_to(unit_dir).as_posix(), sha256_file(Path(p)), arrival)
        for p in paths
    ]
