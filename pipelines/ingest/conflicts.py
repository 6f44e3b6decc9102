"""A person listed by two units in one quarter: the later submission is refused, the holder keeps its data.

The accepted submissions of a quarter are replayed in arrival order (arrival time, then the order of
first sight; archive.py). Each one, when its turn comes, either becomes its unit's current submission
or, when its roster lists a national ID that the current submission of another unit already holds, is
rejected: it is the submission that introduces the conflict. A unit that already holds a person
therefore never loses its data to another unit's file, and a unit's own earlier file stays current
when its later one is refused. A unit that lets a person go (its newer submission no longer lists
them) releases them, so a real transfer goes through once the old unit has resubmitted.

The replay depends only on the archive (arrival, order of first sight) and the cached contents, so
every re-run of the quarter reaches the same decisions. The receipt of a refused file names the other
unit, never the person's ID; the operator's report (`_conflicts.csv`) names both units and the
person's pseudonymous key, so the Organization Department can settle a real transfer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.domain.safe_cells import neutralise
from pipelines.domain.template import SHEETS_BY_NAME
from pipelines.ingest.archive import ArchiveRecord
from pipelines.ingest.issues import Issue, issue

CONFLICTS_FILE = "_conflicts.csv"


@dataclass(frozen=True)
class Conflict:
    """One person in one refused submission (an operator's line: no clear ID)."""

    quarter: str
    person_key: str
    holding_unit_code: str
    holding_unit_name: str
    holding_submission_id: str
    rejected_unit_code: str
    rejected_unit_name: str
    rejected_submission_id: str
    rejected_file: str
    rejected_excel_row: int | None


Owner = tuple[str, str]  # (unit_code, submission_id)


def resolve(
    quarter: str,
    records: Sequence[ArchiveRecord],
    accepted: dict[Owner, bool],
    persons: dict[str, list[tuple[str, int | None]]],
    unit_names: dict[str, str],
    key_of: Callable[[list[str]], list[str]],
) -> tuple[dict[Owner, list[Issue]], list[Conflict]]:
    """Which accepted submissions introduce a person conflict; marks them not accepted in `accepted`.

    `persons`: submission_id -> [(national_id, roster row as Excel shows it)] of its roster.
    `key_of`: national IDs -> pseudonymous keys (for the operator's report).
    Returns the receipt issues of each refused submission and the conflict lines."""
    holder: dict[str, Owner] = {}  # national ID -> the current submission that lists it
    current: dict[str, str] = {}  # unit -> its current submission so far
    issues: dict[Owner, list[Issue]] = {}
    found: list[tuple[str, Owner, ArchiveRecord, int | None]] = []
    for r in sorted(records, key=lambda r: (r.arrival_ns, r.seq, r.submission_id)):
        owner = (r.unit_code, r.submission_id)
        if not accepted.get(owner):
            continue
        listed = persons.get(r.submission_id, [])
        clashes = [
            (nid, row, holder[nid]) for nid, row in listed if nid in holder and holder[nid][0] != r.unit_code
        ]
        if clashes:
            accepted[owner] = False
            issues[owner] = [_receipt_issue(row, other, unit_names) for _, row, other in clashes]
            found += [(nid, other, r, row) for nid, row, other in clashes]
            continue
        previous = current.get(r.unit_code)
        if previous is not None:
            for nid, _ in persons.get(previous, []):
                if holder.get(nid) == (r.unit_code, previous):
                    del holder[nid]
        for nid, _ in listed:
            holder[nid] = owner
        current[r.unit_code] = r.submission_id
    keys = key_of([nid for nid, *_ in found])
    conflicts = [
        Conflict(
            quarter=quarter,
            person_key=k,
            holding_unit_code=other[0],
            holding_unit_name=unit_names.get(other[0], ""),
            holding_submission_id=other[1],
            rejected_unit_code=r.unit_code,
            rejected_unit_name=unit_names.get(r.unit_code, ""),
            rejected_submission_id=r.submission_id,
            rejected_file=r.file_name,
            rejected_excel_row=row,
        )
        for k, (_, other, r, row) in zip(keys, found, strict=True)
    ]
    return issues, conflicts


def _receipt_issue(row: int | None, other: Owner, unit_names: dict[str, str]) -> Issue:
    """Where the person is in this file and which unit holds them: no ID, masked or not."""
    sheet = SHEETS_BY_NAME["roster"]
    name = unit_names.get(other[0], "未知单位")
    return issue(
        "person_in_two_units",
        sheet=sheet.title,
        row=row,
        header=sheet.column("national_id").header,
        detail=(
            f"所列人员已由{other[0]}（{name}）在本季度先行报送并被接收；同一人员不能由两个单位报送，"
            "本文件未被接收。如属人员调动，请与组织部门联系核实"
        ),
    )


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula (file and unit names come from outside)."""
    return neutralise("" if value is None else str(value))


def render_csv(conflicts: list[Conflict]) -> str:
    out = io.StringIO()
    fields = list(Conflict.__dataclass_fields__)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for c in conflicts:
        row = asdict(c)
        writer.writerow([_cell(row[f]) for f in fields])
    return out.getvalue()


def report_path(receipts_root: Path, quarter: str) -> Path:
    return receipts_root / quarter / CONFLICTS_FILE
