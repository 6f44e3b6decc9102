"""The benchmark's command line: a bad size, an unknown quarter, a root it cannot write and Ctrl-C each
end in one line on stderr and an exit code (2 usage, 3 environment, 130 interrupted), never a traceback,
and before anything is generated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pipelines.bench.__main__ as bench_cli
from pipelines.bench.__main__ import main
from pipelines.bench.sizes import parse_sizes


@pytest.fixture(autouse=True)
def no_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may get as far as measuring; main's process-wide settings are put back after."""

    def never(*_: object) -> float:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench_cli, "python_loop_seconds", never)
    monkeypatch.setattr(bench_cli, "generated", never)
    monkeypatch.setattr(bench_cli.signal, "signal", lambda *_: None)
    monkeypatch.setenv("ASSESSMENT_DEMO", "1")


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("name", ["province0", "province17", "province99"])
def test_a_province_has_one_to_sixteen_cities(name: str) -> None:
    with pytest.raises(ValueError, match="1 to 16 cities"):
        parse_sizes(f"city,{name}")


def test_provinces_within_range_parse() -> None:
    assert [s.cities for s in parse_sizes("province1,province16")] == [1, 16]


@pytest.mark.parametrize("name", ["province0", "province99"])
def test_a_province_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["--sizes", name, "--root", str(tmp_path / "b")]) == 2
    assert name in one_line(capsys)
    assert not (tmp_path / "b").exists()


def test_a_quarter_without_rules_is_refused_with_the_known_quarters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quarter", "2030Q1", "--sizes", "smoke", "--root", str(tmp_path / "b")]) == 2
    err = one_line(capsys)
    assert "2030" in err and "known quarters" in err and "2025Q1" in err
    assert not (tmp_path / "b").exists()


def test_a_malformed_quarter_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quarter", "2025Q9", "--sizes", "smoke", "--root", str(tmp_path / "b")]) == 2
    assert "2025Q9" in one_line(capsys)


@pytest.mark.parametrize("where", ["/proc/x", "file/below", "file"])
def test_a_root_that_cannot_be_made_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    root = Path(where) if where.startswith("/") else tmp_path / where
    try:
        code = main(["--sizes", "smoke", "--root", str(root)])
    except OSError as exc:
        pytest.fail(f"traceback: {exc!r}")
    assert code == 3
    assert str(root) in one_line(capsys)


def test_a_read_only_root_is_refused_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    if os.geteuid() == 0:  # root may write anywhere: make this folder look read-only to main
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == root else real(p, mode))
    else:
        root.chmod(0o555)
    try:
        code = main(["--sizes", "smoke", "--root", str(root)])
    except (OSError, AssertionError) as exc:
        pytest.fail(f"not refused up front: {exc!r}")
    finally:
        root.chmod(0o755)
    assert code == 3
    err = one_line(capsys)
    assert str(root) in err and "Permission denied" in err


def test_ctrl_c_is_one_line_and_exit_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted() -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_cli, "python_loop_seconds", interrupted)
    try:
        code = main(["--sizes", "smoke", "--root", str(tmp_path / "b")])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main (a traceback)")
    assert code == 130
    assert "已中断 interrupted" in one_line(capsys)
