"""The incremental path gives exactly what a full rebuild gives.

A published city (2025Q3 and 2025Q4, built by the real jobs) receives one unit's corrected workbook for
2025Q4. The operator's run of that quarter takes the incremental path: the build starts from the last
build's warehouse, the quarter-grain models rebuild 2025Q4 only (the scope table, not a dbt var), the
annual and city-wide models rebuild from every quarter, in one `dbt build`. A second data directory
holding only the same inputs (landing area and registry, file times kept) is built from nothing, both
quarters. Every table of schemas marts and quality must be equal, row for row (floats to 1e-9).

Then the same quarter is run again with nothing new: the analyst tables' fingerprint equals the
published release's, so no release is staged, nothing is re-published and no report is rendered.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.publish.warehouse import layout, releases
from pipelines.quality.incremental import recorded_inputs
from tests.conftest import copy_data_dir, pipeline_env
from tests.publish.test_pipeline_runs import QUARTER, _correct_one_rating

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
COMPARED_SCHEMAS = ("marts", "quality")
FLOAT_TOLERANCE = 1e-9
# When ingestion first accepted a unit's file: the second folder's ingestion saw the corrected file at a
# later wall-clock time than the first did (a copy cannot carry that history). Not a dbt result.
INGESTION_HISTORY_COLUMNS = {"first_accepted_at"}
QUALITY_TABLES = ("reliability", "leniency", "fair_scores")


def _tables(path: Path, data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table and view of the compared schemas, rows sorted by their text form. The views read the
    data folder's files by paths relative to it, found through DuckDB's file_search_path as in dbt."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with duckdb.connect(str(path), read_only=True, config={"file_search_path": str(data_dir)}) as con:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema in (select unnest(?::varchar[])) "
            "order by 1, 2",
            [list(COMPARED_SCHEMAS)],
        ).fetchall()
        for schema, name in names:
            ref = f'"{schema}"."{name}"'  # names from the file's own catalog
            columns = [
                r[0]
                for r in con.execute(f"describe {ref}").fetchall()
                if r[0] not in INGESTION_HISTORY_COLUMNS
            ]
            order = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f"select {order} from {ref} order by all").fetchall()
            out[f"{schema}.{name}"] = rows
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=FLOAT_TOLERANCE)
    return a == b


def _differences(
    left: dict[str, list[tuple[object, ...]]], right: dict[str, list[tuple[object, ...]]]
) -> list[str]:
    problems = [f"{t}: only in one build" for t in sorted(set(left) ^ set(right))]
    for table in sorted(set(left) & set(right)):
        a, b = left[table], right[table]
        if len(a) != len(b):
            problems.append(f"{table}: {len(a)} rows against {len(b)}")
            continue
        for i, (ra, rb) in enumerate(zip(a, b, strict=True)):
            if len(ra) != len(rb) or not all(_same(x, y) for x, y in zip(ra, rb, strict=True)):
                problems.append(f"{table} row {i}: {ra} != {rb}")
                break
    return problems


def test_a_one_unit_resubmission_through_the_incremental_path_equals_a_full_rebuild(
    published_city: Path, tmp_path: Path
) -> None:
    from pipelines.cli.runner import run_quarters

    incremental = copy_data_dir(published_city, tmp_path / "incremental")
    lay = layout(incremental / "warehouse")
    unit, person = _correct_one_rating(incremental)
    sql = (
        "select eval_score from marts.fct_person_quarter where quarter = ? and unit_code = ? "
        "and person_code = ?"
    )
    with duckdb.connect(str(lay.published), read_only=True) as con:
        before = con.execute(sql, [QUARTER, unit, person]).fetchone()
    messages: list[str] = []
    with pipeline_env(incremental):
        run_quarters([QUARTER], progress=messages.append, report_quarters=[])
    with duckdb.connect(str(lay.published), read_only=True) as con:
        after = con.execute(sql, [QUARTER, unit, person]).fetchone()
        unit_rows = con.execute(
            "select count(*) from marts.fct_person_quarter where quarter = ? and unit_code = ?",
            [QUARTER, unit],
        ).fetchone()
    logs = sorted((incremental / "logs").glob("*.log"))
    log_lines = logs[-1].read_text(encoding="utf-8").splitlines()
    scoped = [line for line in log_lines if "unit-grain" in line]
    assert before is not None and after is not None, (before, after, unit_rows, scoped, messages[-5:])
    assert after[0] < before[0] - 10  # the correction reached the published release
    assert scoped and unit in scoped[-1]  # ... through the unit-scoped path
    for name in QUALITY_TABLES:  # the Python quality tables recomputed the corrected unit only
        assert any(f"quality/{name} {QUARTER}: 1 of " in line for line in log_lines), name

    full = tmp_path / "full"
    for folder in ("landing", "registry"):  # the inputs only; copytree keeps the arrival times
        if (incremental / folder).exists():  # no registry/: both use the reference registry
            shutil.copytree(incremental / folder, full / folder)
    with pipeline_env(full):
        run_quarters(["2025Q3", QUARTER], progress=lambda _m: None, report_quarters=[])

    left, right = _tables(lay.work, incremental), _tables(layout(full / "warehouse").work, full)
    assert left and set(left) == set(right)
    assert sum(len(rows) for rows in left.values()) > 1000
    assert _differences(left, right) == []
    for name in QUALITY_TABLES:  # the files themselves: rows in the same order, the same inputs recorded
        scoped, whole = (d / "quality" / name / f"{QUARTER}.parquet" for d in (incremental, full))
        assert_frame_equal(
            pl.read_parquet(scoped),
            pl.read_parquet(whole),
            check_exact=False,
            rel_tol=0,
            abs_tol=FLOAT_TOLERANCE,
        )
        assert recorded_inputs(scoped) == recorded_inputs(whole) is not None


def test_a_run_with_nothing_new_publishes_nothing(published_city: Path, tmp_path: Path) -> None:
    """The fixture's last release was staged with a fingerprint; running its quarter again on the same
    files rebuilds the same analyst tables, so no release is staged, nothing is re-published and the
    report is not rendered again; the build still becomes the private warehouse."""
    from pipelines.cli.runner import run_quarters
    from pipelines.publish.fingerprint import FINGERPRINT_FACT
    from pipelines.publish.warehouse import read_manifest

    data = copy_data_dir(published_city, tmp_path / "data")
    lay = layout(data / "warehouse")
    before_release, before_releases = lay.current.resolve(), releases(lay)
    assert FINGERPRINT_FACT in read_manifest(before_release)
    report = data / "reports" / QUARTER / f"report-{QUARTER}.html"
    report_time = report.stat().st_mtime_ns
    work_time = lay.work.stat().st_mtime_ns
    stages: list[str] = []
    with pipeline_env(data):
        run_quarters([QUARTER], progress=lambda _m: None, on_stage=lambda s, q, t: stages.append(s))
    assert lay.current.resolve() == before_release
    assert releases(lay) == before_releases
    assert "dbt" in stages and "publish" in stages  # the release step ran and decided
    assert report.stat().st_mtime_ns == report_time  # no new report of the unchanged release
    assert lay.work.stat().st_mtime_ns != work_time  # the build was promoted
    assert not (lay.builds / "build.duckdb").exists()
