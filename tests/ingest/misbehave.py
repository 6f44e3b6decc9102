"""A task function for worker-pool tests. Kept free of heavy imports: every spawned worker imports it."""

from __future__ import annotations

import os
import time


def square_or_misbehave(task: object) -> object:
    """x*x for numbers; "hang" sleeps, "slow" takes 1.2 s, "crash" kills the process, "fail" raises."""
    if task == "slow":
        time.sleep(1.2)
        return "slow"
    if task == "hang":
        time.sleep(60)
    if task == "crash":
        os._exit(3)
    if task == "fail":
        raise ValueError("bad input")
    return task * task  # type: ignore[operator]


def read_as_text(path: str) -> list[object]:
    """The first sheet of a workbook as text, the way ingestion's text pass reads it (calamine)."""
    import fastexcel

    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string", eager=True)
    return sheet.column(0).to_pylist()


def parse_and_report_numpy(path: str) -> tuple[bool, int, bool]:
    """Parse a workbook as a parse worker does: (readable, sheets found, whether NumPy got imported)."""
    import sys
    from types import ModuleType

    from pipelines.ingest.parse import ParseRequest, parse_delivery

    delivery = parse_delivery(ParseRequest("x", "xlsx", (("book.xlsx", path),)))
    return delivery.readable, len(delivery.sheets), isinstance(sys.modules.get("numpy"), ModuleType)
