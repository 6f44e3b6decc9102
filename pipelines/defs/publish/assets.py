"""Publishing as assets: stage a release from the run's build, check it, then switch analysts to it.

warehouse/release   exports the analyst file and the per-county extracts from the build into a new
                    release folder that nobody reads yet (pipelines/publish/export.py)
   ├─ blocking checks: only analyst tables, no national IDs, rater anonymity, county extracts hold only
   │  their county, the core marts exist
warehouse/published switches the `published` symlink to the release (atomic) and promotes the build to
                    the pipeline's private warehouse (pipelines/publish/warehouse.py)

A failed check stops the run before warehouse/published: analysts keep the previous release.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

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


@dg.asset(
    key=RELEASE_KEY,
    deps=_mart_keys(),
    group_name=GROUP,
    kinds={"duckdb"},
    tags=WRITER_TAGS,
    resource_defs=PATHS_RESOURCES,
    # Not materialised when nothing analysts see changed: its checks, publishing and the report are then
    # skipped by Dagster (they depend on it).
    output_required=False,
)
def warehouse_release(
    context: dg.AssetExecutionContext, paths: AssessmentPaths
) -> Iterator[dg.MaterializeResult]:
    """The analyst file and one extract per county, staged from this run's build (not yet visible)."""
    with paths.applied():
        yield from _stage(context)


def _stage(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    build = run_duckdb_path(context)
    alias_key = rater_alias_key()
    fingerprint = content_fingerprint(build, alias_key)
    if fingerprint == published_fingerprint():
        context.log.info(f"{UNCHANGED_MESSAGE} ({fingerprint[:12]})")
        if not pinned_duckdb():  # the next build starts from this one (a pinned file is the caller's)
            promote_build(build)
        return
    release = stage_release(
        build,
        label=build_id(context)[:12],
        alias_key=alias_key,
        progress=context.log.info,
        facts={"run_id": context.run.run_id, "build": build.name, FINGERPRINT_FACT: fingerprint},
    )
    counties = [p.stem for p in county_files(release)]
    yield dg.MaterializeResult(
        metadata={
            "release": str(release),
            "counties": counties,
            "size_mb": round((release / PUBLISHED_NAME).stat().st_size / 1e6, 1),
            "fingerprint": fingerprint,
        }
    )


def _result(problems: list[str], what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": len(problems), "first_problems": problems[:10]},
        description=f"{what}: {problems[0]}" if problems else None,
    )


@dg.asset_check(asset=RELEASE_KEY, blocking=True, description="Only fct_/dim_ tables of marts and quality.")
def only_analyst_tables(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    release = staged_release(context)
    problems = audit.only_analyst_tables(release / PUBLISHED_NAME) + audit.required_tables(
        release / PUBLISHED_NAME
    )
    return _result(problems, "not an analyst file")


@dg.asset_check(asset=RELEASE_KEY, blocking=True, description="No value shaped like a national ID.")
def no_national_ids_published(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    release = staged_release(context)
    files = [release / PUBLISHED_NAME, *county_files(release)]
    return _result([p for f in files for p in audit.no_national_ids(f)], "national IDs")


@dg.asset_check(
    asset=RELEASE_KEY,
    blocking=True,
    description="No named internal rater beside a ratee; no tier mean or leniency over fewer than 3 people.",
)
def rater_anonymity(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    release = staged_release(context)
    files = [release / PUBLISHED_NAME, *county_files(release)]
    return _result([p for f in files for p in audit.rater_anonymity(f)], "rater anonymity")


@dg.asset_check(asset=RELEASE_KEY, blocking=True, description="Each county extract holds only its county.")
def county_extracts_hold_only_their_county(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    release = staged_release(context)
    problems = [p for f in county_files(release) for p in audit.county_extract_problems(f, f.stem)]
    return _result(problems, "county extracts")


@dg.asset(
    key=PUBLISHED_KEY,
    deps=[RELEASE_KEY],
    group_name=GROUP,
    kinds={"duckdb"},
    tags=WRITER_TAGS,
    resource_defs=PATHS_RESOURCES,
)
def warehouse_published(context: dg.AssetExecutionContext, paths: AssessmentPaths) -> dg.MaterializeResult:
    """Switch analysts to this run's release (atomic) and keep the previous releases for restore."""
    with paths.applied():
        return _publish(context)


def _publish(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    release = staged_release(context)
    # A build pinned with ASSESSMENT_DUCKDB is the caller's file: publish from it, never move it.
    build = None if pinned_duckdb() else run_duckdb_path(context)
    published = publish_release(release, build)
    lay = layout()
    return dg.MaterializeResult(
        metadata={
            "published": str(published),
            "release": release.name,
            "county_extracts": str(lay.counties),
        }
    )


publish_job = dg.define_asset_job(
    "publish",
    selection=dg.AssetSelection.assets(warehouse_release, warehouse_published),
    tags=WRITER_TAGS,
    description="Stage, check and publish the analyst warehouse and county extracts from the run's build.",
)
