"""The GX suites over a quarter's raw tables: a blocking asset check on every sheet's raw table.

Ingestion enforces the suites' cell rules as polars expressions (pipelines/ingest/rules.py); this check
runs the suites themselves with great-expectations over the rows the raw tables hold
(pipelines/ingest/gx_check.py). It fails, and blocks dbt, if GX finds a row the polars rules let
through. Submissions verified once are not validated again under the same suites, so a re-run with
nothing new does not even import GX. On a quarter's first run from the operator's command, the command's
prefetch process has imported GX meanwhile and runs the same check when asked (pipelines/ingest/
prefetch.py); otherwise it runs here.
"""

# No `from __future__ import annotations`: Dagster reads the context type from the real annotation.
from collections.abc import Iterator

import dagster as dg

from pipelines.defs.ingest.assets import RAW_KEYS
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.template import SHEETS
from pipelines.ingest import cache, prefetch
from pipelines.ingest.gx_check import GxOutcome, check_quarter, describe, outcome_from_json
from pipelines.paths import data_dir, raw_dir, restricted_dir

CHECK_NAME = "gx_suites_hold"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=RAW_KEYS[s.name],
            blocking=True,
            description=f"expectations/{s.name}.json, run by great-expectations over the raw table.",
        )
        for s in SHEETS
    ],
    resource_defs=PATHS_RESOURCES,
)
def gx_suites_on_raw_tables(
    context: dg.AssetCheckExecutionContext, paths: AssessmentPaths
) -> Iterator[dg.AssetCheckResult]:
    """Every committed suite over the quarter's raw rows not verified before."""
    quarter = parse_quarter(context.partition_key)
    with paths.applied():
        outcome = _run_by_prefetch(context, quarter.key) or check_quarter(
            raw_dir(), restricted_dir(), cache.cache_root(data_dir()), quarter.key
        )
    metadata = describe(outcome)
    for sheet in SHEETS:
        failed = [f for f in outcome.failures if f.sheet == sheet.name]
        yield dg.AssetCheckResult(
            asset_key=RAW_KEYS[sheet.name],
            check_name=CHECK_NAME,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={**metadata, "rows_checked": outcome.rows.get(sheet.name, 0)},
        )


def _run_by_prefetch(context: dg.AssetCheckExecutionContext, quarter: str) -> GxOutcome | None:
    """The check as the operator command's prefetch process ran it (great-expectations imported there
    while the ingest step wrote the tables: pipelines/ingest/prefetch.py); None: run it here."""
    found = prefetch.gx_check(data_dir(), quarter, context.log)
    if found is None:
        return None
    try:
        outcome = outcome_from_json(found)
    except (KeyError, TypeError):
        return None
    context.log.info("GX suites run by the prefetch process")
    return outcome
