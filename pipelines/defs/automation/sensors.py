"""Re-run a quarter when new files land in its folder (late or corrected submissions).

Debounced: a quarter is requested only once its folder's fingerprint has stayed the same for
QUIET_SECONDS, timed from when this sensor first saw it (never from the senders' file times), and never
while a run of that quarter is queued, running or being cancelled, nor while another run (the operator
CLI) holds the data directory's run lock; one request per distinct folder content (run key). When every
run of a content failed (say the run lock was taken between request and ingest), it is requested again,
up to MAX_ATTEMPTS runs per content.
"""

import time

import dagster as dg

from pipelines.defs.automation.jobs import QUARTERLY_JOB, quarterly_pipeline
from pipelines.defs.automation.triggers import (
    QUIET_SECONDS,
    LandingState,
    SensorCursor,
    decide,
    landing_states,
    parse_cursor,
)
from pipelines.defs.dbt.assets import WRITER_TAGS
from pipelines.defs.partitions import QUARTER_KEYS
from pipelines.paths import data_dir, landing_dir
from pipelines.runlock import holder

# The landing content (fingerprint) a sensor run was asked for: how the sensor finds every run of it.
LANDING_TAG = "assessment/landing"

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,  # still running until it has stopped
]


RUNNING = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def running_writers(instance: dg.DagsterInstance, exclude_tag: str) -> list[str]:
    """Dagster runs writing the warehouse right now (tag warehouse/writer), except those tagged
    `exclude_tag` (the operator CLI's own jobs): one line each, naming the run."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=RUNNING, tags=WRITER_TAGS))
    return [
        f"Dagster run {r.run_id} ({r.job_name}, {r.tags.get('dagster/partition', '-')}, {r.status.value})"
        for r in runs
        if exclude_tag not in r.tags
    ]


def busy_quarters(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=QUARTERLY_JOB, statuses=ACTIVE))
    return {r.tags["dagster/partition"] for r in runs if "dagster/partition" in r.tags}


def failed_runs(instance: dg.DagsterInstance, state: LandingState) -> int:
    """How many runs this sensor made for the quarter's current content, if every one of them failed;
    0 when there is none or any succeeded, is active or was cancelled (an operator's decision)."""
    tags = {"dagster/partition": state.quarter, LANDING_TAG: state.fingerprint}
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=QUARTERLY_JOB, tags=tags))
    if all(r.status == dg.DagsterRunStatus.FAILURE for r in runs):
        return len(runs)
    return 0


def handled_failures(
    instance: dg.DagsterInstance, states: list[LandingState], cursor: SensorCursor | None
) -> dict[str, int]:
    """failed_runs for the quarters whose content is already handled (the only ones a retry is for)."""
    if cursor is None:
        return {}
    return {
        s.quarter: failed_runs(instance, s)
        for s in states
        if s.n_files > 0 and cursor.handled.get(s.quarter) == s.fingerprint
    }


@dg.sensor(
    job=quarterly_pipeline,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New or changed files in data/landing/<quarter>/ → re-run that quarter.",
)
def new_submissions(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    running = holder(data_dir())
    if running is not None:  # the cursor stays: the changed folders are seen again on a later tick
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"another run holds the data directory: {running.describe()}")
        )
    cursor, warning = parse_cursor(context.cursor)
    if warning is not None:
        context.log.warning(warning)
    states = landing_states(landing_dir(), QUARTER_KEYS)
    decision = decide(
        states,
        cursor,
        time.time(),
        busy_quarters(context.instance),
        handled_failures(context.instance, states, cursor),
    )
    requests = [
        dg.RunRequest(
            run_key=r.run_key,
            partition_key=r.quarter,
            tags={
                "trigger": "new-files",
                "landing/files": str(r.state.n_files),
                LANDING_TAG: r.state.fingerprint,
                "landing/attempt": str(r.attempt),
            },
        )
        for r in decision.run
    ]
    skip = None
    if not requests:
        skip = dg.SkipReason(
            f"waiting for {', '.join(decision.waiting)} (changed within the last {QUIET_SECONDS} s, "
            "or a run of it is queued or running)"
            if decision.waiting
            else "no new files"
        )
    return dg.SensorResult(run_requests=requests, cursor=decision.cursor.to_json(), skip_reason=skip)
