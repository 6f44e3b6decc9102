"""Ingestion as quarter-partitioned Dagster assets.

One multi-asset materialises every raw table of a quarter at once (they come out of one pass over
the landing area, and dbt needs them consistent with each other): ``raw/<table>`` for each table of
the contract in pipelines/ingest/schema.py (the keys dbt's `raw` source maps onto) and
``restricted/persons``. Asset checks report what validation found: accepted and rejected units,
the most frequent error kinds, whether every landed file is in the ledger, whether every unit has
a status, and whether any national ID reached an analytical table in clear.
"""

# No `from __future__ import annotations`: Dagster reads the config class from the real annotation.
import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from pipelines.defs.partitions import partition_quarter, quarter_partitions
from pipelines.defs.resources import PATHS_RESOURCES, AssessmentPaths
from pipelines.domain.registry import load_active_registry
from pipelines.ingest import audit, prefetch
from pipelines.ingest.pseudonym import DEMO_WARNING, ENV_VAR
from pipelines.ingest.run import IngestReport, IngestSettings, ingest_quarter
from pipelines.ingest.schema import RAW_TABLES
from pipelines.paths import data_dir, landing_dir, raw_dir, restricted_dir
from pipelines.runlock import RunLockedError, hold

GROUP = "ingest"
RAW_KEYS: dict[str, dg.AssetKey] = {t: dg.AssetKey(["raw", t]) for t in RAW_TABLES}
PERSONS_KEY = dg.AssetKey(["restricted", "persons"])
UPSTREAM = [dg.AssetKey("unit_registry"), dg.AssetKey("assessment_rules")]
TOP_KINDS = 10
# The progress line the operator CLI's progress bar reads (pipelines/cli/runner.py): one asset log
# message per step of progress, at most every PROGRESS_EVERY_S seconds, and always the last one.
PROGRESS_MESSAGE = "ingest progress: {done}/{total} files"
PROGRESS_EVERY_S = 0.5

DESCRIPTIONS = {
    "submissions": "报送台账: every file that ever arrived for the quarter, accepted or not, by SHA-256.",
    "unit_status": "报送状态: one row per registry unit: on_time, late, rejected or missing.",
    "receipt_items": "回执明细: every error and warning of every receipt, in Chinese, located by sheet/row.",
    "unit_info": "单位信息 of each unit's current submission.",
    "roster": "人员名册 of current submissions; persons by pseudonymous person_key, no names or IDs.",
    "sections": "科室 of current submissions.",
    "tasks": "重点任务 of current submissions.",
    "task_assignments": "主办/协办: one row per (task, person), exploded from lead and assist codes.",
    "ratings": "评议打分 of current submissions: one row per (ratee, tier, rater).",
    "adjustments": "加减分 of current submissions.",
    "year_end": "年度测评 of current Q4 submissions.",
}

CHECKS = (
    dg.AssetCheckSpec(
        "submissions_validated",
        asset=RAW_KEYS["submissions"],
        description="Every file validated; warns when any was rejected (metadata: units, top error kinds).",
    ),
    dg.AssetCheckSpec(
        "every_file_accounted_for",
        asset=RAW_KEYS["submissions"],
        description="Every delivery found in the landing area is archived and has a ledger row.",
    ),
    dg.AssetCheckSpec(
        "every_unit_has_a_status",
        asset=RAW_KEYS["unit_status"],
        blocking=True,
        description="Exactly one status row per registry unit.",
    ),
    dg.AssetCheckSpec(
        "no_clear_national_ids",
        asset=RAW_KEYS["roster"],
        blocking=True,
        description="No national ID in clear in any analytical raw table of the quarter.",
    ),
    dg.AssetCheckSpec(
        "pseudonym_key_configured",
        asset=PERSONS_KEY,
        description=f"Person keys are made with a secret key from {ENV_VAR}, not the public demo key.",
    ),
)


class IngestConfig(dg.Config):
    workers: int = 2
    parse_timeout_seconds: float = 20.0


@dg.multi_asset(
    name="ingest_quarter",
    specs=[
        *(
            dg.AssetSpec(key, group_name=GROUP, deps=UPSTREAM, kinds={"parquet"}, description=DESCRIPTIONS[t])
            for t, key in RAW_KEYS.items()
        ),
        dg.AssetSpec(
            PERSONS_KEY,
            group_name=GROUP,
            deps=UPSTREAM,
            kinds={"parquet"},
            description="Clear names and national IDs by person_key: restricted, never exposed to analysts.",
        ),
    ],
    check_specs=CHECKS,
    partitions_def=quarter_partitions,
    can_subset=False,
    resource_defs=PATHS_RESOURCES,
)
def ingest_quarter_assets(
    context: dg.AssetExecutionContext, config: IngestConfig, paths: AssessmentPaths
) -> Iterator[Any]:
    """Landing area → archive → validated, typed raw tables, ledger and one receipt per submission."""
    with paths.applied():
        yield from _ingest(context, config)


def progress_logger(context: dg.AssetExecutionContext) -> Callable[[int, int], None]:
    """ingest_quarter's per-file callback as throttled asset log lines (PROGRESS_MESSAGE)."""
    last = [0.0]

    def on_file(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            context.log.info(PROGRESS_MESSAGE.format(done=done, total=total))

    return on_file


def _ingest(context: dg.AssetExecutionContext, config: IngestConfig) -> Iterator[Any]:
    quarter = partition_quarter(context)
    # As the operator command refuses it (pipelines/cli/errors.py check_landing): a run from the UI or
    # the schedule for a quarter whose folder is missing (units dropped their files into 2025-Q3/, say)
    # would otherwise publish every unit as missing. An empty folder is a quarter nobody sent.
    landing = landing_dir() / quarter.key
    if not landing.is_dir():
        raise dg.Failure(
            description=f"没有报送目录 no landing folder for {quarter.key}: {landing}; nothing ingested",
            allow_retries=False,
        )
    settings = IngestSettings(workers=config.workers, parse_timeout_seconds=config.parse_timeout_seconds)
    # One writer per data directory (pipelines/runlock.py): refused at once while another run writes;
    # re-entrant when the operator CLI runs this job in its own process and holds the lock already.
    try:
        with hold(data_dir(), f"dagster run {context.run.run_id} ({context.job_name}, {quarter.key})"):
            on_file = progress_logger(context)
            # the operator's command may have archived and parsed the quarter already, in a process
            # of its own while it loaded Dagster and dbt: wait for it (nothing when run from the UI)
            waiting = time.perf_counter()
            done = prefetch.wait_for(data_dir(), quarter.key, on_file, context.log)
            waited = time.perf_counter() - waiting
            report = ingest_quarter(quarter, settings, log=context.log, on_file=on_file, prefetched=done)
            if done is not None:  # the benchmark counts ingestion as prefetch + step - this wait
                report.timings["prefetch_wait"] = round(waited, 3)
    except RunLockedError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    if report.demo_key:
        context.log.warning(DEMO_WARNING)
    for table, key in RAW_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata=_table_metadata(report, table))
    yield dg.MaterializeResult(
        asset_key=PERSONS_KEY,
        metadata={
            "path": report.paths["restricted.persons"],
            "rows": report.rows.get("roster", 0),
            "pseudonym_key": "DEMO KEY (not secret)" if report.demo_key else f"from {ENV_VAR}",
            "key_fingerprint": report.key_fingerprint,
        },
    )
    yield from _checks(report)


def _table_metadata(report: IngestReport, table: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"path": report.paths[table], "rows": report.rows[table]}
    if table == "submissions":
        meta |= {
            "files_in_landing": report.deliveries_in_landing,
            "archived_now": report.archived_now,
            "parsed_now": report.parsed_now,
            "accepted_files": report.accepted,
            "rejected_files": report.rejected,
            "timings_s": report.timings,
            "not_ingested": "\n".join(report.skipped) or "none",
            "person_conflicts": len(report.conflicts),
            "conflict_report": report.paths.get("conflicts", ""),
            "archive_high_water": report.archive_high_water,
        }
        if report.demo_key:
            meta["warning"] = DEMO_WARNING
    if table == "unit_status":
        meta |= {
            "units_by_status": report.statuses,
            "deadline": report.deadline.isoformat(),
            "deadline_from": report.deadline_source,
        }
    if table == "receipt_items":
        meta |= {"error_kinds": report.error_kinds, "warning_kinds": report.warning_kinds}
    return meta


def _checks(report: IngestReport) -> Iterator[dg.AssetCheckResult]:
    top_errors = dict(list(report.error_kinds.items())[:TOP_KINDS])
    yield dg.AssetCheckResult(
        check_name="submissions_validated",
        asset_key=RAW_KEYS["submissions"],
        passed=report.rejected == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "units_accepted": report.statuses.get("on_time", 0) + report.statuses.get("late", 0),
            "units_rejected": report.statuses.get("rejected", 0),
            "units_missing": report.statuses.get("missing", 0),
            "units_late": report.statuses.get("late", 0),
            "files_accepted": report.accepted,
            "files_rejected": report.rejected,
            "top_error_kinds": top_errors,
        },
    )
    yield dg.AssetCheckResult(
        check_name="every_file_accounted_for",
        asset_key=RAW_KEYS["submissions"],
        passed=report.unaccounted == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_in_landing": report.deliveries_in_landing,
            "unaccounted": report.unaccounted,
            "skipped": "\n".join(report.skipped) or "none",
        },
    )
    tables = audit.read_quarter(raw_dir(), report.quarter)
    status = tables["unit_status"]
    registry = set(load_active_registry().get_column("unit_code").to_list())
    codes = status.get_column("unit_code").to_list()
    yield dg.AssetCheckResult(
        check_name="every_unit_has_a_status",
        asset_key=RAW_KEYS["unit_status"],
        passed=len(codes) == len(set(codes)) and set(codes) == registry,
        metadata={"rows": status.height, "registry_units": len(registry)},
    )
    hits = audit.clear_national_ids(tables, audit.restricted_ids(restricted_dir(), report.quarter))
    yield dg.AssetCheckResult(
        check_name="no_clear_national_ids",
        asset_key=RAW_KEYS["roster"],
        passed=not hits,
        metadata={"cells_with_clear_ids": hits or "none", "tables_scanned": len(tables)},
    )
    yield dg.AssetCheckResult(
        check_name="pseudonym_key_configured",
        asset_key=PERSONS_KEY,
        passed=not report.demo_key,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"key_fingerprint": report.key_fingerprint, "env_var": ENV_VAR},
    )


ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.assets(ingest_quarter_assets),
    description="Ingest one quarter's submissions (re-run it when a late or corrected file arrives).",
)
