"""A Dagster run of a quarter whose landing folder is missing fails at ingest, as the operator command
refuses it: a probe's run from the Dagster path published every unit of the city as missing."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.ingest.conftest import data_dir
from tests.ingest.helpers import materialize


def test_a_quarter_without_its_landing_folder_is_not_ingested(tmp_path: Path) -> None:
    (tmp_path / "landing" / "2025-Q3" / "371600-S-001").mkdir(parents=True)  # the misnamed folder
    with data_dir(tmp_path), pytest.raises(dg.Failure, match="没有报送目录 no landing folder for 2025Q3"):
        materialize("2025Q3", workers=1)
    assert not (tmp_path / "raw").exists()  # no raw table says every unit is missing


def test_an_empty_landing_folder_is_a_quarter_nobody_sent(tmp_path: Path) -> None:
    (tmp_path / "landing" / "2025Q3").mkdir(parents=True)
    with data_dir(tmp_path):
        result = materialize("2025Q3", workers=1)
    assert result.success
