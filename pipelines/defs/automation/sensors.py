"""Re-run a quarter when new files land in its folder (late or corrected submissions).

Debounced: a quarter is requested only when its folder has been quiet for QUIET_SECONDS, and never while
a run of that quarter is queued or running, nor while another run (the operator CLI) holds the data
directory's run lock; one request per distinct folder content (run key).
"""

import json
import time

import dagster as dg

from pipelines.defs.automation.jobs import QUARTERLY_JOB, quarterly_pipeline
from pipelines.defs.automation.triggers import decide, landing_states
from pipelines.defs.dbt.assets import WRITER_TAGS
from pipelines.defs.partitions import QUARTER_KEYS
from pipelines.paths import data_dir, landing_dir
from pipelines.runlock import holder

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
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
    cursor = json.loads(context.cursor) if context.cursor else None
    decision = decide(
        landing_states(landing_dir(), QUARTER_KEYS), cursor, time.time(), busy_quarters(context.instance)
    )
    requests = [
        dg.RunRequest(
            run_key=f"{s.quarter}:{s.fingerprint}",
            partition_key=s.quarter,
            tags={"trigger": "new-files", "landing/files": str(s.n_files)},
        )
        for s in decision.run
    ]
    skip = None
    if not requests:
        skip = dg.SkipReason(
            f"waiting for {', '.join(decision.waiting)} (still being written or already running)"
            if decision.waiting
            else "no new files"
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(decision.cursor), skip_reason=skip)
