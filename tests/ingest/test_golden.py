"""The columnar ingestion gives exactly what the file-at-a-time ingestion gave (issue 16).

The golden files (tests/ingest/golden/, written by tests/ingest/golden.py from the code before the
rewrite) hold every raw table and every receipt's issue rows of a generated 40-unit quarter with the
default mess and of the hostile corpus; here the same inputs are ingested with the current code.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest import run as run_module
from tests.ingest import golden
from tests.ingest.hostile import Base, build_base

# The tests share module-scoped inputs: keep them on one xdist worker, so each is made once.
pytestmark = pytest.mark.xdist_group(__name__)


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


@pytest.fixture(scope="module")
def generated_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The golden city's landing area and registry, generated once; each test ingests a copy."""
    yield golden.generate_messy_city(tmp_path_factory.mktemp("golden_city"))


@pytest.fixture(scope="module")
def clean_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """The hostile corpus's clean 6-unit base, built once; each test lands the corpus on a copy."""
    return build_base(tmp_path_factory.mktemp("golden_base"))


# Two ways through ingestion, each of which must give the golden tables and receipts:
# - "prefetched": archived and parsed by the operator command's prefetch process (pipelines/ingest/
#   prefetch.py, default settings) before the step, which must leave the step exactly what it would
#   have made itself;
# - "in_the_step_in_chunks_of_3": all of it in the step, the workers' results cast and checked a chunk
#   at a time while the rest are parsed (run._Chunks; a city is 4 chunks, the golden inputs fit in
#   one), here in chunks of 3 files, so the hostile corpus's unreadable, refused and failing files are
#   spread over many chunks. (The default chunking is the prefetch's, in the other way.)
@pytest.fixture(params=["in_the_step_in_chunks_of_3", "prefetched"])
def prefetched(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The way through ingestion (above): whether the prefetch process goes first."""
    if request.param == "prefetched":
        return True
    monkeypatch.setattr(run_module, "CHUNK_FILES", 3)
    return False


def test_the_messy_city_ingests_to_the_golden_tables_and_receipts(
    prefetched: bool, generated_city: Path, tmp_path: Path
) -> None:
    city = tmp_path / "city"
    shutil.copytree(generated_city, city)  # copy2: the files keep their times
    _compare("messy_city", golden.ingest_messy_city(city, prefetched))


def test_the_hostile_corpus_ingests_to_the_golden_tables_and_receipts(
    prefetched: bool, clean_base: Base, tmp_path: Path
) -> None:
    _compare("hostile", golden.ingest_hostile(clean_base, tmp_path / "hostile", prefetched))


@pytest.mark.parametrize("name", ["messy_city", "hostile"])
def test_the_golden_files_hold_the_receipts_row_by_row(name: str) -> None:
    """The receipt rows are kept in full (not a hash), with errors and warnings both present."""
    tables = golden.load(name)
    items = tables["receipt_items"]["data"]
    assert items and any('"severity": "error"' in r for r in items)
    assert any('"severity": "warning"' in r for r in items)
