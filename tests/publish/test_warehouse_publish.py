"""Safe publishing on real DuckDB files, with a reader in another process holding the file open."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.publish.warehouse import (
    PUBLISHED_NAME,
    current_release,
    discard,
    ensure_build,
    layout,
    new_release,
    prune,
    publish_release,
    releases,
    restore,
    write_manifest,
)


def _write(path: Path, value: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table t as select ? as v", [value])


def _read(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select v from t").fetchone()[0]


def _release_of(build: Path, lay, label: str) -> Path:
    """Stand-in for the analyst export: the release file is a copy of the build's value."""
    release = new_release(lay, label)
    _write(release / PUBLISHED_NAME, _read(build))
    _write(release / "counties" / "371602.duckdb", _read(build))
    write_manifest(release, {"label": label, "county_person_quarters": {"371602": 1}})
    return release


def _run(lay, build_id: str, value: int) -> Path:
    build = ensure_build(build_id, lay)
    _write(build, value)
    return publish_release(_release_of(build, lay, build_id), build, lay)


def test_publish_switches_analysts_and_keeps_the_previous_release(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    assert _read(lay.published) == 1 and _read(lay.counties / "371602.duckdb") == 1
    build = ensure_build("two", lay)
    assert _read(build) == 1  # a build starts from the pipeline's own warehouse
    _write(build, 2)
    publish_release(_release_of(build, lay, "two"), build, lay)
    assert _read(lay.published) == 2
    assert _read(lay.work) == 2 and not build.exists()  # the build became the private warehouse
    first, second = releases(lay)[1], releases(lay)[0]
    restore(first, lay)
    assert _read(lay.published) == 1 and current_release(lay) == first.resolve()
    assert _read(lay.work) == 2  # restoring is for analysts; the pipeline keeps its newest build
    assert [r.name for r in releases(lay)] == [second.name, first.name]


READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("select v from t").fetchone()[0], flush=True)
    sys.stdin.readline()   # hold the file open until told to go on
    print(con.execute("select v from t").fetchone()[0], flush=True)
    """
)


def test_an_open_reader_never_blocks_a_run(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(lay.published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        _run(lay, "two", 2)  # builds, publishes and prunes while the reader holds the old file
        assert _read(lay.published) == 2  # a new connection sees the new release
        out, _ = reader.communicate("go\n", timeout=30)
        assert out.strip() == "1"  # the open notebook still reads its consistent old snapshot
    finally:
        reader.kill()


def test_a_failed_run_leaves_everything_published_untouched(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    before = (lay.published.resolve(), lay.published.read_bytes(), lay.work.read_bytes())
    build = ensure_build("two", lay)
    with pytest.raises(RuntimeError), duckdb.connect(str(build)) as con:
        con.execute("create or replace table t as select 2 as v")
        raise RuntimeError("the run crashed halfway")
    discard(build)
    assert (lay.published.resolve(), lay.published.read_bytes(), lay.work.read_bytes()) == before
    assert not build.exists() and _read(lay.published) == 1


def test_a_crashed_runs_leftovers_are_cleared_by_the_next_run(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    crashed = ensure_build("crashed", lay)
    _write(crashed, 99)  # killed before it could publish or discard
    staged = _release_of(crashed, lay, "crashed")  # staged, never published
    _run(lay, "two", 2)
    assert not crashed.exists() and not staged.exists()
    assert _read(lay.published) == 2


def test_old_releases_are_pruned_but_never_the_current_one(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    for i in range(8):
        _run(lay, f"r{i}", i)
    prune(lay, keep=3)
    assert len(releases(lay)) == 3
    assert _read(lay.published) == 7
    restore(releases(lay)[-1], lay)  # the oldest kept release becomes current …
    prune(lay, keep=1)
    assert current_release(lay) is not None and _read(lay.published) == 5  # … and survives pruning


def test_restore_refuses_a_folder_outside_the_releases(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    with pytest.raises(ValueError, match="not a release"):
        restore(tmp_path, lay)


def test_restore_refuses_a_release_that_lost_a_county_extract(tmp_path: Path) -> None:
    """A probe deleted counties/371602.duckdb from an older release and restored it: the county office's
    file vanished with exit 0."""
    lay = layout(tmp_path)
    _run(lay, "one", 1)
    _run(lay, "two", 2)
    older = releases(lay)[-1]
    (older / "counties" / "371602.duckdb").unlink()
    with pytest.raises(FileNotFoundError, match="no extract for county 371602"):
        restore(older, lay)
    assert _read(lay.published) == 2 and _read(lay.counties / "371602.duckdb") == 2


def test_build_ids_cannot_escape_the_builds_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ensure_build("../private/work", layout(tmp_path))
