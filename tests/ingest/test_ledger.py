"""Current submission and unit status: the newest accepted file wins, the first one decides timeliness."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from pipelines.domain.quarters import TZ
from pipelines.ingest.ledger import mark_current, unit_status
from pipelines.ingest.schema import TZ_TIMESTAMP

DEADLINE = datetime(2025, 10, 15, 23, 59, 59, tzinfo=TZ)


def _subs(rows: list[tuple[str, str, timedelta, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_code": [r[0] for r in rows],
            "submission_id": [r[1] for r in rows],
            "arrival_at": [DEADLINE + r[2] for r in rows],
            "accepted": [r[3] for r in rows],
        },
        schema_overrides={"arrival_at": TZ_TIMESTAMP},
    )


def test_newest_accepted_is_current_and_a_later_rejection_leaves_it() -> None:
    subs = _subs(
        [
            ("A", "a1", timedelta(days=-5), True),
            ("A", "a2", timedelta(days=-2), True),
            ("A", "a3", timedelta(days=-1), False),  # later, but rejected
            ("B", "b1", timedelta(days=-3), False),
        ]
    )
    current = mark_current(subs).filter(pl.col("is_current"))
    assert current.select("unit_code", "submission_id").rows() == [("A", "a2")]


def test_statuses() -> None:
    subs = _subs(
        [
            ("ON", "x1", timedelta(days=-1), False),  # broken first ...
            ("ON", "x2", timedelta(hours=-1), True),  # ... corrected before the deadline
            ("ON", "x3", timedelta(days=3), True),  # a later correction does not make it late
            ("LATE", "y1", timedelta(seconds=1), True),
            ("REJ", "z1", timedelta(days=-4), False),
        ]
    )
    status = unit_status(subs, ["LATE", "MISS", "ON", "REJ"], "2025Q3", DEADLINE)
    got = {
        r["unit_code"]: (r["status"], r["current_submission_id"], r["files_seen"])
        for r in status.iter_rows(named=True)
    }
    assert got == {
        "ON": ("on_time", "x3", 3),
        "LATE": ("late", "y1", 1),
        "REJ": ("rejected", None, 1),
        "MISS": ("missing", None, 0),
    }
    assert status.schema["deadline"] == TZ_TIMESTAMP


def test_the_deadline_instant_itself_is_on_time() -> None:
    status = unit_status(_subs([("A", "a", timedelta(0), True)]), ["A"], "2025Q3", DEADLINE)
    assert status["status"].to_list() == ["on_time"]
