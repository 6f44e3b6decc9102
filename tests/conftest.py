"""Shared fixtures: generated cities written once per test session into temporary directories.

Every test that needs data generates it with the real generator (real .xlsx/CSV files on disk);
nothing is mocked. Fixtures are session-scoped because generation is the slow part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.domain.quarters import quarter_range
from pipelines.synthetic.city import GeneratorConfig, generate

SMALL_QUARTERS = tuple(quarter_range("2025Q1..2025Q4"))


def make_city(root: Path, **options: object) -> Path:
    """Generate into `root` (which becomes the data directory) and return it."""
    options.setdefault("quarters", SMALL_QUARTERS)
    generate(GeneratorConfig(**options), root, progress=lambda _msg: None)  # type: ignore[arg-type]
    return root


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year (2025Q1..Q4) of 24 units spread over levels and base methods, default mess and anomalies."""
    return make_city(tmp_path_factory.mktemp("small_city"), seed=11, units=24)


@pytest.fixture(scope="session")
def clean_quarter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean quarter (2025Q3) of 24 units: no mess, no noise, no anomalies."""
    return make_city(
        tmp_path_factory.mktemp("clean_quarter"),
        seed=11,
        units=24,
        clean=True,
        quarters=tuple(quarter_range("2025Q3")),
    )
