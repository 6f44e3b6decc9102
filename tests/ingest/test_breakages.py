"""Each of the generator's deliberate breakages is rejected with its error kind at the exact cell.

A canonical workbook is read back from a clean generated unit; the generator's own breakage
functions break a copy, its writer writes it as xlsx or CSV, and ingestion must point at the sheet,
Excel row, column header and value the breakage reports (`Defect`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.domain.quarters import Quarter
from pipelines.ingest.issues import Issue, mask_national_id
from pipelines.ingest.normalise import format_number
from pipelines.ingest.parse import ParsedDelivery, ParseRequest, parse_delivery
from pipelines.ingest.sheets import ParsedSheet
from pipelines.ingest.tables import typed_batch
from pipelines.ingest.validate import stack, validate_cells
from pipelines.synthetic.breakage import BREAKAGES, break_workbook, csv_breakages
from pipelines.synthetic.noise import NoiseRates
from pipelines.synthetic.workbook import UnitWorkbook
from pipelines.synthetic.writer import FULL_LAYOUT, write_csv_folder, write_xlsx
from tests.support.readback import read_submission

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)

CLEAN = NoiseRates.clean()


@pytest.fixture(scope="module")
def canonical(clean_quarter: Path) -> UnitWorkbook:
    """The biggest clean unit of the quarter, as typed values (independent openpyxl reader)."""
    units = sorted((clean_quarter / "landing" / "2025Q3").iterdir())
    unit = max((u for u in units if u.is_dir()), key=lambda u: sum(f.stat().st_size for f in u.iterdir()))
    (book,) = list(unit.glob("*.xlsx"))
    sheets = read_submission(unit, book.name)
    info = sheets["unit_info"][0]
    return UnitWorkbook(unit.name, info["unit_name"], Quarter(2025, 3), sheets)


def _ingest_all(
    requests: list[ParseRequest],
) -> list[tuple[ParsedDelivery, list[Issue], dict[str, pl.DataFrame]]]:
    """Parse each delivery, then type and validate all of them in one pass per sheet, as run.py does."""
    parsed = [parse_delivery(r) for r in requests]
    by_sheet: dict[str, list[tuple[int, ParsedSheet]]] = {}
    for index, delivery in enumerate(parsed):
        for name, sheet in delivery.sheets.items():
            by_sheet.setdefault(name, []).append((index, sheet))
    stacked = {b.sheet: b.frame for b in stack(by_sheet)}
    # The requests share submission ids; their index tells their typed rows apart.
    tables, cast = typed_batch(stacked, [str(i) for i in range(len(parsed))])
    cells = validate_cells(by_sheet)
    out = []
    for i, d in enumerate(parsed):
        own = {t: f.filter(pl.col("submission_id") == str(i)) for t, f in tables.items()}
        out.append((d, d.issues + cast.get(i, []) + cells.get(i, []), own))
    return out


def _write(tmp_path: Path, wb: UnitWorkbook, fmt: str, layout: object = FULL_LAYOUT) -> ParseRequest:
    rng = np.random.default_rng(0)
    if fmt == "xlsx":
        path = tmp_path / "book.xlsx"
        write_xlsx(path, wb, rng, CLEAN, layout)  # type: ignore[arg-type]
        return ParseRequest("x" * 64, "xlsx", (("book.xlsx", str(path)),))
    folder = tmp_path / "csv"
    write_csv_folder(folder, wb, rng, CLEAN, "gb18030", layout)  # type: ignore[arg-type]
    return ParseRequest("y" * 64, "csv", tuple((p.name, str(p)) for p in sorted(folder.glob("*.csv"))))


CASES = [(key, fmt) for key in ("clean", *csv_breakages()) for fmt in ("xlsx", "csv")]


@pytest.fixture(scope="module")
def ingested(
    canonical: UnitWorkbook, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], object]:
    """Every (breakage, format) case written, parsed and validated together."""
    requests, defects = [], []
    for key, fmt in CASES:
        folder = tmp_path_factory.mktemp(f"{key}-{fmt}")
        if key == "clean":
            requests.append(_write(folder, canonical, fmt))
            defects.append(None)
        else:
            broken = break_workbook(key, canonical, np.random.default_rng(7))
            requests.append(_write(folder, broken.wb, fmt, broken.layout))
            defects.append(broken.defect)
    results = _ingest_all(requests)
    return {case: (defect, *result) for case, defect, result in zip(CASES, defects, results, strict=True)}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_clean_canonical_submission_has_no_issue_at_all(
    canonical: UnitWorkbook, ingested: dict[tuple[str, str], object], fmt: str
) -> None:
    _, parsed, issues, tables = ingested[("clean", fmt)]  # type: ignore[misc]
    assert parsed.readable
    assert [i.message for i in issues if i.kind != "lead_missing"] == []
    assert tables["roster"].height == len(canonical.sheets["roster"])
    assert tables["ratings"].height == len(canonical.sheets["ratings"])


def _expected_value(breakage: str, value: object) -> str | None:
    if value is None:
        return None
    if breakage == "invalid_national_id":
        return mask_national_id(str(value))
    if isinstance(value, float):
        return format_number(value)
    return str(value)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("key", csv_breakages())
def test_content_breakages_point_at_the_cell(
    ingested: dict[tuple[str, str], object], key: str, fmt: str
) -> None:
    defect, _, issues, _ = ingested[(key, fmt)]  # type: ignore[misc]
    errors = [i for i in issues if i.severity == "error"]
    assert errors, f"{key} was not rejected"
    hits = [
        i
        for i in errors
        if i.kind == defect.error_kind
        and (defect.sheet is None or i.sheet == defect.sheet)
        and (defect.header is None or i.header == defect.header)
        and (defect.excel_row is None or i.excel_row == defect.excel_row)
    ]
    assert hits, (defect, [(i.kind, i.sheet, i.excel_row, i.header, i.value) for i in errors])
    if defect.excel_row is not None:
        assert hits[0].value == _expected_value(key, defect.value)
        assert f"第{defect.excel_row}行" in hits[0].message


@pytest.mark.parametrize("key", [k for k, b in BREAKAGES.items() if b.file is not None])
def test_file_breakages_are_refused_before_parsing(canonical: UnitWorkbook, tmp_path: Path, key: str) -> None:
    request = _write(tmp_path, canonical, "xlsx")
    BREAKAGES[key].file(Path(request.files[0][1]), np.random.default_rng(3))  # type: ignore[misc]
    ((parsed, issues, _),) = _ingest_all([request])
    assert not parsed.readable
    assert [i.kind for i in issues] == [BREAKAGES[key].error_kind]
    assert issues[0].sheet is None and issues[0].message.startswith("文件")
