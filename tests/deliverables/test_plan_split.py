"""The plan splits the quarter's frames by unit once; a frame ordered by unit is split into slices."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.deliverables.write import _by_unit


@pytest.mark.parametrize(
    "codes",
    [
        ["U1", "U1", "U2", "U3", "U3", "U3"],  # ordered: slices
        ["U2", "U1", "U2", "U3", "U1", "U3"],  # not ordered (reviews come by register): partition_by
        ["U1", None, "U1"],  # a missing code: partition_by, under the key "None"
        ["U9"],
    ],
)
def test_the_split_is_partition_by_unit(codes: list[str | None]) -> None:
    frame = pl.DataFrame({"unit_code": codes, "row": list(range(len(codes)))})
    expected = {str(k[0]): part for k, part in frame.partition_by("unit_code", as_dict=True).items()}
    split = _by_unit(frame)
    assert list(split) == list(expected)  # the same units, in the frame's order
    for code, part in expected.items():
        assert split[code].equals(part)


def test_an_empty_frame_or_one_without_units_has_no_parts() -> None:
    assert _by_unit(pl.DataFrame({"unit_code": []}, schema={"unit_code": pl.Utf8})) == {}
    assert _by_unit(pl.DataFrame({"file_name": ["a"]})) == {}


def test_helpers_without_a_share_stop_and_a_failed_share_is_reported(tmp_path: Path) -> None:
    from pipelines.deliverables.write import _Helpers

    with _Helpers(1) as idle:  # started ahead of a plan that gave it nothing to write
        pass
    assert [p.returncode for p in idle.processes] == [0]
    with pytest.raises(RuntimeError, match="worker failed"), _Helpers(1) as helpers:
        helpers.send(0, str(tmp_path / "no-such-share.pickle"))
