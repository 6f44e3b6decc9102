"""The Python quality assets' table builders and the benchmark's label reader on small hand-made data."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.bench.detection import read_labels
from pipelines.defs.quality.assets import (
    ALL_TIERS,
    COMPOSITES_KEY,
    FAIR_KEY,
    LENIENCY_KEY,
    fair_scores_frame,
    leniency_frame,
    quality_findings,
    quarter_ratings,
    reliability_frame,
)
from pipelines.quality.facets import fair_evaluation_scores


def _ratings(tmp: Path) -> Path:
    """A DuckDB with dbt's intermediate.int_rating_composites (the columns the assets read) for 2025Q1."""
    rows = []
    for ratee, base in (("A", 90), ("B", 80), ("C", 70)):
        for rater, bump in (("R1", 0), ("R2", 2), ("R3", -1)):
            rows.append(("2025Q1", "U", ratee, "科室工作人员", rater, float(base + bump), True))
    rows.append(("2025Q1", "U", "A", "科室工作人员", "A", 97.0, False))  # a self-rating: excluded
    rows.append(("2025Q2", "U", "A", "科室工作人员", "R1", 50.0, True))  # another quarter
    database = tmp / "build.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema intermediate")
        con.execute(
            """create table intermediate.int_rating_composites (quarter varchar, unit_code varchar,
            ratee_code varchar, rater_tier varchar, rater_code varchar, composite_score double,
            is_usable boolean)"""
        )
        con.executemany("insert into intermediate.int_rating_composites values (?, ?, ?, ?, ?, ?, ?)", rows)
    return database


def _use_build(monkeypatch: pytest.MonkeyPatch, database: Path, data: Path) -> None:
    """Materialisations read `database` as the run's build and write under `data`."""
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(database))
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(data))


def test_quarter_ratings_and_reliability(tmp_path: Path) -> None:
    ratings = quarter_ratings(_ratings(tmp_path), "2025Q1")
    assert ratings.height == 9  # the self-rating and the other quarter are gone
    assert ratings.filter(pl.col("ratee_code") == "A", pl.col("rater_code") == "R2")["composite"][
        0
    ] == pytest.approx(92)
    table = reliability_frame(ratings)
    assert set(table["rater_tier"]) == {"科室工作人员", ALL_TIERS}
    overall = table.filter(pl.col("rater_tier") == ALL_TIERS).row(0, named=True)
    assert overall["n_ratees"] == 3 and overall["icc_1k"] > 0.9  # ratees differ far more than raters


def test_missing_quarter_gives_empty_ratings(tmp_path: Path) -> None:
    empty = quarter_ratings(_ratings(tmp_path), "2025Q3")
    assert empty.is_empty() and empty.schema["composite"] == pl.Float64


def test_read_labels_keeps_codes_as_strings(tmp_path: Path) -> None:
    for period in ("2025Q1", "2025"):
        folder = tmp_path / "ground_truth" / period
        folder.mkdir(parents=True)
        (folder / "anomalies.csv").write_text(
            "code,type,period,unit_code,rater_tier,rater_code,rater_tier_2,rater_code_2,ratee_code\n"
            f"A1,self_rating,{period},U,科室工作人员,P001,,,P001\n",
            encoding="utf-8",
        )
    labels = read_labels(tmp_path)
    assert labels.height == 2 and labels.schema["period"] == pl.String
    assert sorted(labels["period"].to_list()) == ["2025", "2025Q1"]


def test_fair_scores_reuse_the_leniency_table(tmp_path: Path) -> None:
    """quality/fair_scores reads what quality/leniency wrote instead of refitting the facets model."""
    ratings = quarter_ratings(_ratings(tmp_path), "2025Q1")
    leniency = leniency_frame(ratings)
    path = tmp_path / "leniency.parquet"
    leniency.write_parquet(path)  # the round trip through Parquet the assets make
    from_file = fair_scores_frame(ratings, pl.read_parquet(path), "2025Q1")
    refitted = fair_evaluation_scores(ratings, {"科室工作人员": 1.0})
    assert from_file.select("ratee_code", "s_eval", "s_eval_fair").equals(
        refitted.select("ratee_code", "s_eval", "s_eval_fair")
    )
    # R2 is 2 points more lenient than the average rater: A's fair score is its mean minus that spread
    assert from_file.filter(pl.col("ratee_code") == "A")["s_eval_fair"][0] == pytest.approx(90 + 1 / 3)


def test_fair_scores_asset_depends_on_leniency() -> None:
    deps = set(quality_findings.asset_deps[FAIR_KEY])
    assert LENIENCY_KEY in deps
    assert dg.AssetKey(["quality", "leniency"]) == LENIENCY_KEY and LENIENCY_KEY in quality_findings.keys
    # the composite comes from dbt (computed once, in int_rating_composites), not from the raw ratings
    assert COMPOSITES_KEY in deps and dg.AssetKey(["raw", "ratings"]) not in deps
    assert dg.AssetKey(["quality", "fair_scores"]) == FAIR_KEY


def test_labels_of_undelivered_unit_quarters_are_dropped(tmp_path: Path) -> None:
    """A label on a unit that sent nothing (or only a broken file) cannot be detected: the bench drops it."""
    from pipelines.bench.detection import detectable_labels

    truth = tmp_path / "ground_truth"
    rows = {"2025Q1": ["U1,on_time", "U2,missing"], "2025Q2": ["U1,on_time", "U2,on_time"]}
    for quarter, units in rows.items():
        (truth / quarter).mkdir(parents=True)
        (truth / quarter / "submissions.csv").write_text(
            "quarter,unit_code,expected_status\n" + "".join(f"{quarter},{u}\n" for u in units),
            encoding="utf-8",
        )
    labels = pl.DataFrame(
        {
            "code": ["A2", "A2", "A2", "U4", "U4"],
            "period": ["2025Q1", "2025Q1", "2025Q2", "2025", "2025"],
            "unit_code": ["U1", "U2", "U2", "U1", "U2"],
        }
    )
    kept, dropped = detectable_labels(labels, tmp_path)
    assert dropped == 2  # U2's 2025Q1 label and its year label (a quarter of the year is missing)
    assert sorted(zip(kept["period"], kept["unit_code"], strict=True)) == [
        ("2025", "U1"),
        ("2025Q1", "U1"),
        ("2025Q2", "U2"),
    ]


def test_one_run_of_the_three_assets_reads_the_composites_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """quality/reliability, leniency and fair_scores, materialised in one run (one step, two of them
    side by side), share one read of the build and write what each table's own computation gives; a
    second run reads again."""
    from pipelines.defs.quality import assets as quality_assets

    database = _ratings(tmp_path)
    _use_build(monkeypatch, database, tmp_path / "data")
    reads: list[str] = []
    real_read = quality_assets.quarter_ratings

    def counted(path: Path, quarter: str) -> pl.DataFrame:
        reads.append(quarter)
        return real_read(path, quarter)

    monkeypatch.setattr(quality_assets, "quarter_ratings", counted)
    for run in (1, 2):
        assert dg.materialize([quality_assets.quality_findings], partition_key="2025Q1").success
        assert reads == ["2025Q1"] * run
    ratings = real_read(database, "2025Q1")
    written = tmp_path / "data" / "quality"
    assert pl.read_parquet(written / "reliability" / "2025Q1.parquet").equals(reliability_frame(ratings))
    leniency = pl.read_parquet(written / "leniency" / "2025Q1.parquet")
    assert leniency.equals(leniency_frame(ratings))
    assert pl.read_parquet(written / "fair_scores" / "2025Q1.parquet").equals(
        fair_scores_frame(ratings, leniency, "2025Q1")
    )


def _unit_ratings(database: Path, rows: list[tuple[str, str, str, str, float]]) -> None:
    """Write (unit, ratee, tier, rater, composite) rows of 2025Q1 as dbt's int_rating_composites."""
    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(
            """create or replace table intermediate.int_rating_composites (quarter varchar,
            unit_code varchar, ratee_code varchar, rater_tier varchar, rater_code varchar,
            composite_score double, is_usable boolean)"""
        )
        con.executemany(
            "insert into intermediate.int_rating_composites values ('2025Q1', ?, ?, ?, ?, ?, true)", rows
        )


def _city_rows(units: list[str], seed: int) -> list[tuple[str, str, str, str, float]]:
    """Each unit: 8 ratees rated by 6 peers and a leader, two disconnected rater groups in unit 0."""
    import random

    rng = random.Random(seed)
    rows = []
    for u, unit in enumerate(units):
        for p in range(8):
            raters = range(3) if (u == 0 and p < 4) else range(3, 9) if u == 0 else range(6)
            for r in raters:
                rows.append((unit, f"P{p}", "科室工作人员", f"R{r}", round(rng.uniform(70, 100), 1)))
            rows.append((unit, f"P{p}", "分管领导", "L", round(rng.uniform(75, 95), 1)))
    return rows


def _materialized(data: Path, database: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    from pipelines.defs.quality import assets as quality_assets

    _use_build(monkeypatch, database, data)
    result = dg.materialize([quality_assets.quality_findings], partition_key="2025Q1")
    assert result.success
    return {
        event.asset_key.path[-1]: int(event.materialization.metadata["units_recomputed"].value)  # type: ignore[union-attr,arg-type]
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def test_a_changed_unit_is_recomputed_alone_and_the_tables_equal_a_full_recompute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a first run, one unit's ratings change, one unit withdraws and one is new: the second
    run recomputes those (the others' rows come from the files) and writes what a run on an empty
    data folder writes, row for row in the same order."""
    from polars.testing import assert_frame_equal

    database, data = tmp_path / "build.duckdb", tmp_path / "incremental"
    units = ["U1", "U2", "U3", "U4"]
    first = _city_rows(units, seed=1)
    _unit_ratings(database, first)
    assert _materialized(data, database, monkeypatch) == dict.fromkeys(
        ("reliability", "leniency", "fair_scores"), 4
    )
    before = {
        n: pl.read_parquet(data / "quality" / n / "2025Q1.parquet") for n in ("leniency", "reliability")
    }

    changed = [(u, p, t, r, v + 7.5 if (u, p, r) == ("U2", "P3", "R1") else v) for u, p, t, r, v in first]
    changed = [row for row in changed if row[0] != "U3"] + _city_rows(["U5"], seed=2)
    _unit_ratings(database, changed)
    assert _materialized(data, database, monkeypatch) == dict.fromkeys(
        ("reliability", "leniency", "fair_scores"),
        2,  # U2 and U5; U3 only loses its rows
    )
    full = tmp_path / "full"
    assert _materialized(full, database, monkeypatch) == dict.fromkeys(
        ("reliability", "leniency", "fair_scores"), 4
    )
    for name in ("reliability", "leniency", "fair_scores"):
        scoped = pl.read_parquet(data / "quality" / name / "2025Q1.parquet")
        whole = pl.read_parquet(full / "quality" / name / "2025Q1.parquet")
        assert_frame_equal(scoped, whole, check_exact=False, rel_tol=0, abs_tol=1e-12)
        assert set(scoped["unit_code"]) == {"U1", "U2", "U4", "U5"}
    # U2's change moved its leniencies and reliability; U1's rows are the first run's, untouched
    for name, table in before.items():
        scoped = pl.read_parquet(data / "quality" / name / "2025Q1.parquet")
        assert scoped.filter(pl.col("unit_code") == "U1").equals(table.filter(pl.col("unit_code") == "U1"))
        assert not scoped.filter(pl.col("unit_code") == "U2").equals(
            table.filter(pl.col("unit_code") == "U2")
        )


def test_rows_are_reused_only_under_the_same_key_and_fingerprint() -> None:
    from pipelines.quality.incremental import reusable_units, unit_fingerprints

    rows = pl.DataFrame(
        {"unit_code": ["U1", "U1", "U2"], "rater_code": ["R1", "R2", "R1"], "composite": [80.0, 90.0, 70.0]}
    )
    prints = unit_fingerprints(rows)
    assert unit_fingerprints(rows.reverse()) == prints  # row order does not matter
    moved = unit_fingerprints(rows.with_columns(pl.Series("composite", [80.0, 90.0, 70.5])))
    assert moved["U1"] == prints["U1"] and moved["U2"] != prints["U2"]
    assert reusable_units(("k", prints), "k", moved) == {"U1"}
    assert reusable_units(("other code", prints), "k", prints) == set()
    assert reusable_units(None, "k", prints) == set()


def test_each_table_of_the_findings_step_materialises_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one step still makes any one of its tables on its own: fair scores without a leniency file fit
    the facets model themselves and write what the full step writes; reliability alone writes nothing
    else."""
    from pipelines.defs.quality import assets as quality_assets

    database, data = _ratings(tmp_path), tmp_path / "data"
    _use_build(monkeypatch, database, data)
    written = data / "quality"

    def alone(key: dg.AssetKey) -> set[str]:
        result = dg.materialize([quality_findings], partition_key="2025Q1", selection=[key])
        assert result.success
        return {e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key}

    assert alone(FAIR_KEY) == {"fair_scores"}
    assert not (written / "leniency").exists() and not (written / "reliability").exists()
    ratings = quarter_ratings(database, "2025Q1")
    expected = fair_scores_frame(ratings, leniency_frame(ratings), "2025Q1")
    assert pl.read_parquet(written / "fair_scores" / "2025Q1.parquet").equals(expected)
    assert alone(quality_assets.RELIABILITY_KEY) == {"reliability"}
    assert not (written / "leniency").exists()


def test_a_failing_table_fails_the_step_but_the_others_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reliability raising on its thread fails the findings step with that error, while leniency and
    fair scores, computed beside it, are written and materialised (as three separate assets were)."""
    from pipelines.defs.quality import assets as quality_assets

    database, data = _ratings(tmp_path), tmp_path / "data"
    _use_build(monkeypatch, database, data)

    def broken(ratings: pl.DataFrame) -> pl.DataFrame:
        raise RuntimeError("reliability broke")

    monkeypatch.setattr(quality_assets, "reliability_frame", broken)
    result = dg.materialize([quality_findings], partition_key="2025Q1", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "reliability broke" in str(failure.step_failure_data.error)
    recorded = {e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key}
    assert recorded == {"leniency", "fair_scores"}
    assert not (data / "quality" / "reliability").exists()
