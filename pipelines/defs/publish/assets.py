"""Publishing as one step: stage a release from the run's build, check it, then switch analysts to it.

warehouse/release   exports the analyst file and the per-county extracts from the build into a new
                    release folder that nobody reads yet (pipelines/publish/export.py)
   ├─ blocking checks: only analyst tables, no national IDs, rater anonymity, county extracts hold only
   │  their county, the core marts exist
warehouse/published switches the `published` symlink to the release (atomic) and promotes the build to
                    the pipeline's private warehouse (pipelines/publish/warehouse.py)

Both assets and the four checks are one multi-asset, `warehouse_publish`: one Dagster step instead of
six (issue 16), the checks run side by side on the staged files (a task per file, which opens it
read-only once and runs every check that reads it), and only when every check passed is the release
switched in. A failed check fails the step before warehouse/published: analysts keep the previous
release. When the build's
analyst tables are the same as the published release's (pipelines/publish/fingerprint.py) nothing is
staged or published, and the report and deliverables, which depend on warehouse/published, are skipped.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.dbt.assets import WRITER_TAGS, warehouse_annual_models, warehouse_quarter_models
from pipelines.defs.dbt.resources import build_id, pinned_duckdb, run_duckdb_path
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.publish import audit
from pipelines.publish.export import rater_alias_key, stage_release
from pipelines.publish.fingerprint import FINGERPRINT_FACT, content_fingerprint, published_fingerprint
from pipelines.publish.warehouse import COUNTIES_NAME, PUBLISHED_NAME, layout, promote_build, publish_release

GROUP = "publish"
RELEASE_KEY = dg.AssetKey(["warehouse", "release"])
PUBLISHED_KEY = dg.AssetKey(["warehouse", "published"])
PUBLISHED_GROUPS = {"marts", "quality"}


def _mart_keys() -> list[dg.AssetKey]:
    """The dbt models a release is made of (marts and quality findings), as upstream dependencies."""
    keys: list[dg.AssetKey] = []
    for assets_def in (warehouse_quarter_models, warehouse_annual_models):
        keys += [k for k, g in assets_def.group_names_by_key.items() if g in PUBLISHED_GROUPS]
    return sorted(keys, key=lambda k: k.to_user_string())


def staged_release(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Path:
    """The release folder this run staged (named after the build id)."""
    lay = layout()
    label = build_id(context)[:12]
    found = sorted(lay.releases.glob(f"*-{label}")) if lay.releases.exists() else []
    if not found:
        raise FileNotFoundError(f"this run staged no release (no {lay.releases}/*-{label})")
    return found[-1]


def county_files(release: Path) -> list[Path]:
    return sorted((release / COUNTIES_NAME).glob("*.duckdb"))


UNCHANGED_MESSAGE = (
    "分析表内容与当前发布版本相同，不发布新版本、不重新生成报告 / the analyst tables are the same as the "
    "published release's: no new release, no new report"
)


# -- the blocking checks of a staged release (each a list of problems; pipelines/publish/audit.py) ------


def analyst_file(release: Path) -> list[Path]:
    return [release / PUBLISHED_NAME]


def every_file(release: Path) -> list[Path]:
    return [release / PUBLISHED_NAME, *county_files(release)]


def analyst_table_problems(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return audit.only_analyst_tables(con) + audit.required_tables(con)


def national_id_problems(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return audit.no_national_ids(con)


def anonymity_problems(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return audit.rater_anonymity(con)


def own_county_problems(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return audit.county_extract_problems(con, path.stem, path.name)


@dataclass(frozen=True)
class ReleaseCheck:
    name: str
    description: str
    what: str  # the first words of a failure's description
    files: Callable[[Path], list[Path]]  # the release's files it reads
    problems: Callable[[duckdb.DuckDBPyConnection, Path], list[str]]  # one file's, opened read-only


RELEASE_CHECKS = (
    ReleaseCheck(
        "only_analyst_tables",
        "Only fct_/dim_ tables of marts and quality.",
        "not an analyst file",
        analyst_file,
        analyst_table_problems,
    ),
    ReleaseCheck(
        "no_national_ids_published",
        "No value shaped like a national ID.",
        "national IDs",
        every_file,
        national_id_problems,
    ),
    ReleaseCheck(
        "rater_anonymity",
        "No named internal rater beside a ratee; no tier mean or leniency over fewer than 3 people.",
        "rater anonymity",
        every_file,
        anonymity_problems,
    ),
    ReleaseCheck(
        "county_extracts_hold_only_their_county",
        "Each county extract holds only its county.",
        "county extracts",
        county_files,
        own_county_problems,
    ),
)


# The checks' DuckDB. The ID audit asks for every text column of a file as one union of 130-odd
# single-column scans; on a county extract DuckDB's profile put most of that query in planning, led by
# two optimizers that find nothing to share between such branches (projection pull-up, common
# subplans). Without them the city release's checks took 5-19 % less CPU in alternated runs.
# Optimizers never change what a query returns.
CHECK_CONFIG = {"disabled_optimizers": "projection_pullup,common_subplan"}


def check_release(release: Path, checks: tuple[ReleaseCheck, ...] = RELEASE_CHECKS) -> dict[str, list[str]]:
    """Every check's problems, in file order. Each file is one task on a pool of a thread per core: the
    file is attached read-only once and every check that reads it runs on that attachment, which
    catalogues the file once for all of them (DuckDB releases the GIL while it scans, so the files are
    what runs side by side). The files are attached to one in-memory DuckDB, each on a connection of its
    own that `use`s it, so the checks' unqualified names and `current_database()` mean that file:
    opening each file as a database of its own cost ~60 ms of wall time (~20 ms of CPU) a file, against
    ~8 ms to attach, and a 16-city province's release has 129 files."""
    checks_of: dict[Path, list[ReleaseCheck]] = {}
    for check in checks:
        for path in check.files(release):
            checks_of.setdefault(path, []).append(check)

    def run(cursor: duckdb.DuckDBPyConnection, k: int, path: Path) -> list[tuple[str, list[str]]]:
        # the alias is ours and never a schema's name, so `marts.x` keeps meaning the file's schema marts
        alias = f"release_file_{k}"
        with cursor as con:
            con.execute(f"attach ? as {alias} (read_only)", [str(path)])
            con.execute(f"use {alias}")
            try:
                with audit.shared_catalogue(con):
                    return [(check.name, check.problems(con, path)) for check in checks_of[path]]
            finally:
                con.execute("use memory")
                con.execute(f"detach {alias}")

    with duckdb.connect(config=CHECK_CONFIG) as instance:
        # made here, one per file: a DuckDB connection object is not safe to share between threads,
        # not even to make cursors
        cursors = [instance.cursor() for _ in checks_of]
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="check") as pool:
            futures = [
                pool.submit(run, cursor, k, path)
                for k, (cursor, path) in enumerate(zip(cursors, checks_of, strict=True))
            ]
            found: dict[str, list[str]] = {check.name: [] for check in checks}
            for future in futures:
                for name, problems in future.result():
                    found[name] += problems
    return found


def _result(check: ReleaseCheck, problems: list[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=RELEASE_KEY,
        check_name=check.name,
        passed=not problems,
        metadata={"problems": len(problems), "first_problems": problems[:10]},
        description=f"{check.what}: {problems[0]}" if problems else None,
    )


# -- the step --------------------------------------------------------------------------------------------


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RELEASE_KEY,
            deps=_mart_keys(),
            group_name=GROUP,
            kinds={"duckdb"},
            tags=WRITER_TAGS,
            description="The analyst file and one extract per county, staged from this run's build.",
            # Not materialised when nothing analysts see changed: publishing, the report and the
            # deliverables are then skipped.
            skippable=True,
        ),
        dg.AssetSpec(
            PUBLISHED_KEY,
            deps=[RELEASE_KEY],
            group_name=GROUP,
            kinds={"duckdb"},
            tags=WRITER_TAGS,
            description="Analysts switched to this run's release (atomic); previous releases kept.",
            skippable=True,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(check.name, asset=RELEASE_KEY, blocking=True, description=check.description)
        for check in RELEASE_CHECKS
    ],
    name="warehouse_publish",
    op_tags=WRITER_TAGS,
    resource_defs=PATHS_RESOURCES,
    # Subsettable, which also makes every output optional: an unchanged build yields none of them.
    can_subset=True,
)
def warehouse_publish(context: dg.AssetExecutionContext, paths: AssessmentPaths) -> Iterator[object]:
    """Stage the release, run its blocking checks, and switch analysts to it when all of them passed."""
    with paths.applied():
        yield from _stage_check_publish(context)


def _stage_check_publish(context: dg.AssetExecutionContext) -> Iterator[object]:
    build = run_duckdb_path(context)
    alias_key = rater_alias_key()
    fingerprint = content_fingerprint(build, alias_key)
    if fingerprint == published_fingerprint():
        context.log.info(f"{UNCHANGED_MESSAGE} ({fingerprint[:12]})")
        if not pinned_duckdb():  # the next build starts from this one (a pinned file is the caller's)
            promote_build(build)
        return
    if RELEASE_KEY not in context.selected_asset_keys:  # publishing needs this run's release
        raise dg.Failure(description="warehouse/published needs warehouse/release in the same run")
    release = stage_release(
        build,
        label=build_id(context)[:12],
        alias_key=alias_key,
        progress=context.log.info,
        facts={"run_id": context.run.run_id, "build": build.name, FINGERPRINT_FACT: fingerprint},
    )
    yield dg.MaterializeResult(
        asset_key=RELEASE_KEY,
        metadata={
            "release": str(release),
            "counties": [p.stem for p in county_files(release)],
            "size_mb": round((release / PUBLISHED_NAME).stat().st_size / 1e6, 1),
            "fingerprint": fingerprint,
        },
    )
    problems = check_release(release)  # every check runs: a failed one blocks publishing even unselected
    selected = {key.name for key in context.selected_asset_check_keys}
    for check in RELEASE_CHECKS:
        if check.name in selected:
            yield _result(check, problems[check.name])
    failed = sorted(name for name, found in problems.items() if found)
    if failed:
        # the release stays staged (unpublished) for inspection; analysts keep the previous one
        raise dg.Failure(description=f"blocking checks failed: {', '.join(failed)} ({release.name})")
    if PUBLISHED_KEY not in context.selected_asset_keys:  # staged and checked only
        return
    # A build pinned with ASSESSMENT_DUCKDB is the caller's file: publish from it, never move it.
    published = publish_release(release, None if pinned_duckdb() else build)
    yield dg.MaterializeResult(
        asset_key=PUBLISHED_KEY,
        metadata={
            "published": str(published),
            "release": release.name,
            "county_extracts": str(layout().counties),
        },
    )


publish_job = dg.define_asset_job(
    "publish",
    selection=dg.AssetSelection.assets(warehouse_publish),
    tags=WRITER_TAGS,
    description="Stage, check and publish the analyst warehouse and county extracts from the run's build.",
)
