"""A person listed by two units in one quarter: the later arrival is refused, the holder keeps its data.

The end-to-end tests run the real ingestion over a small generated quarter into which a unit drops a
workbook whose roster lists another unit's person; the unit tests replay `conflicts.resolve` directly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from pipelines.domain import national_id
from pipelines.ingest.archive import ArchiveRecord
from pipelines.ingest.conflicts import resolve
from pipelines.ingest.issues import mask_national_id
from pipelines.ingest.pseudonym import load_key, person_keys
from pipelines.ingest.receipt import receipt_file_name
from tests.ingest.arrival_helpers import (
    KEY,
    Q,
    current_file,
    fresh,
    ledger,
    roster_person,
    run,
    status,
    template,
    units,
    with_person,
    workbook,
)

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)

NEW_PERSON = national_id.make("371602", "19900101", 777)


@pytest.fixture(scope="module")
def tmpl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template(tmp_path_factory.mktemp("conflict_template"), units=6)


def _roster(root: Path, unit: str) -> pl.DataFrame:
    frame = pl.read_parquet(root / "raw" / "roster" / f"{Q}.parquet")
    return frame.filter(pl.col("unit_code") == unit).drop("submission_id", strict=False).sort("person_code")


def _key(nid: str) -> str:
    (key,) = person_keys(load_key({"ASSESSMENT_PSEUDONYM_KEY": KEY}), [nid])
    assert key is not None
    return key


def _conflict_lines(root: Path) -> list[dict[str, str]]:
    with (root / "receipts" / Q / "_conflicts.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_unit_listing_another_units_person_is_refused_and_the_holder_keeps_its_data(
    tmpl: Path, tmp_path: Path
) -> None:
    root = fresh(tmpl, tmp_path)
    run(root)
    holder, claimer = units(root)[:2]
    before_status, before_rows = status(root), _roster(root, holder)
    person = roster_person(workbook(root, holder))
    nid = str(person["身份证号"])
    with_person(workbook(root, claimer), root / "landing" / Q / claimer / "补报.xlsx", person["姓名"], nid)

    report = run(root)
    frame = ledger(root)
    new = frame.filter((pl.col("unit_code") == claimer) & (pl.col("file_name") == "补报.xlsx"))
    assert new.height == 1 and not new["accepted"][0] and not new["is_current"][0]
    assert current_file(root, claimer) == workbook(root, claimer).name  # its earlier file stays
    assert status(root) == before_status  # nobody's status moved, the holder's least of all
    assert _roster(root, holder).equals(before_rows)

    page = (root / new["receipt_path"][0]).read_text(encoding="utf-8")
    assert holder in page and "已退回" in page
    assert nid not in page and mask_national_id(nid) not in page and nid[-4:] + "<" not in page
    items = pl.read_parquet(root / "raw" / "receipt_items" / f"{Q}.parquet").filter(
        pl.col("kind") == "person_in_two_units"
    )
    assert items["unit_code"].to_list() == [claimer]  # the holder's receipt says nothing of it
    assert items["value"].to_list() == [None]
    assert items["excel_row"][0] == person_row(root, claimer)
    assert f"{holder}（{unit_name(holder)}）" in items["message"][0]  # the other unit, code and name

    (line,) = _conflict_lines(root)
    assert (line["holding_unit_code"], line["rejected_unit_code"]) == (holder, claimer)
    assert line["rejected_submission_id"] == new["submission_id"][0]
    assert line["person_key"] == _key(nid) and line["rejected_file"] == "补报.xlsx"
    assert nid not in (root / "receipts" / Q / "_conflicts.csv").read_text(encoding="utf-8")
    assert [c.rejected_unit_code for c in report.conflicts] == [claimer]
    assert receipt_file_name("补报.xlsx", new["submission_id"][0], "xlsx") in new["receipt_path"][0]


def person_row(root: Path, unit: str) -> int:
    """The Excel row of the added person in the unit's 补报/更正 file: the last roster row."""
    import openpyxl

    folder = root / "landing" / Q / unit
    (path,) = [p for p in folder.glob("*.xlsx") if not p.name.endswith("平时考核.xlsx")]
    book = openpyxl.load_workbook(path, read_only=True)
    rows = book["人员名册"].max_row
    book.close()
    return int(rows)


def unit_name(code: str) -> str:
    from pipelines.domain.registry import load_active_registry

    frame = load_active_registry()
    return str(frame.filter(pl.col("unit_code") == code)["unit_name"][0])


def test_the_later_arrival_loses_even_when_it_is_the_units_own_newer_file(tmpl: Path, tmp_path: Path) -> None:
    root = fresh(tmpl, tmp_path)
    run(root)
    first, second = units(root)[:2]
    # The second unit takes on a new person first; its file is accepted.
    with_person(workbook(root, second), root / "landing" / Q / second / "更正.xlsx", "新同志", NEW_PERSON)
    run(root)
    assert current_file(root, second) == "更正.xlsx"
    # Then the first unit lists the same person in a newer file of its own: that file is refused.
    with_person(workbook(root, first), root / "landing" / Q / first / "更正.xlsx", "新同志", NEW_PERSON)
    run(root)
    frame = ledger(root)
    late = frame.filter((pl.col("unit_code") == first) & (pl.col("file_name") == "更正.xlsx"))
    assert not late["accepted"][0]
    assert current_file(root, first) == workbook(root, first).name  # its earlier file stays current
    assert current_file(root, second) == "更正.xlsx"
    (line,) = _conflict_lines(root)
    assert (line["holding_unit_code"], line["rejected_unit_code"]) == (second, first)
    assert line["person_key"] == _key(NEW_PERSON)
    persons = pl.read_parquet(root / "restricted" / "persons" / f"{Q}.parquet")
    assert persons.filter(pl.col("national_id") == NEW_PERSON)["unit_code"].to_list() == [second]


# -- the replay itself ---------------------------------------------------------------------------------


def _record(unit: str, sha: str, arrival: int, seq: int) -> ArchiveRecord:
    return ArchiveRecord(Q, unit, sha, "xlsx", ((f"{sha}.xlsx", 1),), arrival, "", seq)


def _resolve(records: list[ArchiveRecord], persons: dict[str, list[str]]) -> tuple[dict, list]:
    accepted = {(r.unit_code, r.submission_id): True for r in records}
    rows = {sha: [(nid, i + 2) for i, nid in enumerate(ids)] for sha, ids in persons.items()}
    _issues, found = resolve(
        Q, records, accepted, rows, {"A": "甲局", "B": "乙局"}, lambda n: [f"k{x}" for x in n]
    )
    return {owner for owner, ok in accepted.items() if not ok}, found


def test_a_transfer_goes_through_once_the_old_unit_lets_the_person_go() -> None:
    records = [
        _record("A", "a1", 10, 1),
        _record("B", "b1", 20, 2),  # lists P while A holds P: refused
        _record("A", "a2", 30, 3),  # A lets P go
        _record("B", "b2", 40, 4),  # now B may list P
    ]
    refused, found = _resolve(records, {"a1": ["P", "Q"], "b1": ["P"], "a2": ["Q"], "b2": ["P", "R"]})
    assert refused == {("B", "b1")}
    assert [(c.holding_unit_code, c.rejected_submission_id, c.person_key) for c in found] == [
        ("A", "b1", "kP")
    ]


def test_order_is_arrival_then_first_sight_never_the_hash() -> None:
    # Same arrival instant: the one seen first (lower seq) holds, whatever the ids sort like.
    records = [_record("A", "zzz", 10, 2), _record("B", "aaa", 10, 1)]
    refused, found = _resolve(records, {"zzz": ["P"], "aaa": ["P"]})
    assert refused == {("A", "zzz")}
    assert found[0].holding_unit_code == "B" and found[0].holding_unit_name == "乙局"


@pytest.mark.parametrize("seed", range(200))
def test_replay_invariants_on_random_quarters(seed: int) -> None:
    """Random quarters of 2-4 units, 1-4 files each, rosters drawn from 6 people, arrivals with ties:
    no person is held by two units' current files, the holder is never the refused one, and a refused
    file always clashed with another unit's file that arrived earlier."""
    import random

    rnd = random.Random(seed)
    records, persons = [], {}
    seq = 0
    for u in "ABCD"[: rnd.randint(2, 4)]:
        for k in range(rnd.randint(1, 4)):
            seq += 1
            sha = f"{u}{k}"
            records.append(_record(u, sha, rnd.randint(0, 5), rnd.randint(1, 50) * 100 + seq))
            persons[sha] = rnd.sample("PQRSTU", rnd.randint(0, 3))
    order = {(r.unit_code, r.submission_id): (r.arrival_ns, r.seq) for r in records}
    accepted = {owner: True for owner in order}
    rows = {sha: [(nid, 2 + i) for i, nid in enumerate(ids)] for sha, ids in persons.items()}
    _issues, found = resolve(Q, records, accepted, rows, {}, lambda n: list(n))
    current: dict[str, str] = {}
    for (unit, sha), ok in sorted(accepted.items(), key=lambda kv: order[kv[0]]):
        if ok:
            current[unit] = sha
    held = [nid for sha in current.values() for nid in persons[sha]]
    assert len(held) == len(set(held))
    for c in found:
        refused = (c.rejected_unit_code, c.rejected_submission_id)
        holder = (c.holding_unit_code, c.holding_submission_id)
        assert not accepted[refused] and accepted[holder]
        assert c.holding_unit_code != c.rejected_unit_code
        assert order[holder] < order[refused]
        assert (
            c.person_key in persons[c.holding_submission_id]
            and c.person_key in persons[c.rejected_submission_id]
        )
    assert {(c.rejected_unit_code, c.rejected_submission_id) for c in found} == {
        o for o, ok in accepted.items() if not ok
    }
