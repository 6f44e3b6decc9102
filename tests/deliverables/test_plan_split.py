"""The plan splits the quarter's frames by unit once; a frame ordered by unit is split into slices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _frames_of(jobs: list[Any]) -> list[pl.DataFrame]:
    return [a for _, _, args in jobs for a in args if isinstance(a, pl.DataFrame)]


def test_a_packed_share_gives_back_the_same_frames_and_arguments(tmp_path: Path) -> None:
    """A worker's share travels as one frame per schema; unpacked, every job has its own rows again,
    in order, with their types, and every other argument as it was."""
    import pickle
    from datetime import date

    from pipelines.deliverables.write import pack_jobs, unpack_jobs, write_job

    people = pl.DataFrame(
        {
            "unit_code": ["U1", "U1", "U2", "U3"],
            "score": [1.5, None, 2.25, 3.0],
            "day": [date(2025, 7, 1)] * 4,
        }
    )
    files = pl.DataFrame({"unit_code": ["U1", "U3"], "accepted": [True, False]})
    jobs = [
        (
            tmp_path / "u1.xlsx",
            write_job,
            ("2025Q3", {"unit_code": "U1"}, people.slice(0, 2), files.slice(0, 1)),
        ),
        (tmp_path / "u2.xlsx", write_job, ("2025Q3", {"unit_code": "U2"}, people.slice(2, 1), files.clear())),
        (
            tmp_path / "u3.xlsx",
            write_job,
            ("2025Q3", None, people.slice(3, 1), files.slice(1, 1), pl.DataFrame()),
        ),
    ]
    payload = pickle.loads(pickle.dumps(pack_jobs(jobs)))
    assert len(payload["frames"]) == 2  # people's and files' schema; empty frames travel as they are
    back = unpack_jobs(payload)
    assert [(p, w) for p, w, _ in back] == [(p, w) for p, w, _ in jobs]
    for (_, _, before), (_, _, after) in zip(jobs, back, strict=True):
        assert len(before) == len(after)
        for x, y in zip(before, after, strict=True):
            if isinstance(x, pl.DataFrame):
                assert x.schema == y.schema and x.equals(y)
            else:
                assert x == y
    assert sum(f.height for f in _frames_of(back)) == people.height + files.height


def test_helpers_without_a_share_stop_and_a_failed_share_is_reported(tmp_path: Path) -> None:
    from pipelines.deliverables.write import _Helpers

    with _Helpers(1) as idle:  # started ahead of a plan that gave it nothing to write
        pass
    assert [p.returncode for p in idle.processes] == [0]
    with pytest.raises(RuntimeError, match="worker failed"), _Helpers(1) as helpers:
        helpers.send(0, str(tmp_path / "no-such-share.pickle"))
