"""Discovery and the append-only archive: what counts as a delivery, hashes, first arrival, no overwrite."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipelines.ingest.archive import archive_delivery, load_quarter
from pipelines.ingest.discover import discover_quarter, sha256_csv_set

Q = "2025Q3"
NS = 1_760_000_000_000_000_000  # 2025-10-09T08:53:20Z


def _write(path: Path, data: bytes, mtime_ns: int = NS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_deliveries_one_per_file_and_one_per_csv_set(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / Q
    (landing / ".synthetic").parent.mkdir(parents=True)
    (landing / ".synthetic").write_text("marker")
    unit = landing / "371602-X-017"
    _write(unit / "平时考核.xlsx", b"PK workbook")
    _write(unit / "说明.pdf", b"%PDF-1.4")
    _write(unit / "~$平时考核.xlsx", b"office lock file")
    _write(unit / ".DS_Store", b"finder")
    _write(unit / "人员名册.csv", b"a", NS)
    _write(unit / "评议打分.csv", b"b", NS + 5)
    (unit / "link.xlsx").symlink_to(unit / "平时考核.xlsx")
    (unit / "sub").mkdir()  # an empty sub-folder holds no delivery
    found = discover_quarter(landing, Q)
    by_format = {d.format: d for d in found.deliveries}
    assert sorted(by_format) == ["csv", "unknown", "xlsx"]
    assert by_format["csv"].file_name == "人员名册.csv、评议打分.csv"
    assert all(d.received_ns is None for d in found.deliveries)  # an mtime is not an arrival
    assert by_format["csv"].submission_id == sha256_csv_set(
        [("人员名册.csv", unit / "人员名册.csv"), ("评议打分.csv", unit / "评议打分.csv")]
    )
    # the symlink, the lock file and the Finder file are listed with their reasons, never dropped unseen;
    # the quarter folder's own marker is not a unit's file
    assert len(found.skipped) == 3, found.skipped
    assert [next(line for line in found.skipped if name in line) for name in ("link.xlsx", "~$", ".DS_Store")]
    assert not any(".synthetic" in line for line in found.skipped)


def test_csv_set_hash_depends_on_names_and_bytes(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", b"xy")
    b = _write(tmp_path / "b.csv", b"z")
    c = _write(tmp_path / "c.csv", b"xyz")
    assert sha256_csv_set([("a.csv", a), ("b.csv", b)]) == sha256_csv_set([("b.csv", b), ("a.csv", a)])
    assert sha256_csv_set([("a.csv", a), ("b.csv", b)]) != sha256_csv_set([("c.csv", c)])


def test_archive_copies_untouched_read_only_and_keeps_the_first_arrival(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / Q
    source = _write(landing / "371602-X-017" / "平时考核.xlsx", b"original bytes")
    archive = tmp_path / "archive"
    (delivery,) = discover_quarter(landing, Q).deliveries
    seen = NS + 7 * 10**12  # first sight: later than the file's own date
    record = archive_delivery(delivery, archive, seen, 1)
    assert record is not None
    copy = archive / Q / "371602-X-017" / delivery.submission_id / "平时考核.xlsx"
    assert copy.read_bytes() == b"original bytes"
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert copy.stat().st_mtime_ns == NS
    assert (record.arrival_ns, record.seq) == (seen, 1)

    # Touched later (same bytes): still the same submission, still its first arrival.
    os.utime(source, ns=(NS + 10**12, NS + 10**12))
    (again,) = discover_quarter(landing, Q).deliveries
    assert again.submission_id == delivery.submission_id
    assert archive_delivery(again, archive, seen + 10**12, 2) == record

    # A resubmission under the same name is a new submission; the first stays archived.
    _write(source, b"corrected bytes", NS + 2 * 10**12)
    (new,) = discover_quarter(landing, Q).deliveries
    assert archive_delivery(new, archive, seen + 10**12, 2) is not None
    assert copy.read_bytes() == b"original bytes"
    assert [r.submission_id for r in load_quarter(archive, Q)] == [delivery.submission_id, new.submission_id]

    # Gone from the landing area, never from the archive.
    source.unlink()
    assert len(load_quarter(archive, Q)) == 2


def test_a_file_changed_while_being_read_waits_for_the_next_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / Q
    source = _write(landing / "371602-X-017" / "平时考核.xlsx", b"half written")
    (delivery,) = discover_quarter(landing, Q).deliveries
    source.write_bytes(b"fully written now")  # the unit's upload finished after hashing
    assert archive_delivery(delivery, tmp_path / "archive", NS, 1) is None
    assert load_quarter(tmp_path / "archive", Q) == []
    assert list((tmp_path / "archive" / Q / "371602-X-017").iterdir()) == []  # no half archive
