"""Render the report only when what it shows changed.

The report's fingerprint hashes the figures the notebook shows — the results of the very query functions
it calls (`SHOWN`, checked against the notebook's cells by tests/notebooks/test_report_fingerprint.py) on
the published warehouse — with the quarter, whether the demo banner is shown, and the code that turns
them into HTML (the notebook, charts.py, analysis.py, render.py and execute.py, the nbconvert template,
the versions of plotly and nbconvert). The "as of" dates the notebook prints are not part of it: an
unchanged report keeps the date it was made.

A new release whose changes the report does not show (a score corrected in one unit that moves no
grade, no count and no index) therefore keeps the report as it is; the queries cost a fraction of a
second where rendering costs seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from pipelines.deliverables.fingerprint import canonical, files_digest, json_digest
from pipelines.paths import PROJECT_ROOT

_HERE = Path(__file__).resolve().parent
RULES_VERSION_SQL = "select max(rules_version) as v from marts.fct_unit_quarter where quarter = ?"


def _shown() -> dict[str, Callable[[duckdb.DuckDBPyConnection, str], Any]]:
    """The notebook's data, one entry per query it runs (by the same functions and arguments)."""
    import pipelines.report.charts as charts
    from pipelines import analysis as an

    return {
        "county_order": lambda con, q: charts.county_order(con),
        "headline": charts.headline,
        "rules_version": lambda con, q: an.query(con, RULES_VERSION_SQL, [q]),
        "submission_by_county": charts.submission_by_county,
        "grades_by_group": lambda con, q: charts.grades_by_group(con, q, "unit_level"),
        "proposed_vs_computed_good": lambda con, q: charts.proposed_vs_computed_good(con, q, "county_name"),
        "compliance": lambda con, q: charts.compliance(con),
        "coverage_by_county": charts.coverage_by_county,
        "findings_by_type": charts.findings_by_type,
        "units_for_review": lambda con, q: charts.units_for_review(con, q, limit=15),
    }


# The charts functions the notebook calls for data (everything else it calls draws or formats).
SHOWN = (
    "county_order",
    "headline",
    "submission_by_county",
    "grades_by_group",
    "proposed_vs_computed_good",
    "compliance",
    "coverage_by_county",
    "findings_by_type",
    "units_for_review",
)


@cache
def code_version(notebook: Path) -> str:
    """The code that makes the HTML: notebook, charts, analysis helpers, renderer, template, libraries."""
    # versions from the installed metadata: importing nbconvert and plotly only to ask costs a second
    versions = " ".join(f"{name} {metadata.version(name)}" for name in ("plotly", "nbconvert", "papermill"))
    files = [
        notebook,
        _HERE / "charts.py",
        _HERE / "render.py",
        _HERE / "execute.py",
        _HERE / "fingerprint.py",
        PROJECT_ROOT / "pipelines" / "analysis.py",
        *sorted((_HERE / "templates").rglob("*")),
    ]
    return files_digest(versions, files, label=lambda path: path.name)


def _unordered(value: Any) -> Any:
    """A table's rows as a sorted list: the charts order their bars by category, not by row, and a query
    without a total order (ties) returns the same rows in another order from one build to the next."""
    if isinstance(value, dict) and isinstance(value.get("rows"), str):
        return {**value, "rows": sorted(value["rows"].splitlines())}
    return value


def report_fingerprint(quarter: str, warehouse: Path, notebook: Path, *, demo_banner: bool) -> str:
    """The fingerprint of the report of `quarter` made from `warehouse` (opened read-only)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        shown = {name: _unordered(canonical(query(con, quarter))) for name, query in _shown().items()}
    finally:
        con.close()
    return json_digest([quarter, demo_banner, code_version(notebook), shown])
