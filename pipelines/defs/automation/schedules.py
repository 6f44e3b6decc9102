"""Run the previous quarter once its submission deadline has passed (checked daily at 06:00 Beijing time).

The run key makes it one run per quarter however many ticks see the deadline passed; late or corrected
submissions after that are the sensor's job. A tick while another run holds the data directory's run
lock is skipped; the next day's tick asks again.
"""

import dagster as dg

from pipelines.defs.automation.jobs import quarterly_pipeline
from pipelines.defs.automation.triggers import quarter_due
from pipelines.defs.partitions import QUARTER_KEYS
from pipelines.paths import data_dir
from pipelines.runlock import holder


@dg.schedule(
    job=quarterly_pipeline,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The previous quarter, the morning after its submission deadline.",
)
def quarter_after_deadline(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    running = holder(data_dir())
    if running is not None:
        return dg.SkipReason(f"another run holds the data directory: {running.describe()}")
    quarter = quarter_due(context.scheduled_execution_time, QUARTER_KEYS)
    if quarter is None:
        return dg.SkipReason("the previous quarter's submission deadline has not passed yet")
    return dg.RunRequest(
        run_key=f"{quarter.key}:after-deadline",
        partition_key=quarter.key,
        tags={"trigger": "schedule"},
    )
