"""The deliverables' fingerprints: per-unit digests follow the content (and only it), and a file is
carried over only when it is still the file that was written."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pipelines.deliverables.fingerprint import (
    carry,
    digests_by,
    fingerprint,
    read_manifest,
    unchanged,
    write_manifest,
)

PEOPLE = pl.DataFrame(
    {
        "unit_code": ["U1", "U1", "U2"],
        "person_code": ["P1", "P2", "P1"],
        "quarter_score": [88.123456, 90.0, 75.5],
        "name": ["张三", "李四", "王五"],
    }
)


def test_a_unit_digest_changes_with_its_rows_only() -> None:
    before = digests_by(PEOPLE, "unit_code")
    assert set(before) == {"U1", "U2"} and digests_by(PEOPLE, "unit_code") == before
    renamed = PEOPLE.with_columns(
        pl.when(pl.col("unit_code") == "U2").then(pl.lit("王六")).otherwise(pl.col("name")).alias("name")
    )
    after = digests_by(renamed, "unit_code")
    assert after["U1"] == before["U1"] and after["U2"] != before["U2"]
    # the last bits a parallel sum changes from one build to the next do not count; a shown change does
    noise = digests_by(PEOPLE.with_columns(pl.col("quarter_score") + 1e-12), "unit_code")
    assert noise == before
    moved = digests_by(PEOPLE.with_columns(pl.col("quarter_score") + 0.01), "unit_code")
    assert moved["U1"] != before["U1"]
    assert digests_by(PEOPLE.clear(), "unit_code") == {}


def test_the_fingerprint_names_the_writer_and_what_it_writes() -> None:
    base = fingerprint("unit", "2025Q4", {"unit_code": "U1"}, PEOPLE)
    assert fingerprint("unit", "2025Q4", {"unit_code": "U1"}, PEOPLE) == base
    assert fingerprint("notice", "2025Q4", {"unit_code": "U1"}, PEOPLE) != base
    assert fingerprint("unit", "2025Q4", {"unit_code": "U1"}, PEOPLE.head(2)) != base


def test_a_file_is_carried_only_while_it_is_the_file_written(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "units").mkdir(parents=True)
    (old / "units" / "a.xlsx").write_bytes(b"workbook a")
    write_manifest(old, {"units/a.xlsx": "f1"})
    previous = read_manifest(old)
    assert unchanged(previous, old, "units/a.xlsx", "f1")
    assert not unchanged(previous, old, "units/a.xlsx", "f2")  # content changed
    assert not unchanged(previous, old, "units/b.xlsx", "f1")  # never written
    carry(old / "units" / "a.xlsx", new / "units" / "a.xlsx")
    assert (new / "units" / "a.xlsx").read_bytes() == b"workbook a"
    assert (new / "units" / "a.xlsx").stat().st_mtime_ns == (old / "units" / "a.xlsx").stat().st_mtime_ns
    # someone opened and saved it since: written again
    stat = (old / "units" / "a.xlsx").stat()
    os.utime(old / "units" / "a.xlsx", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not unchanged(previous, old, "units/a.xlsx", "f1")
    (old / ".fingerprints.json").write_text("not json", encoding="utf-8")
    assert read_manifest(old) == {}
