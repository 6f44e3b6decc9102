"""The dbt project as a cached `DbtProject`, and the manifest it is loaded from.

The manifest (dbt_project/target/manifest.json) is prepared before anything imports the assets: by
`make env` (and so `make test`, `make demo`, `make dev`), by the test session when a model changed, or
by hand with `uv run python -m pipelines.defs.dbt.project`. `dagster dev` also re-parses on load
(`prepare_if_dev`). Importing the assets never runs dbt; a missing manifest is one clear error.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.paths import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PREPARE_COMMAND = "make env  (or: uv run python -m pipelines.defs.dbt.project)"
_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv"}


class ManifestMissingError(RuntimeError):
    """The dbt manifest was not prepared; the message says how to prepare it."""


@cache
def warehouse_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    return project


def dbt_executable() -> str:
    """The dbt of this environment (next to the running interpreter), else whatever is on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def required_manifest(project: DbtProject | None = None) -> Path:
    """The prepared manifest's path, or ManifestMissingError with the one command that makes it."""
    manifest = (project or warehouse_project()).manifest_path
    if not manifest.exists():
        raise ManifestMissingError(f"dbt manifest 缺失 / missing: {manifest} — run `{PREPARE_COMMAND}` first")
    return manifest


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for folder in ("models", "macros", "tests", "seeds", "snapshots", "analyses"):
        for path in (project_dir / folder).rglob("*"):
            if path.suffix in _SOURCE_SUFFIXES:
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        newest = max(newest, (project_dir / name).stat().st_mtime)
    return newest


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    manifest = project_dir / "target" / "manifest.json"
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project_dir)


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR, *, force: bool = False) -> Path:
    """Parse the dbt project if the manifest is missing or stale (or `force`); return the manifest path.

    Called at install time (Makefile) and at the start of a test session, never on import. The parse runs
    in a child process (`seed_parse`: dbt's imports and global state stay out of the caller) with the
    args a pipeline run parses with, and also leaves the run's parse cache and dbt's partial-parse file in
    target/: the first run of a fresh clone then starts dbt without parsing. Parsing connects to no
    database. dbt writes into a private target folder and the files are moved into place atomically, so
    parallel callers never read half a file.
    """
    manifest = project_dir / "target" / "manifest.json"
    if force or manifest_is_stale(project_dir):
        manifest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=manifest.parent, prefix=".parse-") as scratch:
            child = [sys.executable, "-m", "pipelines.defs.dbt.seed_parse", scratch]
            # the child inherits this environment unchanged: the parse cache's key includes DBT_* variables
            completed = subprocess.run(
                [*child, str(project_dir)],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            parsed = Path(scratch) / "manifest.json"
            if completed.returncode != 0 or not parsed.exists():
                raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")
            partial = Path(scratch) / "partial_parse.msgpack"
            if partial.exists():  # where a run that cannot use the parse cache starts its partial parse
                partial.replace(manifest.parent / partial.name)
            parsed.replace(manifest)
    return manifest


if __name__ == "__main__":
    print(prepare_manifest(force="--force" in sys.argv))
