"""The benchmark command: pure helpers, and one smoke run of `python -m pipelines.bench --smoke`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pipelines.bench import report
from pipelines.bench.baseline import analyst_read, evenly_spaced, run_baseline
from pipelines.bench.floor import (
    MARTS_BY_TIME,
    catalog_of,
    decode_csv,
    heaviest_mart_sql,
    read_all,
    read_cells,
)
from pipelines.bench.incremental import corrected_name
from pipelines.bench.memory import PeakSampler
from pipelines.bench.pipeline import is_mart
from pipelines.bench.resub import main as resub_main
from pipelines.bench.resub import step_seconds
from pipelines.bench.sizes import SIZES, Size, parse_sizes

# -- pure helpers --------------------------------------------------------------------------------------


def test_cache_keys_spell_out_every_generator_argument() -> None:
    assert SIZES["city"].key("2025Q3") == "2025Q3-c1-scale1-uall-seed7"
    assert SIZES["province16"].key("2025Q3") == "2025Q3-c16-scale1-uall-seed7"
    assert Size("x", cities=2, scale=0.5, units=12, seed=3).key("2026Q1") == "2026Q1-c2-scale0.5-u12-seed3"
    assert SIZES["province4"].n_units == 2000


def test_parse_sizes() -> None:
    assert [s.name for s in parse_sizes("city, province4")] == ["city", "province4"]
    assert parse_sizes("province8")[0].cities == 8
    with pytest.raises(ValueError, match="unknown size"):
        parse_sizes("county")


def test_marts_and_catalogs() -> None:
    assert is_mart('"build-abc"."marts"."fct_person_quarter"')
    assert is_mart('"build-abc"."quality"."fct_rating_findings_quarterly"')
    assert not is_mart('"build-abc"."intermediate"."int_quarter_persons"')
    assert not is_mart('"build-abc"."quality"."int_findings_rating_rows"')
    sql = 'select * from "build-74745b72cd01"."intermediate"."int_quarter_persons" where 1 = 1'
    assert catalog_of(sql) == "build-74745b72cd01"
    assert catalog_of("select 1") is None


def test_the_floor_passes_over_an_empty_slowest_mart(tmp_path: Path) -> None:
    # On a dozen units the slowest mart can be an empty one (annual results without a Q4); the floor
    # times the slowest that holds rows, and falls back to the slowest when every one is empty.
    import duckdb

    database = tmp_path / "work.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_full as select range as n from range(5)")
        con.execute("create table marts.fct_empty (n integer)")

    def mart(name: str, seconds: float) -> dict[str, object]:
        return {
            "relation": f'"work"."marts"."{name}"',
            "seconds": seconds,
            "compiled_code": f"select * from marts.{name}",
        }

    chosen = heaviest_mart_sql(database, {MARTS_BY_TIME: [mart("fct_empty", 0.3), mart("fct_full", 0.1)]})
    assert chosen is not None and (chosen.mart, chosen.rows, chosen.dbt_seconds) == ("marts.fct_full", 5, 0.1)
    only_empty = heaviest_mart_sql(database, {MARTS_BY_TIME: [mart("fct_empty", 0.3)]})
    assert only_empty is not None and (only_empty.mart, only_empty.rows) == ("marts.fct_empty", 0)


def test_ratios_and_scaling() -> None:
    assert report.ratio(90.0, 30.0) == 3.0
    assert report.ratio(1.0, 0.0) is None
    assert report.ratio(None, 3.0) is None
    sizes = {
        "city": {"name": "city", "units": 500, "end_to_end_seconds": 100.0},
        "province4": {"name": "province4", "units": 2000, "end_to_end_seconds": 300.0},
        "province16": {"name": "province16", "units": 8000, "end_to_end_seconds": 1500.0},
    }
    steps = report.scaling(sizes)
    assert [(s["from"], s["to"], s["at_most_linear"]) for s in steps] == [
        ("city", "province4", True),
        ("province4", "province16", False),  # 5× the time for 4× the units
    ]


def test_targets_name_every_measured_limit() -> None:
    result = {
        "sizes": {
            "city": {
                "units": 500,
                "end_to_end_seconds": 24.0,
                "incremental": {"seconds": 12.0},
                "ratios": {"baseline_ingest_over_our_ingest": 12.0},
            },
        },
        "scaling": [],
    }
    by_name = {t["target"]: t["met"] for t in report.targets(result)}
    assert by_name == {
        "city quarter end to end": True,
        "incremental single-unit re-run to a published warehouse (city)": False,
        "ingest vs openpyxl+pandas baseline (city)": True,
    }


def test_the_speed_workload_grows_with_its_size_and_the_note_compares_two_runs() -> None:
    from pipelines.bench.calibration import python_loop_seconds, speed_note

    assert 0 < python_loop_seconds(20_000, repeats=3) < python_loop_seconds(2_000_000, repeats=1)
    now = {"machine": {"speed_before": 0.150, "speed_after": 0.152}}
    assert "agrees" in speed_note(now, {"machine": {"speed_before": 0.148}})
    slower = speed_note(now, {"machine": {"speed_before": 0.125}})
    assert "20% slower" in slower and "ratios, not seconds" in slower
    assert "25% faster" in speed_note(now, {"machine": {"speed_before": 0.2}})
    assert "0.152 s after" in speed_note(now, None)
    assert speed_note({"machine": {}}, None) == "machine speed: not measured"


def test_evenly_spaced_sample() -> None:
    items = [Path(f"{i:03}") for i in range(10)]
    assert evenly_spaced(items, 20) == items
    assert evenly_spaced(items, 5) == [items[0], items[2], items[4], items[6], items[8]]
    assert evenly_spaced(items, 0) == []


def test_resub_reads_step_times_from_a_run_log_and_refuses_a_folder_never_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = "INFO assessment.run_file.x.log - quarterly_pipeline - 41f4ef7e - 123 -"
    lines = [
        f"2026-12-06 21:42:08,500 {prefix} ingest_quarter - STEP_START - Started execution",
        f"2026-12-06 21:42:09,760 {prefix} ingest_quarter - STEP_SUCCESS - Finished execution",
        f"2026-12-06 21:42:09,800 {prefix} warehouse_publish - STEP_START - Started execution",
        "[0m21:42:09  1 of 75 START sql view model staging.stg_adjustments ....... [RUN]",
        f"2026-12-06 21:42:09,900 {prefix} report - STEP_SUCCESS - a step that never started",
    ]
    assert step_seconds(lines) == {"ingest_quarter": 1.26}
    with pytest.raises(SystemExit) as refused:
        resub_main([str(tmp_path)])
    assert refused.value.code == 2
    assert "not a data folder after a full run" in capsys.readouterr().err


def test_corrected_names_never_overwrite(tmp_path: Path) -> None:
    original = tmp_path / "2025Q3_市委办公室.xlsx"
    original.write_bytes(b"x")
    first = corrected_name(tmp_path, original)
    assert first.name == "2025Q3_市委办公室（修改版）.xlsx"
    first.write_bytes(b"y")
    assert corrected_name(tmp_path, first).name == "2025Q3_市委办公室（修改版2）.xlsx"


def test_csv_decoding_and_reading(tmp_path: Path) -> None:
    text = "人员编号,姓名\nP001,张三\nP002,李四\n"
    assert decode_csv(text.encode("gb18030")) == text
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    path = tmp_path / "人员名册.csv"
    path.write_bytes(text.encode("gb18030"))
    assert read_cells(path) == 6  # header row included: the floor reads every cell
    assert analyst_read(path) == 4  # pandas takes the first row as the header
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    assert read_cells(broken) == -1
    figures = read_all([path, broken], workers=1)
    assert (figures.files, figures.unreadable, figures.cells) == (2, 1, 6)
    base = run_baseline([path, broken], max_files=1)
    assert base.sampled and base.measured_files == 1 and base.files == 2


def test_peak_sampler_sees_this_process() -> None:
    with PeakSampler(pid=os.getpid(), interval=0.01) as sampler:
        before = time.time()
        sampler.sample()
        block = bytearray(50 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        sampler.sample()
        after = time.time()
    assert sampler.peak_bytes >= 50 * 1024 * 1024
    # a window over the samples: the peak after the allocation is in it, none is outside the run
    assert sampler.peak_between(before, after) >= 50 * 1024 * 1024
    assert sampler.peak_between(after + 60, after + 120) is None
    del block


# -- the smoke run -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_smoke_run_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.bench.__main__ import main

    for var in ("ASSESSMENT_DATA_DIR", "ASSESSMENT_DUCKDB", "ASSESSMENT_REGISTRY_CSV", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    # The incremental run is the same pipeline run again; tests/publish/test_pipeline_runs.py covers a
    # corrected resubmission end to end, and test_resubmit_changes_one_score the file the bench writes.
    assert main(["--smoke", "--root", str(tmp_path), "--incremental", "none"]) == 0

    (json_path,) = sorted((tmp_path / "results").glob("bench-*.json"))
    result = json.loads(json_path.read_text(encoding="utf-8"))
    smoke = result["sizes"]["smoke"]
    for stage in ("reference", "ingest", "findings", "dbt", "publish"):
        assert smoke["stages"][stage]["seconds"] > 0, stage
        assert smoke["stages"][stage]["rows"] > 0, stage
        # every stage's memory is attributed from the samples taken while it ran
        assert 0 < smoke["stages"][stage]["peak_memory_bytes"] <= smoke["peak_memory_bytes"], stage
    assert smoke["end_to_end_seconds"] >= sum(s["seconds"] for s in smoke["stages"].values()) * 0.99
    # analysts see the new release before the report is rendered: that is when the clock stops for a re-run
    assert 0 < smoke["seconds_to_published"] < smoke["end_to_end_seconds"]
    assert smoke["peak_memory_bytes"] > 100 * 1024 * 1024
    assert smoke["warehouse_bytes"]["published"] > 0
    assert smoke["floor"]["read"]["cells"] > 0
    assert smoke["floor"]["mart_sql"]["rows"] > 0
    assert smoke["baseline"]["measured_files"] == 5
    assert smoke["ratios"]["end_to_end_over_floor"] > 1
    assert smoke["ratios"]["baseline_ingest_over_our_ingest"] > 0
    # the run prefetched (pipelines/ingest/prefetch.py): ingestion counts the prefetch's head start too
    assert smoke["ingestion_seconds"] > smoke["stages"]["ingest"]["seconds"]
    ratio = smoke["baseline"]["seconds"] / smoke["ingestion_seconds"]
    assert smoke["ratios"]["baseline_ingest_over_our_ingest"] == pytest.approx(ratio, abs=0.01)
    assert "incremental" not in smoke
    assert result["machine"]["speed_before"] > 0 and result["machine"]["speed_after"] > 0
    probes = smoke["speed_during"]  # one a second while the pipeline ran
    assert probes["probes"] >= 1 and 0 < probes["fastest"] <= probes["median"] <= probes["slowest"]
    assert (tmp_path / "results" / json_path.name.replace(".json", ".html")).stat().st_size > 0
    # Generated data is cached by arguments: the marker exists, and a second run would reuse it.
    assert (tmp_path / SIZES["smoke"].key("2025Q3") / "gen" / ".bench-generated.json").exists()


@pytest.mark.slow
def test_resubmit_changes_one_score(
    clean_quarter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl

    from pipelines.bench.incremental import resubmit
    from pipelines.ingest.run import ingest_quarter
    from tests.conftest import copy_data_dir

    data = copy_data_dir(clean_quarter, tmp_path / "data")
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(data))
    ingest_quarter("2025Q3")  # the ledger tells which workbook is each unit's current submission
    resub = resubmit(data, "2025Q3")
    assert resub.corrected.parent == resub.original.parent and resub.corrected != resub.original
    assert abs(resub.new_value - resub.old_value) == 1
    sheet = "评议打分"
    before = openpyxl.load_workbook(resub.original)[sheet]
    after = openpyxl.load_workbook(resub.corrected)[sheet]
    changed = [
        a.coordinate
        for row_a, row_b in zip(before.iter_rows(), after.iter_rows(), strict=True)
        for a, b in zip(row_a, row_b, strict=True)
        if a.value != b.value
    ]
    assert changed == [resub.cell]
    others = [p.stat().st_mtime_ns for p in resub.original.parent.iterdir() if p != resub.corrected]
    assert resub.corrected.stat().st_mtime_ns > max(others)  # it arrives last, so it becomes current
