"""The report is rendered again only when what it shows changed: its fingerprint covers every query the
notebook runs, changes with a figure the report shows, and ignores a column it does not show."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import nbformat
import pytest

from pipelines.report.fingerprint import RULES_VERSION_SQL, SHOWN, report_fingerprint
from pipelines.report.render import REPORT_NOTEBOOK
from tests.notebooks.conftest import PublishedWarehouse

QUARTER = "2025Q4"
# charts functions that draw or format what a query returned (they read nothing)
DRAWING = {"headline_cards", "review_table", "styled"}


def _notebook_code() -> str:
    nb = nbformat.read(str(REPORT_NOTEBOOK), as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_the_fingerprint_covers_every_query_of_the_notebook() -> None:
    code = _notebook_code()
    called = set(re.findall(r"charts\.(\w+)\(", code))
    data = {name for name in called if not name.startswith("fig_") and name not in DRAWING}
    assert data == set(SHOWN)
    # the one query the notebook writes itself is the fingerprint's, word for word
    assert code.count("an.query(") == 1
    assert RULES_VERSION_SQL in " ".join(code.split())


@pytest.mark.slow
@pytest.mark.xdist_group("published_city")
def test_the_fingerprint_follows_what_the_report_shows(
    published_warehouse: PublishedWarehouse, tmp_path: Path
) -> None:
    copy = tmp_path / "assessment.duckdb"
    shutil.copyfile(published_warehouse.path, copy)

    def fingerprint() -> str:
        return report_fingerprint(QUARTER, copy, REPORT_NOTEBOOK, demo_banner=False)

    first = fingerprint()
    assert fingerprint() == first
    assert report_fingerprint(QUARTER, copy, REPORT_NOTEBOOK, demo_banner=True) != first
    with duckdb.connect(str(copy)) as con:  # a score the report does not show
        con.execute(
            "update marts.fct_person_quarter set eval_score = eval_score + 1 where quarter = ?", [QUARTER]
        )
    assert fingerprint() == first
    with duckdb.connect(str(copy)) as con:  # the participants of one unit: a headline figure
        con.execute(
            "update marts.fct_unit_quarter set n_participants = n_participants + 1 where quarter = ? "
            "and unit_code = (select min(unit_code) from marts.fct_unit_quarter where quarter = ?)",
            [QUARTER, QUARTER],
        )
    assert fingerprint() != first
