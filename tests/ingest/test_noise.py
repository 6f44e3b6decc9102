"""Every tolerated mess becomes a warning, never an error: counted against the generator's own tally."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.ingest.conftest import Ingested

# The tests read the session's hostile_base or noisy_quarter: keep them on one xdist worker with the
# other readers, so each is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ingested_quarters")]

Q = "2025Q2"

# generator noise kind -> the warning kind ingestion reports for it, one per affected cell/workbook
EXACT = {
    "fullwidth": "fullwidth_normalised",
    "stray_space": "whitespace_normalised",
    "number_as_text": "number_as_text",
    "list_separator": "list_separator",
    "date_variant": "date_variant",
    "bool_variant": "bool_variant",
    "quarter_variant": "quarter_variant",
    "unit_name_variant": "unit_name_mismatch",
    "extra_column": "extra_column",
}


def _counts(city: Ingested) -> tuple[dict[str, int], dict[str, int]]:
    noise = json.loads((city.root / "ground_truth" / Q / "noise.json").read_text(encoding="utf-8"))
    applied = {kind: v["applied"] for kind, v in noise.items()}
    items = city.raw("receipt_items", Q)
    warned = dict(items.filter(pl.col("severity") == "warning").group_by("kind").len().iter_rows())
    return applied, warned


def test_a_noisy_but_valid_quarter_is_accepted_in_full(noisy_quarter: Ingested) -> None:
    assert noisy_quarter.results[Q].success
    ledger = noisy_quarter.raw("submissions", Q)
    assert ledger.height == 24 and ledger["accepted"].all()
    assert set(ledger["format"]) == {"xlsx", "csv"}
    items = noisy_quarter.raw("receipt_items", Q)
    assert items.filter(pl.col("severity") == "error").is_empty()
    status = noisy_quarter.raw("unit_status", Q)
    assert status.filter(pl.col("status") == "on_time").height == 24


def test_each_noisy_cell_gets_exactly_one_warning_of_its_kind(noisy_quarter: Ingested) -> None:
    applied, warned = _counts(noisy_quarter)
    for noise_kind, warning_kind in EXACT.items():
        assert applied[noise_kind] > 0, noise_kind  # the rates are loud enough to exercise every kind
        assert warned.get(warning_kind, 0) == applied[noise_kind], (noise_kind, warned.get(warning_kind))


def test_layout_noise_is_reported_where_visible(noisy_quarter: Ingested) -> None:
    applied, warned = _counts(noisy_quarter)
    # A shuffle that only moves the added extra column leaves the template columns in order.
    assert 0 < warned["column_order"] <= applied["column_order"]
    # Blank rows a workbook merely formats are invisible to the reader; a CSV writes them out.
    assert 0 < warned["blank_rows_ignored"] <= applied["trailing_blank_rows"]
    tolerated = {*EXACT.values(), "column_order", "blank_rows_ignored"}
    assert set(warned) <= tolerated


def test_normalised_values_reach_the_raw_tables(noisy_quarter: Ingested) -> None:
    ratings = noisy_quarter.raw("ratings", Q)
    assert ratings["score_effect"].is_between(0, 100).all()
    roster = noisy_quarter.raw("roster", Q)
    assert roster["person_code"].str.contains(r"^[A-Z]+\d+$").all()  # no full-width, no spaces
    info = noisy_quarter.raw("unit_info", Q)
    assert info["submitted_on"].null_count() == 0
    tasks = noisy_quarter.raw("tasks", Q)
    assert tasks["deadline"].null_count() == 0
