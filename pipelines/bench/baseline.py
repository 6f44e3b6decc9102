"""The baseline: what an analyst would write instead of the pipeline to get the workbooks into tables.

openpyxl.load_workbook(read_only=True, data_only=True), the first row of each sheet as the header and the
rest into a pandas DataFrame, one DataFrame per sheet and file; CSV files through pandas.read_csv (UTF-8,
falling back to GB18030). One process, a plain loop: no validation, no receipts, nothing written, so the
comparison flatters the baseline.

openpyxl takes about 0.05 s per unit workbook, so a 16-city province (8,000 workbooks) would take
seven minutes by itself. The baseline therefore reads every file when there are at most `max_files` (a whole
city by default) and otherwise an evenly spaced sample of `max_files` files of the same landing area,
and scales the time by bytes (time × all bytes / sample bytes); the result says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_FILES = 600  # a whole city (500 units; CSV units send 7 files) is read in full


@dataclass(frozen=True)
class BaselineFigures:
    seconds: float  # estimated for all files (measured when sampled is False)
    measured_seconds: float
    files: int
    measured_files: int
    bytes: int
    measured_bytes: int
    cells: int  # of the measured files
    unreadable: int
    sampled: bool

    def describe(self) -> str:
        if not self.sampled:
            return f"openpyxl+pandas on all {self.files} files: {self.seconds:.1f}s"
        return (
            f"openpyxl+pandas on a sample of {self.measured_files} of {self.files} files "
            f"({self.measured_bytes / 1e6:.1f} of {self.bytes / 1e6:.1f} MB): {self.measured_seconds:.1f}s, "
            f"scaled by bytes to {self.seconds:.1f}s"
        )


def evenly_spaced(items: list[Path], n: int) -> list[Path]:
    """`n` items spread evenly over the sorted list (all of them when there are at most n)."""
    if n <= 0:
        return []
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def analyst_read(path: Path) -> int:
    """One file the way an analyst would read it; returns the number of cells (−1: could not read)."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            try:
                frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
            except UnicodeDecodeError:
                frame = pd.read_csv(path, encoding="gb18030", dtype=str)
            return int(frame.size)
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            cells = 0
            for sheet in book.worksheets:
                rows = list(sheet.iter_rows(values_only=True))
                frame = pd.DataFrame(rows[1:], columns=list(rows[0])) if rows else pd.DataFrame()
                cells += int(frame.size)
            return cells
        finally:
            book.close()
    except Exception:  # the analyst's script would stop here; the benchmark notes it and goes on
        return -1


def run_baseline(files: list[Path], max_files: int = DEFAULT_MAX_FILES) -> BaselineFigures:
    picked = evenly_spaced(sorted(files), max_files)
    started = time.perf_counter()
    counts = [analyst_read(p) for p in picked]
    measured = time.perf_counter() - started
    all_bytes = sum(p.stat().st_size for p in files)
    picked_bytes = sum(p.stat().st_size for p in picked)
    sampled = len(picked) < len(files)
    estimate = measured * all_bytes / picked_bytes if sampled and picked_bytes else measured
    return BaselineFigures(
        seconds=round(estimate, 3),
        measured_seconds=round(measured, 3),
        files=len(files),
        measured_files=len(picked),
        bytes=all_bytes,
        measured_bytes=picked_bytes,
        cells=sum(c for c in counts if c > 0),
        unreadable=sum(c < 0 for c in counts),
        sampled=sampled,
    )
