"""The `assessment` command: every operator mistake is one line on stderr and an exit code, never a
traceback; quarters come from the rules files; `status --xlsx` writes a list Excel cannot execute.

The commands run for real (typer's CliRunner in-process, and the installed console script in a
subprocess) against temporary data directories."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli.app import app
from pipelines.cli.errors import ENVIRONMENT, USAGE
from pipelines.cli.xlsx import neutralise, write_unit_list
from pipelines.defs.partitions import quarter_keys
from pipelines.paths import rules_dir

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "assessment"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("ASSESSMENT_DUCKDB", raising=False)
    monkeypatch.delenv("ASSESSMENT_RULES_DIR", raising=False)
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_malformed_quarter_is_one_line(data: Path) -> None:
    code, _, err = invoke("status", "--quarter", "2025q9")
    assert code == USAGE
    assert one_line(err) == (
        "错误 error: 季度格式不对 malformed quarter '2025q9': expected e.g. 2025Q3, 2025-Q3"
    )


def test_a_quarter_of_a_year_without_rules_is_one_line(data: Path) -> None:
    code, _, err = invoke("run", "--quarter", "2030Q1")
    assert code == USAGE
    line = one_line(err)
    assert "no rules file for 2030" in line and str(rules_dir() / "2030.toml") in line
    assert "known quarters: 2025Q1..2026Q4" in line


def test_a_range_reaching_a_year_without_rules_is_one_line(data: Path) -> None:
    code, _, err = invoke("demo", "--quarters", "2026Q3..2027Q2")
    assert code == USAGE
    assert "no rules file for 2027" in one_line(err)
    assert not (data / "landing").exists()  # refused before generating anything


def test_a_missing_landing_folder_is_one_line(data: Path) -> None:
    code, _, err = invoke("run", "--quarter", "2025Q3")
    assert code == ENVIRONMENT
    assert (
        one_line(err)
        == f"错误 error: 没有报送目录 no landing folder for 2025Q3: {data / 'landing' / '2025Q3'}"
    )
    code, _, err = invoke("run", "--all")
    assert code == ENVIRONMENT and "no quarter folder in" in one_line(err)


def test_a_pinned_build_file_is_refused_in_one_line(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (data / "landing" / "2025Q3").mkdir(parents=True)
    monkeypatch.setenv("ASSESSMENT_DUCKDB", str(data / "mine.duckdb"))
    code, _, err = invoke("run", "--quarter", "2025Q3")
    assert code == ENVIRONMENT and "ASSESSMENT_DUCKDB 已设置 is set" in one_line(err)


def test_bad_paths_are_one_line(data: Path, tmp_path: Path) -> None:
    code, _, err = invoke("--data-dir", str(tmp_path / "nowhere"), "status", "--quarter", "2025Q3")
    assert code == USAGE
    assert one_line(err) == f"错误 error: 数据目录不存在 data directory not found: {tmp_path / 'nowhere'}"
    code, _, err = invoke("status", "--quarter", "2025Q3", "--xlsx", str(tmp_path / "no" / "list.xlsx"))
    assert code == USAGE and "output folder not found" in one_line(err)
    # a probe's `--xlsx u.csv` wrote a workbook named .csv
    code, _, err = invoke("status", "--quarter", "2025Q3", "--xlsx", str(tmp_path / "u.csv"))
    assert code == USAGE and "output file must end in .xlsx" in one_line(err)
    code, _, err = invoke("status", "--quarter", "2025Q3")
    assert code == USAGE and "has not been ingested yet" in one_line(err)
    code, _, err = invoke("restore", "--release", "20250101T000000Z-nothing")
    assert code == USAGE and "no published release" in one_line(err)
    code, _, err = invoke("run")
    assert code == USAGE and "--quarter or --all" in one_line(err)


HOLD_LOCK = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])   # read-write: DuckDB's process lock on the file
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


def test_a_locked_warehouse_is_one_line(data: Path) -> None:
    (data / "landing" / "2025Q3").mkdir(parents=True)
    work = data / "warehouse" / "private" / "work.duckdb"
    work.parent.mkdir(parents=True)
    duckdb.connect(str(work)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(work)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = invoke("run", "--quarter", "2025Q3")
    finally:
        holder.communicate("\n", timeout=30)
    assert code == ENVIRONMENT
    line = one_line(err)
    assert f"warehouse file locked by PID {holder.pid}: {work}" in line
    assert not (data / "warehouse" / "builds").exists()  # nothing started


def test_a_second_run_is_refused_by_the_run_lock_before_it_opens_the_running_builds_file(data: Path) -> None:
    """A probe's second `run` opened build.duckdb to check it for notebooks while the first run was
    building it, and the first run failed. The run lock is checked first now: the file is never touched."""
    from tests.test_runlock import held_elsewhere

    (data / "landing" / "2025Q3").mkdir(parents=True)
    build = data / "warehouse" / "builds" / "build.duckdb"
    build.parent.mkdir(parents=True)
    duckdb.connect(str(build)).close()
    with held_elsewhere(data) as running:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(build)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            code, _, err = invoke("run", "--quarter", "2025Q3")
            restored, _, restore_err = invoke("restore", "--release", "whatever")
        finally:
            holder.communicate("\n", timeout=30)
    assert code == ENVIRONMENT and restored == ENVIRONMENT
    for line in (one_line(err), one_line(restore_err)):  # restore too: it prunes what a run has staged
        assert "another run is writing the warehouse" in line and str(running.pid) in line
        assert "warehouse file locked" not in line


def test_the_demo_leaves_the_landing_area_alone_while_another_run_holds_the_lock(data: Path) -> None:
    """A probe's `demo` deleted and regenerated landing/2025Q3 (8 units became 2) under a running
    `assessment run`, and only then was refused by the lock."""
    from tests.test_runlock import held_elsewhere

    sent = data / "landing" / "2025Q3" / "371600-S-001" / "平时考核.xlsx"
    sent.parent.mkdir(parents=True)
    sent.write_bytes(b"a unit's file")
    with held_elsewhere(data) as running:
        code, _, err = invoke("demo", "--quarters", "2025Q3", "--units", "2")
    assert code == ENVIRONMENT and str(running.pid) in one_line(err)
    assert [p.relative_to(data).as_posix() for p in (data / "landing").rglob("*")] == [
        "landing/2025Q3",
        "landing/2025Q3/371600-S-001",
        "landing/2025Q3/371600-S-001/平时考核.xlsx",
    ]


def test_a_damaged_release_manifest_is_listed_not_fatal(data: Path) -> None:
    from pipelines.publish.warehouse import DAMAGED, layout, prune, read_manifest, write_manifest

    lay = layout()
    good, bad = lay.releases / "20260101T000000Z-a", lay.releases / "20250101T000000Z-b"
    for release in (good, bad):
        release.mkdir(parents=True)
        write_manifest(release, {"published_at": "2026-01-01T00:00:00+00:00"})
    (bad / "release.json").write_text("{broken", encoding="utf-8")  # as a crash mid-write used to leave
    assert DAMAGED in read_manifest(bad)
    assert not list(good.glob(".*partial"))  # written whole, through a renamed temporary file
    code, listing, err = invoke("releases")
    assert code == 0 and "Traceback" not in err
    assert "20250101T000000Z-b" in listing and "damaged" in listing
    prune(lay, keep=5)  # kept: it may be a published release
    assert bad.exists()


def test_a_report_that_cannot_render_is_one_line(data: Path) -> None:
    """A quarter the warehouse does not hold, or a damaged file: the notebook fails (its failed copy is
    kept for whoever debugs it) and the operator reads one line, not the kernel's traceback."""
    published = data / "warehouse" / "assessment.duckdb"
    published.parent.mkdir(parents=True)
    duckdb.connect(str(published)).close()  # published, but holding no table
    code, _, err = invoke("report", "--quarter", "2025Q3")
    line = one_line(err)
    assert code != 0 and "报告未生成 report not rendered" in line and "CatalogException" in line
    assert (data / "reports" / "2025Q3" / "report-2025Q3.failed.ipynb").is_file()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["run", "2025Q3"], "unexpected extra argument"),
        (["run", "--bogus"], "No such option: --bogus"),
        (["restore"], "Missing option '--release'"),
        (["--data-dir", "", "where"], "data directory is empty"),
    ],
)
def test_what_the_parser_refuses_is_one_line_naming_help(
    data: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    from pipelines.cli.app import main

    assert main(argv) == USAGE
    line = one_line(capsys.readouterr().err)
    assert said in line and ("--help" in line or "--data-dir" not in said)


def test_a_folder_where_the_run_lock_file_belongs_is_one_line(data: Path) -> None:
    (data / "landing" / "2025Q3").mkdir(parents=True)
    (data / ".run.lock").mkdir()
    code, _, err = invoke("run", "--quarter", "2025Q3")
    line = one_line(err)
    assert code == ENVIRONMENT and "file system error" in line and ".run.lock" in line


def test_the_current_folder_given_as_dot_is_a_data_directory(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--data-dir ""` is refused; `--data-dir .` means the current folder, on purpose."""
    monkeypatch.chdir(data)
    code, out_text, err = invoke("--data-dir", ".", "where")
    assert code == 0 and not err.strip() and str(data) in out_text


def test_a_damaged_dagster_history_is_one_line(data: Path, tmp_path: Path) -> None:
    (data / "landing" / "2025Q3").mkdir(parents=True)
    history = tmp_path / "dagster" / "history"
    history.mkdir(parents=True)
    (tmp_path / "dagster" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    (history / "runs.db").write_bytes(b"not a sqlite database" * 50)
    code, _, err = invoke("run", "--quarter", "2025Q3")
    line = one_line(err)
    assert code == ENVIRONMENT and "run history cannot be read" in line and "move that folder aside" in line


def test_a_damaged_warehouse_file_is_one_line(data: Path) -> None:
    (data / "landing" / "2025Q3").mkdir(parents=True)
    work = data / "warehouse" / "private" / "work.duckdb"
    work.parent.mkdir(parents=True)
    work.write_bytes(b"not a duckdb file" * 100)
    code, _, err = invoke("run", "--quarter", "2025Q3")
    assert code == ENVIRONMENT and "warehouse file cannot be opened" in one_line(err)
    assert "move it aside" in err


def test_the_installed_script_and_the_old_module_give_the_same_one_line(data: Path) -> None:
    for command in ([str(SCRIPT)], [sys.executable, "-m", "pipelines.ops"]):
        done = subprocess.run(
            [*command, "run", "--quarter", "2025Q9"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == USAGE
        assert "malformed quarter '2025Q9'" in one_line(done.stderr)
        assert done.stdout == ""


def test_quarters_come_from_the_rules_files(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for year in ("2025", "2026"):
        (rules / f"{year}.toml").write_bytes((rules_dir() / f"{year}.toml").read_bytes())
    assert quarter_keys(rules) == [f"{y}Q{q}" for y in (2025, 2026) for q in (1, 2, 3, 4)]
    (rules / "notes.toml").write_text("# not a year", encoding="utf-8")
    (rules / "2028.toml").write_text(_rules_for(2028), encoding="utf-8")
    assert quarter_keys(rules)[-5:] == ["2026Q4", "2028Q1", "2028Q2", "2028Q3", "2028Q4"]


def _rules_for(year: int) -> str:
    """Next year's rules as an operator makes them: a copy of 2026.toml with its year changed."""
    text = (rules_dir() / "2026.toml").read_text(encoding="utf-8")
    return text.replace("year = 2026", f"year = {year}").replace('version = "2026"', f'version = "{year}"')


RUN_2028Q1 = textwrap.dedent(
    """
    import dagster as dg
    from pipelines.definitions import defs
    job = defs().resolve_job_def("quarterly_pipeline")
    assert "2028Q1" in job.partitions_def.get_partition_keys(), job.partitions_def.get_partition_keys()
    result = defs().resolve_job_def("ingest").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key="2028Q1")
    status = [m for m in result.get_asset_materialization_events()
              if m.asset_key == dg.AssetKey(["raw", "unit_status"])][0]
    meta = status.step_materialization_data.materialization.metadata
    print(meta["deadline_from"].value, meta["deadline"].value)
    """
)


def test_a_rules_file_for_2028_makes_2028q1_runnable_without_code_changes(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for year in ("2025", "2026"):
        (rules / f"{year}.toml").write_bytes((rules_dir() / f"{year}.toml").read_bytes())
    data = tmp_path / "data"
    (data / "landing" / "2028Q1").mkdir(parents=True)  # nobody has submitted yet
    env = {
        **os.environ,
        "ASSESSMENT_RULES_DIR": str(rules),
        "ASSESSMENT_DATA_DIR": str(data),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    env.pop("ASSESSMENT_DUCKDB", None)
    before = subprocess.run(
        [str(SCRIPT), "status", "--quarter", "2028Q1"], env=env, capture_output=True, text=True, check=False
    )
    assert before.returncode == USAGE and "no rules file for 2028" in one_line(before.stderr)

    (rules / "2028.toml").write_text(_rules_for(2028), encoding="utf-8")
    ingest = subprocess.run(
        [sys.executable, "-c", RUN_2028Q1], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert ingest.stdout.split()[:2] == ["rules", "2028"]  # the deadline came from the new file
    after = subprocess.run(
        [str(SCRIPT), "status", "--quarter", "2028Q1"], env=env, capture_output=True, text=True, check=False
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("2028Q1: 按时 on time 0, 逾期 late 0, 退回 rejected 0, 未报 missing ")


def test_the_unit_list_neutralises_formula_like_text(tmp_path: Path) -> None:
    assert [neutralise(s) for s in ("=1+1", "+86", "-x", "@SUM(A1)", "市委办公室", "")] == [
        "'=1+1",
        "'+86",
        "'-x",
        "'@SUM(A1)",
        "市委办公室",
        "",
    ]
    table = pl.DataFrame(
        {
            "quarter": ["2025Q3", "2025Q3"],
            "unit_code": ["371600-S-001", "371602-X-001"],
            "unit_name": ['=HYPERLINK("http://x","点我")', "滨城区委办公室"],
            "county": ["市直", "滨城区"],
            "status": ["missing", "on_time"],
            "files_seen": [0, 2],
        }
    )
    path = write_unit_list(table, tmp_path / "list.xlsx")
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("季度", "单位编码", "单位名称")
    assert rows[1][2] == '\'=HYPERLINK("http://x","点我")'  # text, not a formula
    assert sheet.cell(row=2, column=3).data_type == "s"
    assert rows[2][5] == 2
    # under the Chinese header, the statuses as the terminal shows them (a probe found the codes)
    assert [r[4] for r in rows[1:]] == ["未报 missing", "按时 on time"]


def test_a_run_of_several_quarters_is_one_launch_each_and_publishes_once() -> None:
    from pipelines.cli.runner import asset_index, plan_launches
    from pipelines.definitions import defs

    index = asset_index(defs())
    two = plan_launches(index, ["2025Q3", "2025Q4"], ["2025Q4"])
    assert [(launch.quarter, launch.publishes) for launch in two] == [
        ("2025Q3", False),
        ("2025Q4", True),
        ("2025Q3", False),  # 2025Q3's deliverables, written from the published warehouse
    ]
    first, last, after = (set(launch.assets) for launch in two)
    assert index.deliverables and after == set(index.deliverables) and set(index.deliverables) <= last
    assert not set(index.deliverables) & first
    assert set(index.reference) <= first and not set(index.reference) & last  # reference data once
    assert set(index.partitioned) <= first and set(index.partitioned) <= last
    assert not (set(index.annual) | set(index.report)) & first  # nothing published halfway
    assert set(index.annual) | set(index.report) <= last
    assert {k.to_user_string() for k in index.annual} >= {"warehouse/release", "warehouse/published"}
    (only,) = plan_launches(index, ["2025Q4"], [])
    assert only.publishes and not set(index.report) & set(only.assets)
    assert {index.stage_of_step[s] for s in ("ingest_quarter", "warehouse_quarter_models")} == {
        "ingest",
        "dbt",
    }


def test_parse_workers_report_each_finished_file() -> None:
    from pipelines.ingest.workers import run_isolated

    seen: list[int] = []
    outcomes = run_isolated(abs, [-1, -2, -3, -4], workers=2, on_done=seen.append)
    assert [o.value for o in outcomes] == [1, 2, 3, 4]
    assert seen[-1] == 4 and seen == sorted(seen) and len(set(seen)) == len(seen)
    inline: list[int] = []
    run_isolated(abs, [-1, -2], workers=0, on_done=inline.append)
    assert inline == [1, 2]


HEAD_START_PROBE = """
import sys
from pathlib import Path
from pipelines.ingest import prefetch

def probe(quarters, data_dir, log_file):
    Path(sys.argv[1]).write_text(f"dagster imported: {'dagster' in sys.modules}", encoding="utf-8")
    raise KeyboardInterrupt  # the command's one-line "interrupted", before anything runs

prefetch.start = probe
from pipelines.cli.app import main
sys.exit(main(["run", "--quarter", "2025Q3"]))
"""


def test_the_run_command_starts_ingestion_before_it_imports_dagster(data: Path, tmp_path: Path) -> None:
    """Archiving and parsing run in a process of their own from before Dagster is imported: the
    command's first ~0.6 s (Dagster and the runner) are no longer spent before they start."""
    (data / "landing" / "2025Q3").mkdir(parents=True)
    seen = tmp_path / "seen.txt"
    done = subprocess.run(
        [sys.executable, "-c", HEAD_START_PROBE, str(seen)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ASSESSMENT_DEMO": "1"},
    )
    assert seen.read_text(encoding="utf-8") == "dagster imported: False", done.stderr
    assert done.returncode == 130
    assert one_line(done.stderr) == "错误 error: 已中断 interrupted"


@pytest.mark.parametrize(
    ("published", "said"),
    [
        (False, "运行失败，已发布的仓库未变 run failed, published warehouse unchanged: 2027Q1: report"),
        # a probe's run published, then its report failed: "unchanged" was untrue
        (True, "运行失败，新版本已发布 run failed after publishing a new release: 2027Q1: report"),
    ],
)
def test_a_failed_run_says_whether_it_published(
    published: bool, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from pipelines.cli.app import one_line_errors
    from pipelines.cli.errors import FAILED, RunFailedError

    @one_line_errors
    def run() -> None:
        raise RunFailedError("2027Q1: report__quarterly: 2027Q1 is not in the warehouse", published=published)

    with pytest.raises(typer.Exit) as info:
        run()
    assert info.value.exit_code == FAILED
    assert capsys.readouterr().err.startswith(f"错误 error: {said}")


def test_a_failed_step_is_drawn_failed_not_done() -> None:
    """A probe saw `✓ 2025Q3 参考数据 reference data · reference_data… 1/1` for the step that failed: the
    ✓ came with completion and the failure mark was cut off behind the 48-cell label."""
    import io

    from rich.console import Console

    from pipelines.cli.display import RichProgress

    out = io.StringIO()
    with RichProgress(Console(file=out, width=120, force_terminal=False)) as progress:
        progress.launch("2025Q3", 2)
        for step, ok in (("reference_data", False), ("ingest_quarter", True)):
            progress.step_started("reference", step, None)
            progress.step_finished("reference", step, 0.1, ok)
    failed, done = out.getvalue().strip().splitlines()[-2:]
    assert failed.startswith("✗ 失败 failed 2025Q3") and "1/1" not in failed
    assert done.startswith("✓ 2025Q3") and "1/1" in done


def test_quarters_outside_the_command_whose_files_it_changes_get_their_deliverables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two probes: after a 2025Q2 correction the 2025Q4 folder kept the year's old cadre list (P064 still
    优秀), and a review register for 2025Q2 applied by a 2025Q4 run got no receipt and left 2025Q2's
    unit workbook showing the old grade."""
    from pipelines.cli.runner import asset_index, others_to_deliver, plan_launches
    from pipelines.definitions import defs

    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    for quarter in ("2025Q1", "2025Q2", "2025Q4", "2026Q1"):
        (tmp_path / "deliverables" / quarter).mkdir(parents=True)
    (tmp_path / "landing" / "2026Q1" / "_reviews").mkdir(parents=True)  # a decision about 2026Q1
    (tmp_path / "landing" / "2025Q3" / "_reviews").mkdir(parents=True)  # never delivered: its own run
    # the command's year's other delivered quarters, and a delivered quarter with a review register
    assert others_to_deliver(["2025Q2"]) == ["2025Q1", "2025Q4", "2026Q1"]
    assert others_to_deliver(["2026Q1"]) == []
    index = asset_index(defs())
    plan = plan_launches(index, ["2025Q2"], [], others_to_deliver(["2025Q2"]))
    assert [(launch.quarter, launch.publishes) for launch in plan] == [
        ("2025Q2", True),
        ("2025Q1", False),
        ("2025Q4", False),
        ("2026Q1", False),
    ]
    assert all(set(launch.assets) == set(index.deliverables) for launch in plan[1:])


def test_status_with_a_registry_that_is_not_there_is_one_line(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe's ASSESSMENT_REGISTRY_CSV pointing nowhere gave `status` a RegistryError traceback (`run`
    already said it in one line)."""
    status = data / "raw" / "unit_status" / "2025Q3.parquet"
    status.parent.mkdir(parents=True)
    pl.DataFrame(
        {"quarter": ["2025Q3"], "unit_code": ["371600-S-001"], "status": ["on_time"], "files_seen": [1]}
    ).write_parquet(status)
    monkeypatch.setenv("ASSESSMENT_REGISTRY_CSV", str(tmp_path / "nowhere.csv"))
    code, _, err = invoke("status", "--quarter", "2025Q3")
    assert code == ENVIRONMENT
    assert one_line(err).startswith("错误 error: 单位名录有误 unit registry refused:")
    assert "nowhere.csv" in err


def test_the_data_directory_from_the_environment_is_checked_like_the_option(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe's ASSESSMENT_DATA_DIR naming a file made `status` say "not ingested" and `run` "no landing
    folder"; set but empty, it made the current folder the data directory."""
    from pipelines.paths import PROJECT_ROOT, data_dir

    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(a_file))
    code, _, err = invoke("status", "--quarter", "2025Q3")
    assert code == USAGE and "data directory is not a folder" in one_line(err)
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", "")
    assert data_dir() == (PROJECT_ROOT / "data").resolve()


@pytest.mark.parametrize("value", ["garbage", "1KB", "2 G", "0GB"])
def test_an_unusable_duckdb_memory_limit_is_refused_before_the_run(
    data: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A probe's ASSESSMENT_DUCKDB_MEMORY=garbage ingested the quarter, then stopped at dbt with only
    "dbt build failed:" on the terminal."""
    (data / "landing" / "2025Q3").mkdir(parents=True)
    monkeypatch.setenv("ASSESSMENT_DUCKDB_MEMORY", value)
    code, _, err = invoke("run", "--quarter", "2025Q3")
    assert code == ENVIRONMENT and f"ASSESSMENT_DUCKDB_MEMORY={value}" in one_line(err)
    assert not (data / "archive").exists()


@pytest.mark.parametrize("value", ["2500MB", "2GB", "1.5 GiB", "512mib", ""])
def test_the_usual_memory_limits_pass(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from pipelines.cli.errors import check_duckdb_memory

    monkeypatch.setenv("ASSESSMENT_DUCKDB_MEMORY", value)
    check_duckdb_memory()


def test_the_report_command_does_not_load_the_dagster_definitions(data: Path) -> None:
    """Loading them printed Dagster's beta warnings on the operator's terminal before the answer."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from pipelines.cli.app import app\n"
        "CliRunner().invoke(app, ['report', '--quarter', '2025Q3'])\n"
        "print('dagster' in sys.modules)\n"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip().splitlines()[-1] == "False" and "Warning" not in found.stderr


def test_a_dagster_home_that_is_a_file_is_named_as_such(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe's DAGSTER_HOME pointing at a file said only "file system error: File exists"."""
    (data / "landing" / "2025Q3").mkdir(parents=True)
    home = tmp_path / "dagster-home.txt"
    home.write_text("not a folder")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    code, _, err = invoke("run", "--quarter", "2025Q3")
    assert code == ENVIRONMENT and f"DAGSTER_HOME 不是文件夹 is not a folder: {home}" in one_line(err)


def test_a_wrong_demo_argument_exits_as_a_usage_mistake(data: Path) -> None:
    """`demo --units 0` exited 1, as if generation had broken, where `generate --units 0` exits 2."""
    code, _, err = invoke("demo", "--quarters", "2025Q3", "--units", "0")
    assert code == USAGE and "生成失败 generation failed" in err
