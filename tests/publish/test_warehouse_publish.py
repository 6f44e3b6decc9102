"""Safe publishing on real DuckDB files, with a reader in another process holding the file open."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.publish.warehouse import discard, layout, publish, restore, start_build, versions


def _write(path: Path, value: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table t as select ? as v", [value])


def _read(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select v from t").fetchone()[0]


def test_publish_keeps_previous_version(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    first = start_build(lay, "one")
    _write(first, 1)
    publish(first, lay)
    second = start_build(lay, "two")
    assert _read(second) == 1  # a build starts from the published warehouse
    _write(second, 2)
    publish(second, lay)
    assert _read(lay.published) == 2
    assert [_read(v) for v in versions(lay)] == [1]
    restore(versions(lay)[0], lay)
    assert _read(lay.published) == 1
    assert sorted(_read(v) for v in versions(lay)) == [1, 2]


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
    build = start_build(lay, "one")
    _write(build, 1)
    publish(build, lay)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(lay.published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        build = start_build(lay, "two")  # copying the published file while it is open
        _write(build, 2)
        publish(build, lay)
        assert _read(lay.published) == 2  # a new connection sees the new version
        out, _ = reader.communicate("go\n", timeout=30)
        assert out.strip() == "1"  # the open notebook still reads its consistent old snapshot
    finally:
        reader.kill()


def test_a_failed_run_leaves_the_published_warehouse_untouched(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    build = start_build(lay, "one")
    _write(build, 1)
    publish(build, lay)
    before = (lay.published.stat().st_ino, lay.published.read_bytes())
    build = start_build(lay, "two")
    with pytest.raises(RuntimeError), duckdb.connect(str(build)) as con:
        con.execute("create or replace table t as select 2 as v")
        raise RuntimeError("the run crashed halfway")
    discard(build)
    assert (lay.published.stat().st_ino, lay.published.read_bytes()) == before
    assert not build.exists() and _read(lay.published) == 1


def test_old_versions_are_pruned(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    for i in range(8):
        build = start_build(lay, f"r{i}")
        _write(build, i)
        publish(build, lay, keep=3)
    assert len(versions(lay)) == 3
    assert _read(lay.published) == 7
