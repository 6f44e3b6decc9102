"""The deadline schedule and the landing sensor request the right quarter partitions."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.defs.automation.jobs import QUARTERLY_JOB
from pipelines.defs.automation.schedules import quarter_after_deadline
from pipelines.defs.automation.sensors import LANDING_TAG, busy_quarters, new_submissions
from pipelines.defs.automation.triggers import (
    MAX_ATTEMPTS,
    QUIET_SECONDS,
    decide,
    landing_state,
    missing_rules,
    quarter_due,
)
from pipelines.defs.partitions import QUARTER_KEYS

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Q3's deadline is 15 October, end of day: the latest quarter due is still Q2
        (datetime(2025, 10, 15, 23, 0, tzinfo=SHANGHAI), "2025Q2"),
        (datetime(2025, 10, 16, 6, 0, tzinfo=SHANGHAI), "2025Q3"),
        (datetime(2025, 12, 31, 6, 0, tzinfo=SHANGHAI), "2025Q3"),  # still the previous quarter
        (datetime(2026, 1, 16, 6, 0, tzinfo=SHANGHAI), "2025Q4"),  # across the year
        (datetime(2025, 4, 10, 6, 0, tzinfo=SHANGHAI), None),  # 2025Q1 not yet, 2024Q4 not a partition
        (datetime(2025, 1, 20, 6, 0, tzinfo=SHANGHAI), None),  # 2024Q4 is not a partition
    ],
)
def test_quarter_due(now: datetime, expected: str | None) -> None:
    due = quarter_due(now, QUARTER_KEYS)
    assert (due.key if due else None) == expected


def _add_run(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus, tags: dict[str, str]
) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name=QUARTERLY_JOB, run_id=str(uuid.uuid4()), status=status, tags=tags)
    instance.add_run(run)
    return run


def _tick(instance: dg.DagsterInstance, when: datetime) -> dg.RunRequest | dg.SkipReason:
    return quarter_after_deadline(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))


def test_the_schedule_requests_a_quarter_once_and_retries_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's run key only dedupes within one tick: every morning after the deadline asked again."""
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))  # nobody holds this data directory's lock
    with dg.instance_for_test() as instance:
        first = _tick(instance, datetime(2025, 10, 16, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(first, dg.RunRequest)
        assert first.partition_key == "2025Q3" and first.run_key == "2025Q3:after-deadline"
        # a run of the same quarter by hand or by the sensor is not the schedule's
        _add_run(instance, dg.DagsterRunStatus.SUCCESS, {"dagster/partition": "2025Q3"})
        started = _add_run(
            instance, dg.DagsterRunStatus.STARTED, {**first.tags, "dagster/partition": "2025Q3"}
        )
        next_day = _tick(instance, datetime(2025, 10, 17, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(next_day, dg.SkipReason) and started.run_id in str(next_day.skip_message)
        instance.report_run_failed(started)
        retry = _tick(instance, datetime(2025, 10, 18, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(retry, dg.RunRequest) and retry.partition_key == "2025Q3"
        done = _add_run(instance, dg.DagsterRunStatus.SUCCESS, {**retry.tags, "dagster/partition": "2025Q3"})
        later = _tick(instance, datetime(2025, 12, 31, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(later, dg.SkipReason) and done.run_id in str(later.skip_message)
        assert "\n" not in str(later.skip_message)
        assert isinstance(_tick(instance, datetime(2026, 1, 16, 6, 0, tzinfo=SHANGHAI)), dg.RunRequest)
    assert quarter_after_deadline.job_name == QUARTERLY_JOB


def test_the_schedule_says_why_nothing_is_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    with dg.instance_for_test() as instance:
        no_rules = _tick(instance, datetime(2025, 3, 31, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(no_rules, dg.SkipReason)
        message = str(no_rules.skip_message)
        assert "no rules file for 2024" in message and "2024Q4" in message and "not passed" not in message
        assert "\n" not in message
        early = _tick(instance, datetime(2025, 4, 10, 6, 0, tzinfo=SHANGHAI))
        assert isinstance(early, dg.SkipReason)
        assert re.search(
            r"2025Q1's submission deadline \(2025-04-15 .*\) has not passed yet", early.skip_message
        )


def _rules_with_deadline(folder: Path, days: int) -> Path:
    from pipelines.paths import rules_dir

    folder.mkdir()
    for year in (2025, 2026):
        text = (rules_dir() / f"{year}.toml").read_text(encoding="utf-8")
        text = re.sub(
            r"deadline_days_after_quarter_end = \d+", f"deadline_days_after_quarter_end = {days}", text
        )
        (folder / f"{year}.toml").write_text(text, encoding="utf-8")
    return folder


def test_a_deadline_after_the_next_quarter_ended_still_makes_its_quarter_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader allows a deadline up to 366 days after the quarter's end, not only within the next
    quarter: such quarters became due on no day at all."""
    monkeypatch.setenv("ASSESSMENT_RULES_DIR", str(_rules_with_deadline(tmp_path / "r100", 100)))
    first_due: dict[str, str] = {}
    day = datetime(2025, 4, 1, 6, 0, tzinfo=SHANGHAI)
    while day < datetime(2026, 10, 1, tzinfo=SHANGHAI):  # every morning's tick
        due = quarter_due(day, QUARTER_KEYS)
        if due is not None:
            first_due.setdefault(due.key, day.date().isoformat())
        day += timedelta(days=1)
    # 2025Q1 ended 31 March: deadline 9 July, end of day; 2026Q1's is 9 July 2026
    assert first_due == {
        "2025Q1": "2025-07-10",
        "2025Q2": "2025-10-09",
        "2025Q3": "2026-01-09",
        "2025Q4": "2026-04-11",
        "2026Q1": "2026-07-10",
    }
    monkeypatch.setenv("ASSESSMENT_RULES_DIR", str(_rules_with_deadline(tmp_path / "r366", 366)))
    assert quarter_due(datetime(2026, 4, 1, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS) is None
    assert quarter_due(datetime(2026, 4, 2, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS).key == "2025Q1"
    assert quarter_due(datetime(2026, 7, 2, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS).key == "2025Q2"


def test_a_quarter_due_after_a_later_one_is_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2025 gives 120 days after the quarter, 2026 only 15: 2026Q1 falls due (15 April) before 2025Q4
    (30 April); each is the quarter due once its own deadline is the last one passed."""
    rules = _rules_with_deadline(tmp_path / "r120", 120)
    text = (rules / "2026.toml").read_text(encoding="utf-8")
    (rules / "2026.toml").write_text(text.replace("quarter_end = 120", "quarter_end = 15"), encoding="utf-8")
    monkeypatch.setenv("ASSESSMENT_RULES_DIR", str(rules))
    assert quarter_due(datetime(2026, 4, 16, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS).key == "2026Q1"
    assert quarter_due(datetime(2026, 5, 1, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS).key == "2025Q4"
    assert quarter_due(datetime(2026, 7, 16, 6, 0, tzinfo=SHANGHAI), QUARTER_KEYS).key == "2026Q2"


def _drop(folder: Path, name: str, age_seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(os.urandom(64))
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_decide_waits_for_a_quiet_period_on_its_own_clock_and_skips_busy_quarters(tmp_path: Path) -> None:
    q3 = tmp_path / "2025Q3"
    _drop(q3, "a.xlsx", 3600)
    now = time.time()
    first = decide([landing_state(q3)], None, now, set())
    assert first.run == [] and first.cursor.handled == {"2025Q3": landing_state(q3).fingerprint}
    _drop(q3, "b.xlsx", 3600)  # its time says long ago (rsync keeps the sender's): the sensor still waits
    seen = decide([landing_state(q3)], first.cursor, now, set())
    assert seen.run == [] and seen.waiting == ["2025Q3"] and seen.cursor.handled == first.cursor.handled
    _drop(q3, "c.xlsx", -86400)  # dated tomorrow, then unchanged: waits QUIET_SECONDS from this sight
    changed = decide([landing_state(q3)], seen.cursor, now + 60, set())
    assert changed.run == [] and changed.cursor.seen["2025Q3"][1] == now + 60
    assert decide([landing_state(q3)], changed.cursor, now + 60 + QUIET_SECONDS - 1, set()).run == []
    later = now + 60 + QUIET_SECONDS
    busy = decide([landing_state(q3)], changed.cursor, later, {"2025Q3"})
    assert busy.run == [] and busy.waiting == ["2025Q3"]
    ready = decide([landing_state(q3)], busy.cursor, later, set())
    assert [(r.quarter, r.attempt) for r in ready.run] == [("2025Q3", 1)]
    assert ready.cursor.seen == {} and ready.cursor.handled == {"2025Q3": landing_state(q3).fingerprint}
    again = decide([landing_state(q3)], ready.cursor, later, set())
    assert again.run == [] and again.waiting == []  # one request per content


def _aged(cursor: str, seconds: float) -> str:
    """The cursor as a tick `seconds` later sees it: every pending change first seen that much earlier."""
    body = json.loads(cursor)
    body["seen"] = {q: [fp, first_seen - seconds] for q, (fp, first_seen) in body["seen"].items()}
    return json.dumps(body)


def _sense(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    return new_submissions(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_the_sensor_requests_a_rerun_of_the_quarter_with_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    landing = tmp_path / "landing"
    _drop(landing / "2025Q3", "371602-X-001.xlsx", 3600)
    _drop(landing / "2025Q4", "371602-X-001.xlsx", 3600)
    _drop(landing / "not-a-quarter", "x.xlsx", 3600)
    with dg.instance_for_test() as instance:
        first = _sense(instance, None)
        assert first.run_requests == []  # turning the sensor on does not re-run the past
        _drop(landing / "2025Q3", "371602-X-002.xlsx", 3600)  # a late submission, copied keeping its time
        second = _sense(instance, first.cursor)
        assert second.run_requests == []  # first seen now: maybe more is on its way
        third = _sense(instance, _aged(second.cursor, QUIET_SECONDS + 1))
        assert [r.partition_key for r in third.run_requests] == ["2025Q3"]
        assert third.run_requests[0].tags["trigger"] == "new-files"
        assert json.loads(third.cursor)["handled"].keys() == {"2025Q3", "2025Q4"}
        fourth = _sense(instance, third.cursor)
        assert fourth.run_requests == []


def test_a_future_dated_file_does_not_let_a_run_start_mid_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    q3 = tmp_path / "landing" / "2025Q3"
    _drop(q3, "371602-X-001.xlsx", 3600)
    with dg.instance_for_test() as instance:
        first = _sense(instance, None)
        _drop(q3, "371602-X-002.xlsx", -86400)  # the sender's clock is a day ahead
        second = _sense(instance, first.cursor)
        assert second.run_requests == [] and "2025Q3" in str(second.skip_reason.skip_message)
        _drop(q3, "371602-X-003.xlsx", 1)  # the copy goes on
        third = _sense(instance, _aged(second.cursor, 60))
        assert third.run_requests == []  # changed since: the wait starts again
        assert [
            r.partition_key for r in _sense(instance, _aged(third.cursor, QUIET_SECONDS)).run_requests
        ] == ["2025Q3"]


def test_an_empty_quarter_folder_is_no_new_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    landing = tmp_path / "landing"
    _drop(landing / "2025Q3", "371602-X-001.xlsx", 3600)
    with dg.instance_for_test() as instance:
        first = _sense(instance, None)
        (landing / "2025Q4" / "371602-X-001").mkdir(parents=True)  # a unit's folder, nothing in it yet
        second = _sense(instance, first.cursor)
        assert second.run_requests == []
        third = _sense(instance, _aged(second.cursor, QUIET_SECONDS + 1))
        assert third.run_requests == [] and "2025Q4" not in json.loads(third.cursor)["handled"]
        _drop(landing / "2025Q4" / "371602-X-001", "a.xlsx", 3600)  # its first file is new content
        fourth = _sense(instance, third.cursor)
        fifth = _sense(instance, _aged(fourth.cursor, QUIET_SECONDS + 1))
        assert [r.partition_key for r in fifth.run_requests] == ["2025Q4"]


def test_the_sensor_reads_the_first_cursor_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed sensors hold {quarter: fingerprint}."""
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    q3 = tmp_path / "landing" / "2025Q3"
    _drop(q3, "371602-X-001.xlsx", 3600)
    with dg.instance_for_test() as instance:
        same = _sense(instance, json.dumps({"2025Q3": landing_state(q3).fingerprint}))
        assert same.run_requests == [] and json.loads(same.cursor)["seen"] == {}
        changed = _sense(instance, json.dumps({"2025Q3": "0123456789abcdef"}))
        assert changed.run_requests == [] and json.loads(changed.cursor)["handled"] == {
            "2025Q3": "0123456789abcdef"
        }
        assert [
            r.partition_key for r in _sense(instance, _aged(changed.cursor, QUIET_SECONDS)).run_requests
        ] == ["2025Q3"]


def test_a_failed_run_of_new_files_is_retried_a_few_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run lock may be taken between the request and the ingest step: that run fails, and the files
    it was for must not wait for the next submission."""
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    q3 = tmp_path / "landing" / "2025Q3"
    _drop(q3, "371602-X-001.xlsx", 3600)
    with dg.instance_for_test() as instance:
        cursor = _sense(instance, None).cursor
        _drop(q3, "371602-X-002.xlsx", 3600)
        cursor = _aged(_sense(instance, cursor).cursor, QUIET_SECONDS)
        keys = []
        for _ in range(MAX_ATTEMPTS):
            result = _sense(instance, cursor)
            (request,) = result.run_requests
            keys.append(request.run_key)
            assert request.tags[LANDING_TAG] == landing_state(q3).fingerprint
            run = _add_run(
                instance, dg.DagsterRunStatus.STARTED, {**request.tags, "dagster/partition": "2025Q3"}
            )
            cursor = result.cursor
            assert _sense(instance, cursor).run_requests == []  # not while it runs
            instance.report_run_failed(run)
        assert len(set(keys)) == MAX_ATTEMPTS  # a new run key each time: Dagster would drop a repeat
        assert _sense(instance, cursor).run_requests == []  # three failures: left to the operator
        _drop(q3, "371602-X-003.xlsx", 3600)  # new content starts afresh
        result = _sense(instance, _aged(_sense(instance, cursor).cursor, QUIET_SECONDS))
        (request,) = result.run_requests
        assert request.run_key.count(":") == 1  # attempt 1 of the new content
        _add_run(instance, dg.DagsterRunStatus.SUCCESS, {**request.tags, "dagster/partition": "2025Q3"})
        assert _sense(instance, result.cursor).run_requests == []


@pytest.mark.parametrize("cursor", ["{not json", '["2025Q3"]', "null", '{"handled": {"2025Q3": 3}}'])
def test_a_damaged_cursor_is_treated_as_none_with_a_warning(
    cursor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    q3 = tmp_path / "landing" / "2025Q3"
    _drop(q3, "371602-X-001.xlsx", 3600)
    with dg.instance_for_test() as instance:
        result = _sense(instance, cursor)
        assert result.run_requests == []  # record only, as when first switched on
        assert json.loads(result.cursor)["handled"] == {"2025Q3": landing_state(q3).fingerprint}
    assert "unreadable sensor cursor" in capsys.readouterr().err


def test_a_run_being_cancelled_keeps_its_quarter_busy() -> None:
    with dg.instance_for_test() as instance:
        _add_run(instance, dg.DagsterRunStatus.CANCELING, {"dagster/partition": "2025Q3"})
        _add_run(instance, dg.DagsterRunStatus.CANCELED, {"dagster/partition": "2025Q4"})
        assert busy_quarters(instance) == {"2025Q3"}


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
    # in 2027 the latest quarter due is 2026's last one (already run by then); 2027Q1 is never due
    april_2027 = datetime(2027, 4, 16, 6, 0, tzinfo=SHANGHAI)
    assert quarter_due(april_2027, keys).key == "2026Q4"
    assert "no rules file for 2027" in (missing_rules(april_2027, keys) or "")
    assert quarter_due(datetime(2028, 1, 16, 6, 0, tzinfo=SHANGHAI), keys).key == "2026Q4"
