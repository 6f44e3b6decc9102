"""Shared fixtures: generated cities written once per test session into temporary directories.

Every test that needs data generates it with the real generator (real .xlsx/CSV files on disk);
nothing is mocked. Fixtures are session-scoped because generation is the slow part.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from filelock import FileLock

from pipelines.domain.quarters import quarter_range
from pipelines.synthetic.city import GeneratorConfig, generate

if TYPE_CHECKING:
    from tests.dbt.conftest import Warehouse


def pytest_configure(config: pytest.Config) -> None:
    # Generated data only: the public demo pseudonym key is allowed (docs/security.md). Tests of the
    # refusal outside demo mode pass their own environment.
    os.environ.setdefault("ASSESSMENT_DEMO", "1")


SMALL_QUARTERS = tuple(quarter_range("2025Q1..2025Q4"))
PUBLISHED_QUARTERS = tuple(quarter_range("2025Q3..2025Q4"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """The dbt manifest the Dagster assets load, re-parsed when a dbt file changed since `make env`
    (importing the assets never runs dbt). Once, in the controller: xdist workers start after this."""
    if not hasattr(session.config, "workerinput"):
        from pipelines.defs.dbt.project import prepare_manifest

        prepare_manifest()


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


@pytest.fixture(scope="session")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The hand-made tiny city's warehouse (tests/dbt/conftest.py), built once per worker: the modules
    that read it are in one xdist group ("tiny_warehouse"), so once per session. Read-only: a test that
    changes it copies it first."""
    from tests.dbt.conftest import build_tiny_warehouse

    return build_tiny_warehouse(tmp_path_factory.mktemp("tiny_city"))


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


def _publish_city(root: Path) -> Path:
    from pipelines.definitions import defs
    from pipelines.ops import project_instance, run_quarters
    from tests.publish.plant import plant_ids

    first, last = (q.key for q in PUBLISHED_QUARTERS)
    make_city(root, seed=5, units=16, quarters=PUBLISHED_QUARTERS)
    plant_ids(root / "landing" / last)  # IDs typed into free text must never reach a published file
    with pipeline_env(root):
        run_quarters([first], progress=lambda _msg: None, report_quarters=[])
        job = defs().resolve_job_def("quarterly_pipeline")
        result = job.execute_in_process(instance=project_instance(), partition_key=last, raise_on_error=True)
        assert result.success
    return root


@pytest.fixture(scope="session")
def published_city(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """16 units over 2025Q3..2025Q4, published by the real Dagster jobs: 2025Q3 through the operator CLI's
    jobs (no report), then 2025Q4 through `quarterly_pipeline`, the job the schedule and the sensor start
    (ingest → findings → dbt → release → checks → publish → report).

    Built once per test session (~45 s) even under xdist: the first worker to get here builds it in
    the workers' shared temp folder under a file lock, the others wait and reuse it (pytest-xdist's
    documented pattern). Most of its readers are in the xdist group "published_city"; the lock is for
    the few outside it (tests/dbt/test_dbt_in_process.py, tests/ingest/test_prefetch.py). A failed
    build leaves no marker, so a later worker tries again and reports its own failure.

    Treat it as read-only: a test that changes files copies it first (`copy_data_dir`)."""
    if worker_id == "master":  # not under xdist
        return _publish_city(tmp_path_factory.mktemp("published_city"))
    shared = tmp_path_factory.getbasetemp().parent
    root, done = shared / "published_city", shared / "published_city.done"
    with FileLock(str(shared / "published_city.lock")):
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # a half-built city from a failed attempt
            root.mkdir()
            _publish_city(root)
            done.touch()
    return root


def copy_data_dir(source: Path, target: Path) -> Path:
    """A private copy of a data directory (symlinks kept as links, so the release layout still resolves)."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".dagster", "logs"))
    return target
