"""The generator's command line refuses bad arguments before generating anything: one line on stderr
naming the option, exit code 2, no traceback (the project's command-line promise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pipelines.synthetic.__main__ as synthetic_cli
from pipelines.synthetic.__main__ import MAX_SCALE, main


@pytest.fixture
def generated(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stand in for generate(): records the config it would have run with, generates nothing."""
    configs: list[Any] = []

    def fake(cfg: Any, root: Path) -> list[Any]:
        configs.append(cfg)
        return []

    monkeypatch.setattr(synthetic_cli, "generate", fake)
    return configs


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scale", "inf"], ["--scale", "inf"]),
        (["--scale=-inf"], ["--scale", "-inf"]),
        (["--scale", "nan"], ["--scale", "nan"]),
        (["--scale", "1e300"], ["--scale", f"{MAX_SCALE:g}"]),
        (["--scale", str(MAX_SCALE * 2)], ["--scale"]),
        (["--set", "late=abc"], ["--set", "late", "'abc'"]),
        (["--seed", "-1"], ["--seed", "-1"]),
        (["--units", ","], ["--units"]),
        (["--units", " , ,"], ["--units"]),
        (["--workers", "0"], ["--workers", "0"]),
        (["--workers", "-1"], ["--workers", "-1"]),
    ],
)
def test_bad_arguments_are_refused_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    generated: list[Any],
    args: list[str],
    words: list[str],
) -> None:
    assert main(["--quarters", "2025Q3", "--units", "2", *args, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    assert generated == []  # refused before generating
    assert not (tmp_path / "landing").exists()


def test_sane_arguments_still_reach_the_generator(tmp_path: Path, generated: list[Any]) -> None:
    base = ["--quarters", "2025Q3", "--data-dir", str(tmp_path)]
    assert main([*base, "--units", "2"]) == 0
    assert generated[-1].workers == 0  # --workers left out: one per core
    assert main([*base, "--units", "2", "--workers", "1", "--seed", "0", "--scale", str(MAX_SCALE)]) == 0
    cfg = generated[-1]
    assert (cfg.workers, cfg.seed, cfg.scale, cfg.units) == (1, 0, MAX_SCALE, 2)
    assert main([*base, "--units", "371602-X-001,", "--set", "late=0.5"]) == 0
    assert generated[-1].units == ("371602-X-001",)
    assert generated[-1].mess.late == 0.5
