"""A run renders again only the receipts whose inputs or files changed, and writes what a full render
writes (real ingestion of a generated quarter, receipts compared byte for byte)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.bench.incremental import resubmit
from pipelines.ingest import cache, receipt_memo
from pipelines.ingest import run as run_module
from tests.ingest.hostile import QUARTER, build_base, data_dir, ingest

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)


def _receipts(root: Path) -> dict[str, bytes]:
    folder = root / "receipts" / QUARTER
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.html"))}


def _stamps(root: Path) -> dict[str, tuple[int, int]]:
    folder = root / "receipts" / QUARTER
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*.html"))
    }


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The submissions whose receipts the runs render, in order (the real renderer still renders)."""
    rendered: list[str] = []
    real: Callable[..., str] = run_module.render_receipt

    def render(header: Any, items: Any) -> str:
        rendered.append(header.submission_id)
        return real(header, items)

    monkeypatch.setattr(run_module, "render_receipt", render)
    return rendered


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_base(tmp_path_factory.mktemp("receipt_memo")).root


def test_a_rerun_renders_only_the_receipts_deleted_or_edited_and_restores_them(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shutil.copytree(base, tmp_path / "data", symlinks=True)
    before, stamps = _receipts(root), _stamps(root)
    assert len(before) >= 6
    edited, deleted, *untouched = sorted(before)
    folder = root / "receipts" / QUARTER
    (folder / edited).write_bytes(before[edited].replace(b"</body>", b"<p>edited</p></body>"))
    (folder / deleted).unlink()
    rendered = _counting(monkeypatch)

    ingest(root)

    assert len(rendered) == 2
    assert _receipts(root) == before
    after = _stamps(root)
    assert {name: after[name] for name in untouched} == {name: stamps[name] for name in untouched}


def test_a_resubmission_writes_the_receipts_a_full_render_writes(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shutil.copytree(base, tmp_path / "data", symlinks=True)
    with data_dir(root):
        unit = resubmit(root, QUARTER).unit_code
    rendered = _counting(monkeypatch)
    ingest(root)
    # The new file's receipt and the one of the file it replaces as current; no other unit's.
    assert len(rendered) == 2
    assert len(_receipts(root)) == len(_receipts(base)) + 1

    # The same state with no memo and no receipts: every receipt rendered from scratch.
    full = shutil.copytree(root, tmp_path / "full", symlinks=True)
    shutil.rmtree(full / "receipts" / QUARTER)
    with data_dir(full):
        receipt_memo.memo_path(cache.cache_root(full), QUARTER).unlink()
    ingest(full)
    assert len(rendered) == 2 + len(_receipts(root))
    assert _receipts(full) == _receipts(root)
    assert any(name.startswith(f"{unit}/") for name in _receipts(root))


def test_a_change_of_renderer_renders_every_receipt_again(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shutil.copytree(base, tmp_path / "data", symlinks=True)
    before = _receipts(root)
    rendered = _counting(monkeypatch)
    monkeypatch.setattr(receipt_memo, "renderer_fingerprint", lambda: "another renderer")

    ingest(root)

    assert len(rendered) == len(before)
    assert _receipts(root) == before


def test_an_owners_digest_follows_every_value_and_the_order_of_its_rows() -> None:
    items = pl.DataFrame(
        {
            "unit_code": ["U1", "U1", "U2"],
            "submission_id": ["a", "a", "b"],
            "value": ["x", None, "y|z"],
            "excel_row": [3, 4, None],
        }
    )
    base = receipt_memo.items_digests(items)
    assert set(base) == {("U1", "a"), ("U2", "b")}
    variants = [
        items.with_columns(pl.Series("value", ["x", "", "y|z"])),  # null is not ""
        pl.concat([items.slice(1, 1), items.slice(0, 1), items.slice(2, 1)]),  # U1's rows swapped
        items.with_columns(pl.Series("excel_row", [3, 5, None])),  # one value changed
    ]
    for changed in variants:
        digests = receipt_memo.items_digests(changed)
        assert digests[("U1", "a")] != base[("U1", "a")]
        assert digests[("U2", "b")] == base[("U2", "b")]


def test_encoding_a_slice_at_a_time_gives_the_digests_of_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    items = pl.DataFrame({"unit_code": ["U1", "U2", "U1"], "submission_id": ["a", "b", "a"], "v": [1, 2, 3]})
    whole = receipt_memo.items_digests(items)
    monkeypatch.setattr(receipt_memo, "ROWS_PER_SLICE", 1)
    assert receipt_memo.items_digests(items) == whole
