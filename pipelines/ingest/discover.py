"""Find a quarter's deliveries in the landing area: which files, their SHA-256 and size.

A delivery is what one submission consists of: a single workbook (or any other single file a unit
dropped, which is then rejected with a receipt), or the set of CSV files of one unit folder, which
together stand for one workbook (one CSV per sheet). The SHA-256 of a delivery is its identity:
for one file the hash of its bytes; for a CSV set the hash over the sorted (name, bytes) pairs, so
re-sending the same files is the same submission and changing any one of them is a new one.

What counts as a unit's file: every regular file in the unit's folder or any sub-folder of it (a
unit may put a correction in ``更正/``); CSV files form one set per folder. What is not a unit folder
(a stray ``备份`` folder, a file at the quarter level, a folder named after no unit of the registry) is
listed in ``Discovery.skipped`` and ignored. The receiving log and the review register at the quarter
level are reserved names (receiving.py): neither a unit nor stray.

The modification time of a file is never read: the sender sets it (arrival is decided in archive.py).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.receiving import LOG_NAME, RESERVED_NAMES, ReceivingLog, read_log

CSV_SUFFIX = ".csv"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_HASH_CHUNK = 1024 * 1024
MAX_DEPTH = 6  # sub-folders below a unit folder that are still searched; deeper ones are listed
# Past this size a file is not received at all, only listed: hashing and archiving it would let one
# upload (a sparse file costs nothing to make) slow every unit's run or fill the server's disk. A file
# between the workbook limit (safety.MAX_FILE_BYTES, 20 MB) and this one is received and rejected
# with a receipt that names the limit.
MAX_RECEIVED_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class LandedFile:
    name: str
    path: Path
    size: int
    relpath: str = ""  # relative to the unit folder, "/"-separated ("" = the name itself)
    sha256: str = ""  # of this file's bytes

    @property
    def shown(self) -> str:
        return self.relpath or self.name


@dataclass(frozen=True)
class Delivery:
    """One submission as found in the landing area (not yet archived)."""

    quarter: str
    unit_code: str  # the folder name, exactly as it is on disk
    submission_id: str  # SHA-256 hex
    format: str  # xlsx / csv / unknown
    files: tuple[LandedFile, ...]
    subfolder: str = ""  # the sub-folder of the unit folder it was found in, "" for the folder itself
    received_ns: int | None = None  # from the receiving log, when every file of it is logged
    received_order: int = 0  # the log line of its last file (equal times keep the log's order)

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def file_name(self) -> str:
        return "、".join(f.shown for f in self.files)


@dataclass
class Discovery:
    deliveries: list[Delivery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # paths not taken, each with the reason
    log_notes: list[str] = field(default_factory=list)  # receiving-log lines that could not be read


def is_ignored(name: str) -> bool:
    """Dotfiles (the generator's .synthetic marker, .DS_Store) and Office lock files (~$book.xlsx).
    Inside a unit's folder they are listed as not ingested (`Discovery.skipped`), never dropped unseen."""
    return name.startswith((".", "~$"))


MAX_NAME_BYTES = 255  # one path component on Linux: the archive keeps each file under its shown name


def shown_name(name: str) -> str:
    """A file or folder name as text that a receipt, a manifest, a log line and the archive can hold.

    A name that is not UTF-8 on disk reaches Python with its bytes as surrogate escapes: typically a
    Chinese name a Windows zip stored in GBK (更正.xlsx as b"\\xb8\\xfc\\xd5\\xfd.xlsx"). It is decoded as
    GB18030 when it is valid GB18030, else its undecodable bytes are spelled \\xNN. A name that grew past
    MAX_NAME_BYTES of UTF-8 in the decoding is shortened before its suffix."""
    try:
        name.encode("utf-8")
        text = name
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="backslashreplace")
    if len(text.encode("utf-8")) <= MAX_NAME_BYTES:
        return text
    suffix = PurePosixPath(text).suffix if len(PurePosixPath(text).suffix) <= 16 else ""
    stem = text[: len(text) - len(suffix)]
    while stem and len(f"{stem}…{suffix}".encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem}…{suffix}"


def shown_path(path: Path) -> str:
    """A path with every component as `shown_name` gives it."""
    return str(Path(*(shown_name(part) for part in path.parts))) if path.parts else str(path)


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


def discover_quarter(
    landing_quarter: Path, quarter: str, unit_codes: Collection[str] | None = None
) -> Discovery:
    """Every delivery under landing/<quarter>/<unit folder>/ (sub-folders included).

    `unit_codes`: the registry's units; a folder named after none of them is stray (listed, ignored).
    None accepts every folder (tests of the archive alone)."""
    found = Discovery()
    if not landing_quarter.is_dir():
        return found
    log = read_log(landing_quarter)
    found.log_notes = list(log.notes)
    for entry in sorted(landing_quarter.iterdir()):
        if is_ignored(entry.name) or entry.name in RESERVED_NAMES:  # _reviews: ingest/reviews.py
            continue
        if entry.is_symlink() or not entry.is_dir():
            found.skipped.append(
                f"{shown_path(entry)}: 季度文件夹下的文件，不是单位文件夹，已忽略 (not a unit folder)"
            )
            continue
        if unit_codes is not None and entry.name not in unit_codes:
            found.skipped.append(
                f"{shown_path(entry)}: 不是名册中的单位代码，已忽略 (not a unit of the registry)"
            )
            continue
        found.deliveries.extend(_unit_deliveries(entry, quarter, found.skipped, log))
    found.log_notes.extend(log.unmatched_notes(landing_quarter / LOG_NAME))
    return found


def _unit_deliveries(folder: Path, quarter: str, skipped: list[str], log: ReceivingLog) -> list[Delivery]:
    """Deliveries of one unit folder: each non-CSV file alone, the CSV files of each folder as a set."""
    by_folder: dict[str, tuple[list[LandedFile], list[LandedFile]]] = {}
    _walk(folder, folder, 0, by_folder, skipped)
    out: list[Delivery] = []
    for sub, (singles, csvs) in sorted(by_folder.items()):
        for f in singles:
            out.append(_delivery(quarter, folder.name, f.sha256, file_format(f.name), (f,), sub, log))
        if csvs:
            sha = sha256_csv_set((f.name, f.path) for f in csvs)
            out.append(_delivery(quarter, folder.name, sha, "csv", tuple(csvs), sub, log))
    return out


def _walk(
    unit_folder: Path,
    folder: Path,
    depth: int,
    by_folder: dict[str, tuple[list[LandedFile], list[LandedFile]]],
    skipped: list[str],
) -> None:
    for entry in sorted(folder.iterdir()):
        if is_ignored(entry.name):
            skipped.append(
                f"{shown_path(entry)}: 以“.”或“~$”开头的隐藏文件或Office临时文件，已忽略 "
                "(hidden or Office lock file)"
            )
            continue
        try:
            st = entry.lstat()
            if stat.S_ISDIR(st.st_mode):
                if depth >= MAX_DEPTH:
                    skipped.append(
                        f"{shown_path(entry)}: 子文件夹层级过深，已忽略 (sub-folders nested too deep)"
                    )
                else:
                    _walk(unit_folder, entry, depth + 1, by_folder, skipped)
                continue
            # Only regular files: a symlink could point anywhere on the server.
            if not stat.S_ISREG(st.st_mode):
                skipped.append(f"{shown_path(entry)}: 不是普通文件，已忽略 (not a regular file)")
                continue
            if st.st_size > MAX_RECEIVED_BYTES:
                skipped.append(
                    f"{shown_path(entry)}: 文件大小 {st.st_size / 1e6:.0f} MB，超过 "
                    f"{MAX_RECEIVED_BYTES / 1e6:.0f} MB，不予接收，已忽略 (too large to receive)"
                )
                continue
            sha = sha256_file(entry)
        except OSError as exc:  # unreadable (permissions, an I/O error): this file only
            skipped.append(f"{shown_path(entry)}: 无法读取，已忽略 (could not be read: {exc.strerror})")
            continue
        parts = [shown_name(part) for part in entry.relative_to(unit_folder).parts]
        rel = "/".join(parts)
        sub = str(PurePosixPath(rel).parent) if "/" in rel else ""
        landed = LandedFile(parts[-1], entry, st.st_size, rel, sha)
        singles, csvs = by_folder.setdefault(sub, ([], []))
        (csvs if file_format(entry.name) == "csv" else singles).append(landed)


def _delivery(
    quarter: str,
    unit: str,
    sha: str,
    fmt: str,
    files: tuple[LandedFile, ...],
    sub: str,
    log: ReceivingLog,
) -> Delivery:
    """A delivery with its receiving-log time when the log has every one of its files, bytes included
    (a CSV set has arrived when its last file has)."""
    logged = [log.lookup(unit, f.relpath, f.sha256) for f in files]
    received = max(logged) if logged and all(x is not None for x in logged) else None  # type: ignore[type-var]
    return Delivery(
        quarter,
        unit,
        sha,
        fmt,
        files,
        sub,
        received[0] if received else None,
        received[1] if received else 0,
    )


def quarter_folders(landing: Path, known: Collection[str] | None = None) -> tuple[list[str], list[str]]:
    """Quarter folders of the landing area (named exactly like `2025Q3`, and among `known` when given),
    and everything else there, each with the reason it is ignored."""
    quarters: list[str] = []
    stray: list[str] = []
    if not landing.is_dir():
        return quarters, stray
    for entry in sorted(landing.iterdir()):
        if is_ignored(entry.name):
            continue
        try:
            key = parse_quarter(entry.name).key
        except ValueError:
            key = None
        if entry.is_symlink() or not entry.is_dir() or key != entry.name:
            stray.append(f"{shown_path(entry)}: 不是季度文件夹，已忽略 (not a quarter folder)")
        elif known is not None and key not in known:
            stray.append(
                f"{shown_path(entry)}: 季度不在流水线范围内，已忽略 (quarter outside the pipeline's range)"
            )
        else:
            quarters.append(key)
    return quarters, stray
