"""The deadline schedule and the landing sensor request the right quarter partitions."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.defs.automation.jobs import QUARTERLY_JOB
from pipelines.defs.automation.schedules import quarter_after_deadline
from pipelines.defs.automation.sensors import new_submissions
from pipelines.defs.automation.triggers import QUIET_SECONDS, decide, landing_state, quarter_due
from pipelines.defs.partitions import QUARTER_KEYS

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 10, 15, 23, 0, tzinfo=SHANGHAI), None),  # Q3's deadline is 15 October, end of day
        (datetime(2025, 10, 16, 6, 0, tzinfo=SHANGHAI), "2025Q3"),
        (datetime(2025, 12, 31, 6, 0, tzinfo=SHANGHAI), "2025Q3"),  # still the previous quarter
        (datetime(2026, 1, 16, 6, 0, tzinfo=SHANGHAI), "2025Q4"),  # across the year
        (datetime(2025, 1, 20, 6, 0, tzinfo=SHANGHAI), None),  # 2024Q4 is not a partition
    ],
)
def test_quarter_due(now: datetime, expected: str | None) -> None:
    due = quarter_due(now, QUARTER_KEYS)
    assert (due.key if due else None) == expected


def test_the_schedule_requests_the_previous_quarter_once() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 10, 16, 6, 0, tzinfo=SHANGHAI)
    )
    request = quarter_after_deadline(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2025Q3" and request.run_key == "2025Q3:after-deadline"
    early = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 10, 2, 6, 0, tzinfo=SHANGHAI))
    assert isinstance(quarter_after_deadline(early), dg.SkipReason)
    assert quarter_after_deadline.job_name == QUARTERLY_JOB


def _drop(folder: Path, name: str, age_seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(os.urandom(64))
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_decide_debounces_and_skips_busy_quarters(tmp_path: Path) -> None:
    q3 = tmp_path / "2025Q3"
    _drop(q3, "a.xlsx", 3600)
    first = decide([landing_state(q3)], None, time.time(), set())
    assert first.run == [] and first.cursor == {"2025Q3": landing_state(q3).fingerprint}
    _drop(q3, "b.xlsx", 5)  # still being copied
    waiting = decide([landing_state(q3)], first.cursor, time.time(), set())
    assert waiting.run == [] and waiting.waiting == ["2025Q3"] and waiting.cursor == first.cursor
    later = time.time() + QUIET_SECONDS + 1
    busy = decide([landing_state(q3)], first.cursor, later, {"2025Q3"})
    assert busy.run == [] and busy.waiting == ["2025Q3"]
    ready = decide([landing_state(q3)], first.cursor, later, set())
    assert [s.quarter for s in ready.run] == ["2025Q3"]
    again = decide([landing_state(q3)], ready.cursor, later, set())
    assert again.run == [] and again.waiting == []  # one request per content


def test_the_sensor_requests_a_rerun_of_the_quarter_with_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    landing = tmp_path / "landing"
    _drop(landing / "2025Q3", "371602-X-001.xlsx", 3600)
    _drop(landing / "2025Q4", "371602-X-001.xlsx", 3600)
    _drop(landing / "not-a-quarter", "x.xlsx", 3600)
    with dg.instance_for_test() as instance:
        first = new_submissions(dg.build_sensor_context(instance=instance))
        assert first.run_requests == []  # turning the sensor on does not re-run the past
        _drop(landing / "2025Q3", "371602-X-002.xlsx", 3600)  # a late submission, fully copied
        second = new_submissions(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert [r.partition_key for r in second.run_requests] == ["2025Q3"]
        assert second.run_requests[0].tags["trigger"] == "new-files"
        assert json.loads(second.cursor).keys() == {"2025Q3", "2025Q4"}
        third = new_submissions(dg.build_sensor_context(instance=instance, cursor=second.cursor))
        assert third.run_requests == []


def test_a_new_rules_year_is_scheduled_without_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.defs.partitions import quarter_keys
    from pipelines.paths import rules_dir

    rules = tmp_path / "rules"
    rules.mkdir()
    text = (rules_dir() / "2026.toml").read_text(encoding="utf-8")
    (rules / "2026.toml").write_text(text, encoding="utf-8")
    (rules / "2028.toml").write_text(
        text.replace("year = 2026", "year = 2028").replace('version = "2026"', 'version = "2028"'),
        encoding="utf-8",
    )
    monkeypatch.setenv("ASSESSMENT_RULES_DIR", str(rules))
    keys = quarter_keys()
    assert "2028Q1" in keys and "2027Q4" not in keys  # no rules for 2027: not a quarter the pipeline runs
    due = quarter_due(datetime(2028, 4, 16, 6, 0, tzinfo=SHANGHAI), keys)
    assert due is not None and due.key == "2028Q1"
    assert quarter_due(datetime(2027, 4, 16, 6, 0, tzinfo=SHANGHAI), keys) is None
