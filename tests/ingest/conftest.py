"""Generated cities for the ingestion tests, ingested once per session through the real Dagster assets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.domain.quarters import quarter_range
from pipelines.synthetic.noise import NoiseRates
from pipelines.synthetic.rates import MessRates, zero
from tests.conftest import make_city
from tests.ingest.helpers import materialize
from tests.ingest.hostile import Base, build_base

MESSY_QUARTERS = ("2025Q3", "2025Q4")


@dataclass
class Ingested:
    root: Path
    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)

    def raw(self, table: str, quarter: str) -> pl.DataFrame:
        return pl.read_parquet(self.root / "raw" / table / f"{quarter}.parquet")

    def truth(self, quarter: str) -> pl.DataFrame:
        path = self.root / "ground_truth" / quarter / "submissions.csv"
        return pl.read_csv(path, infer_schema=False).with_columns(pl.all().fill_null(""))


@contextmanager
def data_dir(root: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSESSMENT_DATA_DIR", str(root))
        yield


def ingest(root: Path, quarters: tuple[str, ...], **config: object) -> Ingested:
    out = Ingested(root)
    with data_dir(root):
        for q in quarters:
            out.results[q] = materialize(q, **config)
    return out


@pytest.fixture(scope="session")
def messy_city(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """40 units, 2025Q3..Q4, with far more mess than a real city: every breakage kind, every CSV
    encoding, late, missing and rejected units (seed chosen so all of them occur)."""
    root = make_city(
        tmp_path_factory.mktemp("messy_city"),
        seed=1,
        units=40,
        quarters=tuple(quarter_range("2025Q3..2025Q4")),
        mess=MessRates(broken_then_corrected=0.45, rejected_only=0.1, csv=0.3, late=0.2, missing=0.05),
    )
    return ingest(root, MESSY_QUARTERS)


LOUD_NOISE = NoiseRates(
    fullwidth=0.02,
    stray_space=0.03,
    number_as_text=0.03,
    list_separator=0.5,
    date_variant=0.6,
    bool_variant=0.5,
    quarter_variant=0.5,
    unit_name_variant=0.5,
    extra_column=0.5,
    column_order=0.3,
    trailing_blank_rows=0.5,
)


@pytest.fixture(scope="session")
def noisy_quarter(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """24 units, one quarter, every cosmetic noise kind at high rates, a third as CSV, nothing broken."""
    root = make_city(
        tmp_path_factory.mktemp("noisy_quarter"),
        seed=5,
        units=24,
        quarters=tuple(quarter_range("2025Q2")),
        mess=replace(zero(MessRates()), csv=0.35),
        noise=LOUD_NOISE,
    )
    return ingest(root, ("2025Q2",))


@pytest.fixture(scope="session")
def hostile_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """A clean 6-unit quarter (2025Q3) ingested once: the starting point of every hostile case."""
    return build_base(tmp_path_factory.mktemp("hostile_base"))
