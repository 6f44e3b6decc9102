"""The columnar ingestion gives exactly what the file-at-a-time ingestion gave (issue 16).

The golden files (tests/ingest/golden/, written by tests/ingest/golden.py from the code before the
rewrite) hold every raw table and every receipt's issue rows of a generated 40-unit quarter with the
default mess and of the hostile corpus; here the same inputs are ingested with the current code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest import run as run_module
from tests.ingest import golden

# The tests read the session's messy_city: keep them on one xdist worker with its other readers, so it
# is generated and ingested once.
pytestmark = pytest.mark.xdist_group("messy_city")


def _compare(name: str, now: dict[str, Any]) -> None:
    expected = golden.load(name)
    assert sorted(now) == sorted(expected)
    for table, want in expected.items():
        got = now[table]
        assert got["columns"] == want["columns"], table
        assert got["rows"] == want["rows"], table
        if "data" in want:
            missing = sorted(set(want["data"]) - set(got["data"]))[:5]
            extra = sorted(set(got["data"]) - set(want["data"]))[:5]
            assert got["data"] == want["data"], f"{table}: lost {missing}, gained {extra}"
        else:
            assert got.get("sha256") == want["sha256"], table


# "prefetched": archived and parsed by the operator command's prefetch process before the step
# (pipelines/ingest/prefetch.py), which must leave the step exactly what it would have made itself.
PREFETCHED = pytest.mark.parametrize("prefetched", [False, True], ids=["in_the_step", "prefetched"])


@PREFETCHED
def test_the_messy_city_ingests_to_the_golden_tables_and_receipts(tmp_path: Path, prefetched: bool) -> None:
    _compare("messy_city", golden.ingest_messy_city(tmp_path / "city", prefetched))


@PREFETCHED
def test_the_hostile_corpus_ingests_to_the_golden_tables_and_receipts(
    tmp_path: Path, prefetched: bool
) -> None:
    _compare("hostile", golden.ingest_hostile(tmp_path / "base", tmp_path / "hostile", prefetched))


@pytest.mark.parametrize("name", ["messy_city", "hostile"])
def test_files_typed_and_checked_in_small_chunks_give_the_golden_tables_and_receipts(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers' results are cast and checked a chunk at a time while the rest are parsed
    (run._Chunks; a city is 4 chunks, the golden inputs fit in one). In chunks of 3 files, with the
    hostile corpus's unreadable, refused and failing files spread over many chunks, every table and
    receipt is still the golden one."""
    monkeypatch.setattr(run_module, "CHUNK_FILES", 3)
    if name == "messy_city":
        now = golden.ingest_messy_city(tmp_path / "city")
    else:
        now = golden.ingest_hostile(tmp_path / "base", tmp_path / "hostile")
    _compare(name, now)


@pytest.mark.parametrize("name", ["messy_city", "hostile"])
def test_the_golden_files_hold_the_receipts_row_by_row(name: str) -> None:
    """The receipt rows are kept in full (not a hash), with errors and warnings both present."""
    tables = golden.load(name)
    items = tables["receipt_items"]["data"]
    assert items and any('"severity": "error"' in r for r in items)
    assert any('"severity": "warning"' in r for r in items)
