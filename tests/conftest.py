"""Shared fixtures: generated cities written once per test session into temporary directories.

Every test that needs data generates it with the real generator (real .xlsx/CSV files on disk);
nothing is mocked. Fixtures are session-scoped because generation is the slow part.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.domain.quarters import quarter_range
from pipelines.synthetic.city import GeneratorConfig, generate

SMALL_QUARTERS = tuple(quarter_range("2025Q1..2025Q4"))
PUBLISHED_QUARTERS = tuple(quarter_range("2025Q3..2025Q4"))


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


@contextmanager
def pipeline_env(data: Path) -> Iterator[Path]:
    """ASSESSMENT_DATA_DIR and a Dagster home inside `data` for the duration (session fixtures cannot use
    the function-scoped monkeypatch)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSESSMENT_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / ".dagster"))
        mp.delenv("ASSESSMENT_DUCKDB", raising=False)
        mp.delenv("ASSESSMENT_REGISTRY_CSV", raising=False)
        yield data


@pytest.fixture(scope="session")
def published_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 units over 2025Q3..2025Q4, published by the real Dagster jobs: 2025Q3 through the operator CLI's
    jobs (no report), then 2025Q4 through `quarterly_pipeline`, the job the schedule and the sensor start
    (ingest → findings → dbt → release → checks → publish → report).

    Treat it as read-only: a test that changes files copies it first (`copy_data_dir`)."""
    from pipelines.definitions import defs
    from pipelines.ops import project_instance, run_quarters

    first, last = (q.key for q in PUBLISHED_QUARTERS)
    root = make_city(tmp_path_factory.mktemp("published_city"), seed=5, units=16, quarters=PUBLISHED_QUARTERS)
    with pipeline_env(root):
        run_quarters([first], progress=lambda _msg: None, report_quarters=[])
        job = defs().resolve_job_def("quarterly_pipeline")
        result = job.execute_in_process(instance=project_instance(), partition_key=last, raise_on_error=True)
        assert result.success
    return root


def copy_data_dir(source: Path, target: Path) -> Path:
    """A private copy of a data directory (symlinks kept as links, so the release layout still resolves)."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".dagster", "logs"))
    return target
