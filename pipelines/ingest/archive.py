"""The append-only archive: every delivery that ever arrived, byte for byte, keyed by its SHA-256.

Layout: ``archive/<quarter>/<unit folder>/<sha256>/<original file name(s)>`` plus a manifest
``archive/<quarter>/<unit folder>/<sha256>.json`` that records the arrival time and the order of
first sight. The arrival is decided by the receiving side, never by the sender: the time the
receiving log (receiving.py) gives for exactly these bytes, else the moment ingestion first saw the
delivery. The order of first sight (`seq`, rising per quarter) settles equal arrival times. The
manifest sits beside, not inside, the delivery folder so no uploaded file name can collide with
it. Nothing here is ever deleted or overwritten: copies are made read-only, and a manifest is
created with a hard link that fails when one exists.

The archive is the ledger's memory: a file later removed from the landing area is still a
submission, and a file touched or re-dated by its sender keeps its first arrival time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.ingest.discover import Delivery, sha256_csv_set

_CHUNK = 1024 * 1024
MANIFEST_VERSION = 2
FIRST_SIGHT = "first_sight"
RECEIVING_LOG = "receiving_log"


@dataclass(frozen=True)
class ArchiveRecord:
    quarter: str
    unit_code: str
    submission_id: str
    format: str
    files: tuple[tuple[str, int], ...]  # (original name, size in bytes), sorted by name
    arrival_ns: int  # ns since the epoch: from the receiving log, else first sight
    first_seen_at: str  # ISO wall-clock time of the run that archived it
    seq: int = 0  # order of first sight within the quarter (0: archived before version 2)
    subfolder: str = ""  # the sub-folder of the unit folder it landed in ("" for the folder itself)
    arrival_source: str = FIRST_SIGHT  # or RECEIVING_LOG

    @property
    def folder(self) -> Path:
        """Relative to the archive root."""
        return Path(self.quarter) / self.unit_code / self.submission_id

    @property
    def archive_path(self) -> str:
        """Relative to the data directory: the workbook itself, or the folder of a CSV set."""
        base = Path("archive") / self.folder
        return str(base / self.files[0][0]) if self.format != "csv" else str(base)

    @property
    def file_name(self) -> str:
        """As the unit named it, with the sub-folder it put it in."""
        prefix = f"{self.subfolder}/" if self.subfolder else ""
        return "、".join(f"{prefix}{name}" for name, _ in self.files)

    @property
    def order(self) -> tuple[int, int]:
        """Arrival order: arrival time, then the order of first sight."""
        return (self.arrival_ns, self.seq)

    @property
    def size_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def paths(self, archive_root: Path) -> list[tuple[str, Path]]:
        return [(name, archive_root / self.folder / name) for name, _ in self.files]


def manifest_path(archive_root: Path, quarter: str, unit_code: str, submission_id: str) -> Path:
    return archive_root / quarter / unit_code / f"{submission_id}.json"


def archive_delivery(delivery: Delivery, archive_root: Path, seen_ns: int, seq: int) -> ArchiveRecord | None:
    """Copy a delivery into the archive unless it is there already; returns its record.

    `seen_ns`: now (first sight), the arrival unless the receiving log dates the delivery; `seq`: its
    place in the order of first sight. A delivery archived before keeps its manifest as it is.

    Files are copied to hidden staging names in the delivery's folder and hashed as copied; only
    when the copies hash to the delivery's id are they linked into place. Returns None when a
    landing file changed between hashing and copying (a unit still uploading): the delivery is
    picked up, complete, next run.
    """
    manifest = manifest_path(archive_root, delivery.quarter, delivery.unit_code, delivery.submission_id)
    if manifest.exists():
        return read_manifest(manifest)
    folder = manifest.with_suffix("")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    # Copies are staged beside their final names (hidden, unique to this process), not in a staging
    # folder: creating and removing a folder per delivery cost more than the copy (profiled: ~3 ms
    # per rmdir on the development disk, 1.5 s of a city's first run).
    # Staging names do not repeat the file's: a name near the 255-byte limit would not fit in one.
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staged = [(f.path, f.name, folder / f".{i}.{token}.partial") for i, f in enumerate(delivery.files)]
    linked = False
    try:
        hashes = [_copy(source, partial) for source, _, partial in staged]
        if delivery.format == "csv":
            actual = sha256_csv_set([(name, partial) for _, name, partial in staged])
        else:
            actual = hashes[0]
        if actual != delivery.submission_id:
            return None
        for _, name, partial in staged:
            with contextlib.suppress(FileExistsError):  # never replace what is archived
                os.link(partial, folder / name)
        linked = True
    finally:
        for _, _, partial in staged:
            partial.unlink(missing_ok=True)
        if created and not linked:  # the file changed while copied: leave no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()
    record = ArchiveRecord(
        quarter=delivery.quarter,
        unit_code=delivery.unit_code,
        submission_id=delivery.submission_id,
        format=delivery.format,
        files=tuple(sorted((f.name, f.size) for f in delivery.files)),
        arrival_ns=delivery.received_ns if delivery.received_ns is not None else seen_ns,
        first_seen_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seq=seq,
        subfolder=delivery.subfolder,
        arrival_source=RECEIVING_LOG if delivery.received_ns is not None else FIRST_SIGHT,
    )
    if _create_once(manifest, _encode(record)):
        return record  # what the manifest now says (not read back: ~500 file reads on a city)
    # Another run won the race; its manifest is the truth.
    return read_manifest(manifest)


def _copy(source: Path, target: Path) -> str:
    """Copy bytes, mtime and a read-only mode; returns the SHA-256 of the bytes copied."""
    h = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            dst.write(chunk)
    st = source.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    target.chmod(0o444)
    return h.hexdigest()


def _encode(record: ArchiveRecord) -> bytes:
    body = {
        "manifest_version": MANIFEST_VERSION,
        "quarter": record.quarter,
        "unit_code": record.unit_code,
        "submission_id": record.submission_id,
        "format": record.format,
        "files": [{"name": n, "size": s} for n, s in record.files],
        "arrival_ns": record.arrival_ns,
        "first_seen_at": record.first_seen_at,
        "seq": record.seq,
        "subfolder": record.subfolder,
        "arrival_source": record.arrival_source,
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def _create_once(path: Path, data: bytes) -> bool:
    """Write `path` atomically unless it exists; True when this call created it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_bytes(data)
    tmp.chmod(0o444)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def read_manifest(path: Path) -> ArchiveRecord:
    body = json.loads(path.read_text(encoding="utf-8"))
    return ArchiveRecord(
        quarter=body["quarter"],
        unit_code=body["unit_code"],
        submission_id=body["submission_id"],
        format=body["format"],
        files=tuple((f["name"], int(f["size"])) for f in body["files"]),
        arrival_ns=int(body["arrival_ns"]),
        first_seen_at=body["first_seen_at"],
        seq=int(body.get("seq", 0)),
        subfolder=str(body.get("subfolder", "")),
        arrival_source=str(body.get("arrival_source", FIRST_SIGHT)),
    )


def load_quarter(archive_root: Path, quarter: str) -> list[ArchiveRecord]:
    """Every delivery ever archived for the quarter, in (unit folder, arrival, first sight) order."""
    folder = archive_root / quarter
    if not folder.is_dir():
        return []
    records = [read_manifest(p) for p in folder.glob("*/*.json") if not p.name.startswith(".")]
    return sorted(records, key=lambda r: (r.unit_code, r.arrival_ns, r.seq, r.submission_id))


def next_seq(records: list[ArchiveRecord]) -> int:
    """The next number in the quarter's order of first sight."""
    return max((r.seq for r in records), default=0) + 1
