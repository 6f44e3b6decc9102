"""Arrival is the receiving side's: the receiving log or first sight, never the file's own date.

Each test copies one small generated quarter (its landing area and receiving log) into a fresh data
directory and runs the real ingestion over it, once or several times as files land in between.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.domain.quarters import TZ
from pipelines.ingest.discover import sha256_file
from pipelines.ingest.receiving import LOG_NAME, Entry, append_log, read_log
from tests.ingest.arrival_helpers import (
    EARLY_NS,
    FUTURE_NS,
    Q,
    current_file,
    data_dir,
    fresh,
    ledger,
    run,
    status,
    template,
    units,
    variant,
    workbook,
)

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def tmpl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six units of 2025Q3, one of them delivering after the deadline (per its receiving log)."""
    return template(tmp_path_factory.mktemp("arrival_template"), units=6, late=0.5)


def _truth(root: Path) -> pl.DataFrame:
    return pl.read_csv(root / "ground_truth" / Q / "submissions.csv", infer_schema=False)


def _late_unit(root: Path) -> str:
    (unit,) = _truth(root).filter(pl.col("expected_status") == "late")["unit_code"].to_list()
    return unit


def _on_time_units(root: Path) -> list[str]:
    return sorted(_truth(root).filter(pl.col("expected_status") == "on_time")["unit_code"].to_list())


def test_the_receiving_log_gives_arrivals_and_file_dates_count_for_nothing(
    tmpl: Path, tmp_path: Path
) -> None:
    root = fresh(tmpl, tmp_path)
    for path in (root / "landing" / Q).rglob("*.xlsx"):
        os.utime(path, ns=(FUTURE_NS, FUTURE_NS))  # every sender claims 2099
    report = run(root)
    truth = _truth(root)
    arrivals = {u: datetime.fromisoformat(a) for u, a in truth.select("unit_code", "arrival").iter_rows()}
    got = dict(ledger(root).select("unit_code", "arrival_at").iter_rows())
    assert got == arrivals
    assert status(root) == dict(truth.select("unit_code", "expected_status").iter_rows())
    assert report.statuses["late"] == 1 and report.statuses["on_time"] == 5
    assert report.skipped == []  # the log and the generator's marker are not stray


def test_a_file_dated_2099_does_not_beat_a_later_real_correction(tmpl: Path, tmp_path: Path) -> None:
    root = fresh(tmpl, tmp_path)
    run(root)
    unit = _on_time_units(root)[0]
    folder = root / "landing" / Q / unit
    variant(workbook(root, unit), folder / "抢先.xlsx", "未来", FUTURE_NS)
    run(root)
    assert current_file(root, unit) == "抢先.xlsx"  # it is the newest file seen, whatever its date
    future = ledger(root).filter(pl.col("file_name") == "抢先.xlsx")["arrival_at"][0]
    assert future.year < 2099

    # The real correction comes later, in a sub-folder, dated long ago by its sender.
    variant(workbook(root, unit), folder / "更正" / "更正.xlsx", "更正人", EARLY_NS)
    report = run(root)
    frame = ledger(root).filter(pl.col("unit_code") == unit)
    assert current_file(root, unit) == "更正/更正.xlsx"
    assert frame.filter(pl.col("file_name") == "抢先.xlsx")["arrival_at"][0] == future  # first sight stays
    assert frame.filter(pl.col("file_name") == "更正/更正.xlsx")["arrival_at"][0] > future
    receipt = frame.filter(pl.col("file_name") == "更正/更正.xlsx")["receipt_path"][0]
    assert "更正/更正.xlsx" in (root / receipt).read_text(encoding="utf-8")
    assert report.unaccounted == 0


def test_a_late_file_with_an_early_date_is_late_and_a_unit_cannot_forge_the_log(
    tmpl: Path, tmp_path: Path
) -> None:
    root = fresh(tmpl, tmp_path)
    landing = root / "landing" / Q
    unlogged, misdated = _on_time_units(root)[:2]
    late = _late_unit(root)
    log_path = landing / LOG_NAME
    lines = log_path.read_text(encoding="utf-8").splitlines()
    misdated_book = workbook(root, misdated)
    kept = [line for line in lines if not line.startswith((unlogged + ",", misdated + ","))]
    early = datetime(2025, 10, 1, 9, 0, tzinfo=TZ).isoformat()
    kept += [
        # An early time for other bytes than the file that is there: ignored.
        f"{misdated},{misdated_book.name},{'0' * 64},{early}",
        # A file that is not in the landing area: ignored.
        f"{misdated},幽灵.xlsx,{'1' * 64},{early}",
    ]
    log_path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    for unit in (unlogged, misdated):
        os.utime(workbook(root, unit), ns=(EARLY_NS, EARLY_NS))
    # The late unit writes its own "receiving log" with an early time for its real file.
    late_book = workbook(root, late)
    (landing / late / LOG_NAME).write_text(
        f"unit_code,path,sha256,received_at\n{late},{late_book.name},{sha256_file(late_book)},{early}\n",
        encoding="utf-8",
    )
    before = datetime.now(TZ)
    run(root)
    got = status(root)
    assert got[unlogged] == "late" and got[misdated] == "late"  # seen first now, after the deadline
    first_seen = dict(ledger(root).select("unit_code", "arrival_at").unique("unit_code").iter_rows())
    assert first_seen[unlogged] >= before - timedelta(seconds=1)
    assert got[late] == "late"
    assert current_file(root, late) == late_book.name
    forged = ledger(root).filter(pl.col("file_name") == LOG_NAME)
    assert forged["unit_code"].to_list() == [late] and not forged["accepted"].any()  # a file with a receipt
    others = set(_on_time_units(root)) - {unlogged, misdated}
    assert all(got[u] == "on_time" for u in others)


def test_equal_arrival_times_follow_the_order_of_first_sight(tmpl: Path, tmp_path: Path) -> None:
    root = fresh(tmpl, tmp_path)
    run(root)
    landing = root / "landing" / Q
    when = datetime(2025, 10, 15, 23, 50, tzinfo=TZ)  # after every first file, before the deadline
    winners = {}
    for unit in _on_time_units(root)[:2]:
        made = [
            variant(workbook(root, unit), landing / unit / f"{name}.xlsx", name, FUTURE_NS)
            for name in ("甲", "乙")
        ]
        # The log lists both at one instant; its later line is the file received later. It is the one
        # with the smaller hash: settling the tie by hash (as before) would pick the other.
        last = min(made, key=sha256_file)
        first = next(p for p in made if p != last)
        append_log(landing, [Entry(unit, p.name, sha256_file(p), when) for p in (first, last)])
        winners[unit] = last.name
    run(root)
    for unit, name in winners.items():
        assert current_file(root, unit) == name
    # The same instant again in a later run: the file first seen later wins.
    unit = next(iter(winners))
    third = variant(workbook(root, unit), landing / unit / "丙.xlsx", "丙", EARLY_NS)
    append_log(landing, [Entry(unit, third.name, sha256_file(third), when)])
    run(root)
    assert current_file(root, unit) == "丙.xlsx"
    assert ledger(root).filter(pl.col("unit_code") == unit)["arrival_at"].n_unique() == 2  # original + when


def test_sub_folders_count_stray_entries_are_listed_and_reserved_names_are_neither(
    tmpl: Path, tmp_path: Path
) -> None:
    root = fresh(tmpl, tmp_path)
    landing = root / "landing" / Q
    unit, other = _on_time_units(root)[:2]
    book = workbook(root, unit)
    variant(book, landing / unit / "更正" / "第二次" / "x.xlsx", "子文件夹")
    (landing / unit / "更正" / "说明.txt").write_text("改了填报人", encoding="utf-8")
    (landing / "备份").mkdir()
    variant(book, landing / "备份" / "旧.xlsx", "备份")
    (landing / "说明.txt").write_text("季度层的文件", encoding="utf-8")
    variant(book, landing / "371699-X-999" / "y.xlsx", "无此单位")
    variant(workbook(root, other), landing / "_reviews" / "复核登记.xlsx", "复核")
    (root / "landing" / "备份").mkdir()
    (root / "landing" / "readme.txt").write_text("x", encoding="utf-8")

    report = run(root)
    skipped = "\n".join(report.skipped)
    for stray in ("备份", "说明.txt", "371699-X-999"):
        assert f"{Q}/{stray}:" in skipped
    assert "_reviews" not in skipped and LOG_NAME not in skipped and len(report.skipped) == 3
    frame = ledger(root)
    assert set(frame["unit_code"]) == set(units(root)) - {"备份", "371699-X-999", "_reviews"}
    assert current_file(root, unit) == "更正/第二次/x.xlsx"
    note = frame.filter(pl.col("file_name") == "更正/说明.txt")
    assert note.height == 1 and not note["accepted"][0] and (root / note["receipt_path"][0]).exists()
    assert report.unaccounted == 0

    from pipelines.ingest.discover import quarter_folders

    quarters, stray = quarter_folders(root / "landing")
    assert quarters == [Q] and len(stray) == 2
    with data_dir(root):
        from pipelines.ops import landed_quarters

        assert landed_quarters() == [Q]


def test_a_damaged_receiving_log_is_read_line_by_line(tmp_path: Path) -> None:
    landing = tmp_path / Q
    landing.mkdir()
    sha = "a" * 64
    (landing / LOG_NAME).write_text(
        "unit_code,path,sha256,received_at\n"
        f"371602-X-017,a.xlsx,{sha},2025-10-09T10:00:00+08:00\n"
        f"371602-X-017,b.xlsx,{sha},not a time\n"
        "371602-X-017,c.xlsx,short,2025-10-09T10:00:00\n"
        f"371602-X-017,d.xlsx,{sha},2025-10-09T10:00:00\n"
        f"371602-X-017,a.xlsx,{sha},2025-10-01T10:00:00+08:00\n",
        encoding="utf-8",
    )
    log = read_log(landing)
    assert len(log.notes) == 2
    a = log.lookup("371602-X-017", "a.xlsx", sha)
    d = log.lookup("371602-X-017", "d.xlsx", sha)
    assert a is not None and d is not None
    assert a[0] == d[0]  # a time without a zone is Beijing time; a repeated line cannot move a's time
    (landing / LOG_NAME).unlink()
    (landing / LOG_NAME).symlink_to(tmp_path / "elsewhere.csv")
    assert read_log(landing).times == {}


def test_a_receiving_log_line_too_long_for_csv_or_in_gbk_or_implausible_fails_only_itself(
    tmp_path: Path,
) -> None:
    """Found by an independent probe: a 200,000-character line stopped the quarter's ingestion; a GBK log
    decoded as garbage made every unit late for good; a 2099 time pinned a stale submission as current."""
    landing = tmp_path / Q
    landing.mkdir()
    sha = "a" * 64
    good = f"371602-X-017,更正/a.xlsx,{sha},2025-10-09T10:00:00+08:00\n"
    lines = (
        "unit_code,path,sha256,received_at\n"
        + good
        + f"371602-X-017,{'长' * 200_000}.xlsx,{sha},2025-10-09T10:00:00+08:00\n"
        + f"371602-X-017,b.xlsx,{sha},2099-01-01T10:00:00+08:00\n"  # later than now
        + f"371602-X-017,c.xlsx,{sha},2025-01-01T10:00:00+08:00\n"  # before 2025Q3 began
        + f"371602-X-017,d.xlsx,{sha},2025-07-01T00:00:00+08:00\n"  # the quarter's first instant
    )
    for encoding in ("utf-8", "gb18030"):
        (landing / LOG_NAME).write_bytes(lines.encode(encoding))
        log = read_log(landing)
        assert log.lookup("371602-X-017", "更正/a.xlsx", sha) is not None, (encoding, log.notes)
        assert log.lookup("371602-X-017", "d.xlsx", sha) is not None
        for path in ("b.xlsx", "c.xlsx"):
            assert log.lookup("371602-X-017", path, sha) is None
        assert len(log.notes) == 3, log.notes  # the long line, 2099, before the quarter
        assert any("2099" in note for note in log.notes)
    (landing / LOG_NAME).write_bytes(b"unit_code,path,sha256,received_at\n\xff\xfe\x80\x81,x,y,z\n")
    assert read_log(landing).times == {} and "编码" in read_log(landing).notes[0]


def test_a_receiving_log_entry_that_matches_no_file_is_noted(tmpl: Path, tmp_path: Path) -> None:
    root = fresh(tmpl, tmp_path)
    unit = units(root)[0]
    append_log(
        root / "landing" / Q,
        [Entry(unit, "没有这个文件.xlsx", "b" * 64, datetime(2025, 10, 9, 10, tzinfo=TZ))],
    )
    report = run(root)
    assert any("没有这个文件.xlsx" in note for note in report.receiving_notes), report.receiving_notes


def test_the_generator_logs_every_delivery_it_lands(tmpl: Path) -> None:
    """The receiving log the generator writes holds each landed file, with its bytes' hash and the
    planned arrival of the ground truth."""
    landing = tmpl / "landing" / Q
    log = read_log(landing)
    assert log.notes == []
    truth = _truth(tmpl).filter(pl.col("delivery") != "0")
    assert truth.height > 0
    for row in truth.iter_rows(named=True):
        path = landing / row["unit_code"] / row["file_name"]
        hit = log.lookup(row["unit_code"], row["file_name"], sha256_file(path))
        assert hit is not None, row["file_name"]
        assert hit[0] == int(datetime.fromisoformat(row["arrival"]).timestamp()) * 10**9


def test_a_receiving_sweep_records_first_sight_before_the_quarter_is_run(tmpl: Path, tmp_path: Path) -> None:
    """Without a receiving log, the sweep (python -m pipelines.ingest.receive) fixes arrival when a
    file lands; the quarter's run later keeps that arrival."""
    from pipelines.ingest.receive import main as receive

    root = fresh(tmpl, tmp_path)
    (root / "landing" / Q / LOG_NAME).unlink()
    unit = _on_time_units(root)[0]
    with data_dir(root):
        swept_before = datetime.now(TZ)
        assert receive(["--quarter", Q]) == 0
        swept_after = datetime.now(TZ)
    assert not (root / "ingest_cache").exists() and not (root / "raw").exists()  # archived only
    run(root)
    arrival = ledger(root).filter(pl.col("unit_code") == unit)["arrival_at"][0]
    assert swept_before - timedelta(seconds=1) <= arrival <= swept_after
