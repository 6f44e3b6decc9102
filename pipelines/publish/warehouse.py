"""Build into a fresh DuckDB file, publish it atomically, keep the previous versions.

DuckDB allows one read-write process or many read-only ones on a file, never both. Analysts keep
notebooks open on the published warehouse for hours, so the pipeline never opens that file for
writing. Each run:

1. `start_build()` copies the published file (if any) to a new build file under `builds/`, so
   incremental models only redo the quarter that changed;
2. the run writes the build file (dbt, findings, …) and checks it;
3. `publish(build)` hard-links the current published file into `versions/` and renames the build
   over the published path. The rename is atomic: a reader sees the old or the new warehouse, never
   a half-written one. A notebook that already has the old file open keeps reading the old inode
   undisturbed; its next connection sees the new version.

A run that fails before step 3 leaves the published warehouse untouched; `discard(build)` removes
its build file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.paths import warehouse_dir

PUBLISHED_NAME = "assessment.duckdb"
KEEP_VERSIONS = 5


@dataclass(frozen=True)
class WarehouseLayout:
    root: Path

    @property
    def published(self) -> Path:
        """The file analysts open read-only."""
        return self.root / PUBLISHED_NAME

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def versions(self) -> Path:
        return self.root / "versions"


def layout(root: Path | None = None) -> WarehouseLayout:
    return WarehouseLayout(root or warehouse_dir())


def start_build(lay: WarehouseLayout | None = None, run_id: str | None = None) -> Path:
    """A new build file: a copy of the published warehouse, or a path for an empty one."""
    lay = lay or layout()
    lay.builds.mkdir(parents=True, exist_ok=True)
    build = lay.builds / f"build-{run_id or uuid.uuid4().hex[:12]}.duckdb"
    if build.exists():
        raise FileExistsError(f"build file {build} already exists; a run id must be unique")
    if lay.published.exists():
        # Copy, never link: the build is written in place and must not touch the published inode.
        shutil.copyfile(lay.published, build)
    return build


def publish(build: Path, lay: WarehouseLayout | None = None, keep: int = KEEP_VERSIONS) -> Path:
    """Make `build` the published warehouse; the previous one goes to versions/. Returns its new path."""
    lay = lay or layout()
    if not build.exists():
        raise FileNotFoundError(f"nothing to publish: {build} does not exist")
    wal = build.with_name(build.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{build} still has a write-ahead log; close every connection before publishing")
    with build.open("rb") as fh:  # the data must be on disk before the name points at it
        os.fsync(fh.fileno())
    lay.versions.mkdir(parents=True, exist_ok=True)
    if lay.published.exists():
        stamp = datetime.fromtimestamp(lay.published.stat().st_mtime, tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
        os.link(lay.published, lay.versions / f"assessment-{stamp}.duckdb")
    build.replace(lay.published)
    _prune(lay, keep)
    return lay.published


def discard(build: Path) -> None:
    """Remove a failed run's build file (and its WAL); the published warehouse is not touched."""
    for path in (build, build.with_name(build.name + ".wal")):
        path.unlink(missing_ok=True)


def versions(lay: WarehouseLayout | None = None) -> list[Path]:
    """Previous published versions, newest first."""
    lay = lay or layout()
    return sorted(lay.versions.glob("assessment-*.duckdb"), reverse=True)


def restore(version: Path, lay: WarehouseLayout | None = None) -> Path:
    """Publish a copy of an earlier version (the current one is kept as a version too)."""
    lay = lay or layout()
    build = start_build(lay)
    shutil.copyfile(version, build)
    return publish(build, lay)


def _prune(lay: WarehouseLayout, keep: int) -> None:
    for old in versions(lay)[keep:]:
        old.unlink()
