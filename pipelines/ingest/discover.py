"""Find a quarter's deliveries in the landing area: which files, their SHA-256, size and mtime.

A delivery is what one submission consists of: a single workbook (or any other single file a unit
dropped, which is then rejected with a receipt), or the set of CSV files of one unit folder, which
together stand for one workbook (one CSV per sheet). The SHA-256 of a delivery is its identity:
for one file the hash of its bytes; for a CSV set the hash over the sorted (name, bytes) pairs, so
re-sending the same files is the same submission and changing any one of them is a new one.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CSV_SUFFIX = ".csv"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LandedFile:
    name: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Delivery:
    """One submission as found in the landing area (not yet archived)."""

    quarter: str
    unit_code: str  # the folder name, exactly as it is on disk
    submission_id: str  # SHA-256 hex
    format: str  # xlsx / csv / unknown
    files: tuple[LandedFile, ...]

    @property
    def arrival_ns(self) -> int:
        """A delivery has arrived when its last file has (CSV sets are written file by file)."""
        return max(f.mtime_ns for f in self.files)

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def file_name(self) -> str:
        return "、".join(f.name for f in self.files)


@dataclass
class Discovery:
    deliveries: list[Delivery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # paths not taken, each with the reason


def is_ignored(name: str) -> bool:
    """Dotfiles (the generator's .synthetic marker, .DS_Store) and Office lock files (~$book.xlsx)."""
    return name.startswith((".", "~$"))


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == CSV_SUFFIX:
        return "csv"
    if suffix in WORKBOOK_SUFFIXES:
        return "xlsx"
    return "unknown"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_csv_set(files: Iterable[tuple[str, Path]]) -> str:
    """Hash over sorted (name, bytes) with length prefixes, so no two different sets collide.

    Streams each file; the length prefix comes from stat, and if a file changes while being read
    the archive copy's hash will not match and the delivery waits for the next run.
    """
    h = hashlib.sha256()
    for name, path in sorted(files):
        encoded = name.encode("utf-8")
        h.update(len(encoded).to_bytes(8, "big") + encoded)
        h.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def discover_quarter(landing_quarter: Path, quarter: str) -> Discovery:
    """Every delivery under landing/<quarter>/<unit folder>/; symlinks and subfolders are skipped."""
    found = Discovery()
    if not landing_quarter.is_dir():
        return found
    for entry in sorted(landing_quarter.iterdir()):
        if is_ignored(entry.name) or entry.name == "_reviews":  # review registers: ingest/reviews.py
            continue
        if entry.is_symlink() or not entry.is_dir():
            found.skipped.append(f"{entry}: not a unit folder")
            continue
        found.deliveries.extend(_unit_deliveries(entry, quarter, found.skipped))
    return found


def _unit_deliveries(folder: Path, quarter: str, skipped: list[str]) -> list[Delivery]:
    singles: list[LandedFile] = []
    csvs: list[LandedFile] = []
    for entry in sorted(folder.iterdir()):
        if is_ignored(entry.name):
            continue
        st = entry.lstat()
        # Only regular files: a symlink could point anywhere on the server.
        if not stat.S_ISREG(st.st_mode):
            skipped.append(f"{entry}: not a regular file")
            continue
        landed = LandedFile(entry.name, entry, st.st_size, st.st_mtime_ns)
        (csvs if file_format(entry.name) == "csv" else singles).append(landed)
    out = [Delivery(quarter, folder.name, sha256_file(f.path), file_format(f.name), (f,)) for f in singles]
    if csvs:
        sha = sha256_csv_set((f.name, f.path) for f in csvs)
        out.append(Delivery(quarter, folder.name, sha, "csv", tuple(csvs)))
    return out
