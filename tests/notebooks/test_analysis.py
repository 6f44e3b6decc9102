"""pipelines.analysis on tiny hand-made DuckDB files: path resolution, read-only connections, bound
parameters and quarter resolution."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import analysis as an


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_unit_quarter (quarter varchar, unit_code varchar)")
        con.execute(
            "insert into marts.fct_unit_quarter values ('2025Q2', 'A'), ('2025Q3', 'A'), ('2025Q3', 'B')"
        )
    return path


def test_warehouse_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(an.WAREHOUSE_ENV, raising=False)
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    assert an.warehouse_path() == tmp_path.resolve() / "warehouse" / "assessment.duckdb"
    monkeypatch.setenv(an.WAREHOUSE_ENV, str(tmp_path / "other.duckdb"))
    assert an.warehouse_path() == (tmp_path / "other.duckdb").resolve()


def test_connect_to_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(an.WarehouseNotFoundError) as info:
        an.connect(missing)
    message = str(info.value)
    assert "make demo" in message and "找不到" in message and str(missing) in message
    assert isinstance(info.value, FileNotFoundError)
    assert not missing.exists()  # connecting never creates the file


def test_connection_is_read_only(tmp_path: Path) -> None:
    con = an.connect(_warehouse(tmp_path / "w.duckdb"))
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("insert into marts.fct_unit_quarter values ('2025Q4', 'C')")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table marts.x as select 1")
    finally:
        con.close()


def test_query_binds_parameters_and_quarters_resolve(tmp_path: Path) -> None:
    with an.connect(_warehouse(tmp_path / "w.duckdb")) as con:
        hostile = "2025Q3' or '1'='1"
        assert an.query(con, "select * from marts.fct_unit_quarter where quarter = ?", [hostile]).height == 0
        df = an.query(con, "select unit_code from marts.fct_unit_quarter where quarter = $q", {"q": "2025Q3"})
        assert sorted(df["unit_code"]) == ["A", "B"]
        assert an.query(con, "select 1 as x", kind="pandas")["x"].tolist() == [1]
        assert an.quarters(con) == ["2025Q2", "2025Q3"]
        assert an.latest_quarter(con) == "2025Q3"
        assert an.resolve_quarter(con, None) == "2025Q3"
        assert an.resolve_quarter(con, "2025q2") == "2025Q2"
        with pytest.raises(ValueError, match="2025Q1"):
            an.resolve_quarter(con, "2025Q1")
        with pytest.raises(ValueError, match="2025Q3"):
            an.resolve_quarter(con, "Q3")
        assert an.has_table(con, "marts", "fct_unit_quarter")
        assert not an.has_table(con, "marts", "fct_person_tier_score")
        assert an.latest_quarter(con) == "2025Q3"  # the connection is still usable after has_table


def test_labels() -> None:
    assert an.quarter_label("2025Q3") == "2025年第3季度"
    assert an.pct(0.9534) == "95.3%" and an.pct(None) == "—"


def test_the_report_fingerprint_reads_the_warehouse_without_pandas() -> None:
    """The report step computes its fingerprint on every run (most runs then render nothing): importing
    the query helpers must not import pandas, ~0.2 s that only `kind="pandas"` needs (DuckDB imports it
    then). A fresh interpreter, since this one may hold pandas already."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pipelines.report.fingerprint import _shown\n"
        "_shown()\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_chart_without_a_value_is_told_not_drawn() -> None:
    """A probe's quarter with every file rejected drew charts with axes, titles and no bar (one of them
    with bars of NaN only): the notebooks now say so in a sentence instead (an.show)."""
    import math

    import plotly.express as px

    nothing = pl.DataFrame({"unit_level": ["市直", "县直"], "share": [math.nan, None]})
    assert not an.has_data(px.bar(nothing, x="unit_level", y="share"))
    assert not an.has_data(px.histogram(pl.DataFrame({"q": []}, schema={"q": pl.Float64}), x="q"))
    assert not an.has_data(px.bar(nothing, x="share", y="unit_level", orientation="h"))
    assert an.has_data(px.bar(nothing.with_columns(pl.lit(0.4).alias("share")), x="unit_level", y="share"))
    assert an.has_data(px.histogram(pl.DataFrame({"q": [88.5]}), x="q"))
