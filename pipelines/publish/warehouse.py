"""Build into a fresh DuckDB file, publish a release atomically, keep the previous releases.

DuckDB allows one read-write process or many read-only ones on a file, never both. Analysts keep
notebooks open on the published warehouse for hours, so the pipeline never opens a published file for
writing. The files under `data/warehouse/`:

    private/work.duckdb        the pipeline's own complete warehouse (every layer, incremental state);
                               never read by analysts
    builds/build.duckdb        the running build: a copy of work.duckdb, written by dbt (build.id
                               names the run or operator command it belongs to)
    releases/<stamp>/          one published release: assessment.duckdb (analyst tables only),
                               counties/<county_code>.duckdb (one county's units only), release.json
    published -> releases/<stamp>                    symlink swapped atomically by `publish_release`
    assessment.duckdb -> published/assessment.duckdb  the stable path analysts open read-only
    counties -> published/counties

A run: `ensure_build` copies work.duckdb to the run's build file (incremental models then redo only the
quarter that changed); dbt and the findings write the build; `stage_release` exports the analyst file and
the county extracts from it into a new release folder nobody reads yet; the blocking checks look at each
of its files; `publish_release` syncs them to disk and points `published` at the release with one rename
(a reader sees the old or the new release, never a mix; a notebook that already has the old file open
keeps reading the old inode, which stays on disk) and promotes the build to be the new work.duckdb. A run
that fails before that leaves the published release and work.duckdb untouched; its build file is removed
by the next run.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.paths import warehouse_dir

PUBLISHED_NAME = "assessment.duckdb"
COUNTIES_NAME = "counties"
RELEASE_MANIFEST = "release.json"
KEEP_RELEASES = 5
# The Dagster run tag naming the build a run writes into: the operator CLI sets one value on the several
# runs that make up one build; the dbt resource reads it to find the file.
BUILD_TAG = "warehouse/build"
BUILD_NAME = "build.duckdb"
BUILD_ID_NAME = "build.id"


@dataclass(frozen=True)
class WarehouseLayout:
    root: Path

    @property
    def published(self) -> Path:
        """The city-wide analyst file (a stable symlink into the current release)."""
        return self.root / PUBLISHED_NAME

    @property
    def counties(self) -> Path:
        """Folder of per-county extracts (a stable symlink into the current release)."""
        return self.root / COUNTIES_NAME

    @property
    def current(self) -> Path:
        """Symlink to the current release folder."""
        return self.root / "published"

    @property
    def work(self) -> Path:
        """The pipeline's private warehouse (all layers); analysts never open it."""
        return self.root / "private" / "work.duckdb"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def releases(self) -> Path:
        return self.root / "releases"


def layout(root: Path | None = None) -> WarehouseLayout:
    return WarehouseLayout(root or warehouse_dir())


def build_path(build_id: str, lay: WarehouseLayout | None = None) -> Path:
    """The build file. Its name is the same for every build (runs are serialised), so dbt sees the same
    profile on every run and can reuse its parse; `builds/build.id` says which build it belongs to."""
    lay = lay or layout()
    if not build_id or any(c in build_id for c in "/\\\n") or build_id.startswith("."):
        raise ValueError(f"invalid build id {build_id!r}")
    return lay.builds / BUILD_NAME


def ensure_build(build_id: str, lay: WarehouseLayout | None = None) -> Path:
    """The build file of `build_id`, created on first use as a copy of work.duckdb (or empty on a first
    run). A build file of any other id is from a run that failed or was killed: it is replaced."""
    lay = lay or layout()
    build = build_path(build_id, lay)
    owner = lay.builds / BUILD_ID_NAME
    if build.exists() and owner.exists() and owner.read_text(encoding="utf-8") == build_id:
        return build
    lay.builds.mkdir(parents=True, exist_ok=True)
    for stale in lay.builds.iterdir():
        stale.unlink(missing_ok=True)
    if lay.work.exists():
        tmp = build.with_name(build.name + ".copying")
        shutil.copyfile(lay.work, tmp)  # copy, never link: the build is written in place
        tmp.replace(build)
    owner.write_text(build_id, encoding="utf-8")
    return build


def discard(build: Path) -> None:
    """Remove a failed run's build file (and its WAL); nothing published is touched."""
    for path in (build, build.with_name(build.name + ".wal"), build.with_name(BUILD_ID_NAME)):
        path.unlink(missing_ok=True)


def new_release(lay: WarehouseLayout | None = None, label: str = "") -> Path:
    """An empty, not yet published release folder."""
    lay = lay or layout()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    release = lay.releases / (f"{stamp}-{label}" if label else stamp)
    (release / COUNTIES_NAME).mkdir(parents=True)
    return release


def publish_release(release: Path, build: Path | None = None, lay: WarehouseLayout | None = None) -> Path:
    """Point the published symlinks at `release` (atomic) and promote `build` to work.duckdb."""
    lay = lay or layout()
    if not (release / PUBLISHED_NAME).exists():
        raise FileNotFoundError(f"nothing to publish: {release / PUBLISHED_NAME} does not exist")
    # Every county the release was made with keeps its extract: a county office must not silently lose
    # its file (a restore of a release someone tidied by hand).
    listed = read_manifest(release).get("county_person_quarters")
    if isinstance(listed, dict):
        missing = sorted(c for c in listed if not (release / COUNTIES_NAME / f"{c}.duckdb").is_file())
        if missing:
            raise FileNotFoundError(f"{release / COUNTIES_NAME}: no extract for county {', '.join(missing)}")
    for db in [release / PUBLISHED_NAME, *sorted((release / COUNTIES_NAME).glob("*.duckdb"))]:
        if db.with_name(db.name + ".wal").exists():
            raise RuntimeError(f"{db} still has a write-ahead log; close every connection before publishing")
        # The data must be on disk before a name points at it. This is the only sync a staged file gets:
        # it is written without DuckDB's own (pipelines/publish/export.py, STAGING_CONFIG).
        with db.open("rb") as fh:
            os.fsync(fh.fileno())
    for folder in (release / COUNTIES_NAME, release):  # and so must the files' names
        if folder.is_dir():
            _fsync_dir(folder)
    _ensure_stable_links(lay)
    _mark_published(release)
    tmp = lay.root / f".published-{release.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("releases") / release.name)
    tmp.replace(lay.current)  # rename(2) over the old symlink: the atomic switch
    if build is not None:
        promote_build(build, lay)
    prune(lay)
    return lay.published


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def promote_build(build: Path, lay: WarehouseLayout | None = None) -> None:
    """Make `build` the pipeline's private warehouse (work.duckdb), which the next build starts from.

    Also done without publishing when a build shows analysts nothing new: its staging and intermediate
    tables may still differ from the last build's, and the next run must start from them."""
    lay = lay or layout()
    if not build.exists():
        return
    wal = build.with_name(build.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{build} still has a write-ahead log; close every connection first")
    lay.work.parent.mkdir(parents=True, exist_ok=True)
    build.replace(lay.work)
    build.with_name(BUILD_ID_NAME).unlink(missing_ok=True)


def _ensure_stable_links(lay: WarehouseLayout) -> None:
    """assessment.duckdb and counties/ are relative symlinks through `published`; made once."""
    for link, target in ((lay.published, PUBLISHED_NAME), (lay.counties, COUNTIES_NAME)):
        if link.is_symlink():
            continue
        if link.exists():  # a plain file from an older layout: keep it as a release of its own
            legacy = lay.releases / "legacy"
            (legacy / COUNTIES_NAME).mkdir(parents=True, exist_ok=True)
            link.replace(legacy / link.name) if link.is_file() else shutil.rmtree(link)
        link.symlink_to(Path("published") / target)


def current_release(lay: WarehouseLayout | None = None) -> Path | None:
    lay = lay or layout()
    return lay.current.resolve() if lay.current.is_symlink() else None


def releases(lay: WarehouseLayout | None = None) -> list[Path]:
    """Every release that was ever published, newest first."""
    lay = lay or layout()
    if not lay.releases.exists():
        return []
    found = [p for p in lay.releases.iterdir() if p.is_dir() and _published_or_damaged(read_manifest(p))]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _published_or_damaged(facts: dict[str, object]) -> bool:
    # A manifest that cannot be read may be a published release's: listed, never pruned, restorable.
    return "published_at" in facts or DAMAGED in facts


DAMAGED = "damaged"  # read_manifest's key for a release.json that cannot be read (the error's first line)


def read_manifest(release: Path) -> dict[str, object]:
    """The release's facts; {} when it has none, {DAMAGED: why} when its file cannot be read."""
    path = release / RELEASE_MANIFEST
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        return {DAMAGED: f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
    return facts if isinstance(facts, dict) else {DAMAGED: "not a JSON object"}


def _mark_published(release: Path) -> None:
    facts = read_manifest(release)
    facts.pop(DAMAGED, None)
    facts.setdefault("published_at", datetime.now(UTC).isoformat(timespec="seconds"))
    write_manifest(release, facts)


def restore(release: Path, lay: WarehouseLayout | None = None) -> Path:
    """Publish an earlier release again (analyst files only; work.duckdb keeps the newest build)."""
    lay = lay or layout()
    if release.resolve().parent != lay.releases.resolve():
        raise ValueError(f"{release} is not a release of {lay.releases}")
    return publish_release(release, None, lay)


def prune(lay: WarehouseLayout | None = None, keep: int = KEEP_RELEASES) -> None:
    """Keep the current release and the newest `keep` published ones; delete the rest, including
    releases a failed run staged but never published (runs are serialised, so none is in progress)."""
    lay = lay or layout()
    current = current_release(lay)
    kept = {p.resolve() for p in releases(lay)[:keep]}
    for release in lay.releases.iterdir() if lay.releases.exists() else []:
        resolved = release.resolve()
        if resolved in kept or resolved == current:
            continue
        shutil.rmtree(release, ignore_errors=True)


def write_manifest(release: Path, facts: dict[str, object]) -> Path:
    """Written whole or not at all (a temporary file renamed over it): a crash or a full disk half-way
    must not leave a truncated release.json for `releases`, `restore` and every later run to trip on."""
    path = release / RELEASE_MANIFEST
    tmp = path.with_name(f".{RELEASE_MANIFEST}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(facts, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path
