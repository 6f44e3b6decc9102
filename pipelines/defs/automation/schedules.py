"""Run a quarter once its submission deadline has passed (checked daily at 06:00 Beijing time).

Each morning's tick looks for the quarter whose deadline passed most recently (triggers.quarter_due) and
asks for it unless this schedule already has a run of that quarter that succeeded or is queued, running
or being cancelled: one run per quarter, however many mornings follow the deadline. Dagster's run key
only keeps one tick from asking twice, so the instance's run list is what remembers. A failed or
cancelled run is asked for again by the next morning's tick. Late or corrected submissions after that
are the sensor's job. A tick while another run holds the data directory's run lock is skipped; the next
day's tick asks again.
"""

import dagster as dg

from pipelines.defs.automation.jobs import QUARTERLY_JOB, quarterly_pipeline
from pipelines.defs.automation.triggers import missing_rules, not_due_reason, quarter_due
from pipelines.defs.partitions import QUARTER_KEYS
from pipelines.paths import data_dir
from pipelines.runlock import holder

SCHEDULE_TAGS = {"trigger": "schedule"}

# A quarter the schedule has a run of in one of these is not asked for again.
DONE_OR_UNDER_WAY = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def scheduled_run(instance: dg.DagsterInstance, quarter_key: str) -> dg.DagsterRun | None:
    """This schedule's latest run of the quarter that succeeded or is still under way, if any."""
    tags = {"dagster/partition": quarter_key, **SCHEDULE_TAGS}
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=QUARTERLY_JOB, tags=tags, statuses=DONE_OR_UNDER_WAY), limit=1
    )
    return runs[0] if runs else None


@dg.schedule(
    job=quarterly_pipeline,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The quarter whose submission deadline passed most recently, once, the morning after it.",
)
def quarter_after_deadline(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    running = holder(data_dir())
    if running is not None:
        return dg.SkipReason(f"another run holds the data directory: {running.describe()}")
    now = context.scheduled_execution_time
    quarter = quarter_due(now, QUARTER_KEYS)
    if quarter is None:
        return dg.SkipReason(not_due_reason(now, QUARTER_KEYS))
    earlier = scheduled_run(context.instance, quarter.key)
    if earlier is not None:
        missing = missing_rules(now, QUARTER_KEYS)
        return dg.SkipReason(
            f"{quarter.key} already has run {earlier.run_id} from this schedule ({earlier.status.value}); "
            "the schedule asks again only after a failed or cancelled run"
            + (f"; {missing}" if missing is not None else "")
        )
    return dg.RunRequest(
        run_key=f"{quarter.key}:after-deadline",
        partition_key=quarter.key,
        tags=dict(SCHEDULE_TAGS),
    )
