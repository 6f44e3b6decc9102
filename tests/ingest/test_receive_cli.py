"""The receiving sweep's command line (python -m pipelines.ingest.receive, run from cron): a bad quarter,
a data folder that is a file, missing or without a landing area, a file system error and Ctrl-C each end
in one line on stderr and an exit code, never a traceback; and a mistyped data folder is never created."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import pipelines.ingest.receive as receive_cli
from pipelines.ingest.receive import main
from pipelines.runlock import LOCK_NAME


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with an empty landing area, as $ASSESSMENT_DATA_DIR."""
    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(root))
    return root


def test_an_empty_landing_area_is_swept(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("quarter", ["2025Q9", "Q3", "2025Q3x"])
def test_a_malformed_quarter_is_a_usage_error(
    data: Path, capsys: pytest.CaptureFixture[str], quarter: str
) -> None:
    try:
        code = main(["--quarter", "2025Q3", "--quarter", quarter])
    except ValueError as exc:
        pytest.fail(f"traceback: {exc!r}")
    assert code == 2
    assert repr(quarter) in one_line(capsys)
    assert not (data / LOCK_NAME).exists()  # refused before the lock


def test_a_data_dir_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("", encoding="utf-8")
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(afile))
    try:
        code = main([])
    except OSError as exc:
        pytest.fail(f"traceback: {exc!r}")
    assert code == 3
    err = one_line(capsys)
    assert str(afile) in err and "ASSESSMENT_DATA_DIR" in err


def test_a_mistyped_data_dir_is_refused_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "dta"
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(typo))
    assert main([]) == 3
    err = one_line(capsys)
    assert str(typo) in err and "not found" in err
    assert not typo.exists()


def test_a_folder_without_landing_is_refused_before_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "somewhere"
    folder.mkdir()
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(folder))
    assert main(["--quarter", "2025Q3"]) == 3
    assert "landing" in one_line(capsys)
    assert list(folder.iterdir()) == []  # no .run.lock left behind


def test_a_file_system_error_names_the_path(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = data / "archive"

    def refuse(quarter: str) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(denied))

    monkeypatch.setattr(receive_cli, "receive_quarter", refuse)
    try:
        code = main(["--quarter", "2025Q3"])
    except OSError as exc:
        pytest.fail(f"traceback: {exc!r}")
    assert code == 3
    err = one_line(capsys)
    assert str(denied) in err and "Permission denied" in err


def test_ctrl_c_is_one_line_and_exit_130(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(quarter: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(receive_cli, "receive_quarter", interrupted)
    try:
        code = main(["--quarter", "2025Q3"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main (a traceback)")
    assert code == 130
    assert "已中断 interrupted" in one_line(capsys)
