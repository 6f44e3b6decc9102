"""The notebook tests run against the session's small published city (16 units, 2025Q3..2025Q4, built by
the real Dagster jobs in tests/conftest.py: published_city)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NB_QUARTERS = ("2025Q3", "2025Q4")


@dataclass(frozen=True)
class PublishedWarehouse:
    data_dir: Path
    path: Path
    quarters: tuple[str, ...]


@pytest.fixture(scope="session")
def published_warehouse(published_city: Path) -> Iterator[PublishedWarehouse]:
    """The session's published city (tests/conftest.py), shared with the publishing tests."""
    published = published_city / "warehouse" / "assessment.duckdb"
    assert published.is_file(), published
    yield PublishedWarehouse(published_city, published, NB_QUARTERS)
