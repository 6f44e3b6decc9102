"""National IDs typed into free text of a real generated workbook, as a careless or hostile clerk would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import openpyxl

from pipelines.domain.national_id import make

GLUED_ID = make("371623", "19850304", 123)
SPACED_ID = make("110105", "19491231", 2)
GLUED_TEXT = f"一级科员身份证{GLUED_ID}备注"
SPACED_TEXT = f"{SPACED_ID[:6]} {SPACED_ID[6:14]} {SPACED_ID[14:]}"
PLANTED_IDS = (GLUED_ID, SPACED_ID)


@dataclass(frozen=True)
class Planted:
    unit_code: str
    workbook: Path
    roster_row: int  # Excel row of the 职务职级 cell
    task_row: int  # Excel row of the 任务名称 cell


def _column(sheet: openpyxl.worksheet.worksheet.Worksheet, header: str) -> int:
    for cell in sheet[1]:
        if cell.value == header:
            return cell.column
    raise KeyError(header)


def plant_ids(landing_quarter: Path) -> Planted:
    """Type a glued ID into the first 职务职级 and a spaced one into the first 任务名称 and 目标要求 of the
    first unit that submitted an .xlsx in `landing_quarter`."""
    books = sorted(landing_quarter.glob("*/*.xlsx"))
    book_path = books[0]
    book = openpyxl.load_workbook(book_path)
    roster, tasks = book["人员名册"], book["重点任务"]
    roster.cell(2, _column(roster, "职务职级")).value = GLUED_TEXT
    tasks.cell(2, _column(tasks, "任务名称")).value = f"{SPACED_TEXT}的任务"
    tasks.cell(2, _column(tasks, "目标要求")).value = f"完成{SPACED_TEXT.replace(' ', '-')}"
    book.save(book_path)
    return Planted(book_path.parent.name, book_path, 2, 2)
