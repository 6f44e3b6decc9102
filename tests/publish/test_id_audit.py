"""The publish audit finds national IDs anywhere inside any text column, with the shared detector."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain.national_id import find_ids, make
from pipelines.publish.audit import PYTHON_WHITESPACE, no_national_ids

NID = make("371623", "19850304", 123)
FULL_WIDTH = NID.translate(str.maketrans({str(i): chr(0xFF10 + i) for i in range(10)}))


def _file(tmp_path: Path, values: list[str]) -> Path:
    path = tmp_path / "published.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_person_quarter (person_key varchar, rank_title varchar, score double)"
        )
        keys = [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(len(values))]
        con.executemany(
            "insert into marts.fct_person_quarter values (?, ?, 1.0)", list(zip(keys, values, strict=True))
        )
        con.execute("create table marts.dim_person (person_key varchar, note varchar)")
        con.execute("insert into marts.dim_person values ('0123456789abcdef0123456789abcdef', '科员')")
    return path


@pytest.mark.parametrize(
    "leak",
    [
        f"一级科员身份证{NID}备注",
        f"{NID[:6]} {NID[6:14]} {NID[14:]}",
        f"{NID[:6]}-{NID[6:14]}-{NID[14:]}",
        f"科员{FULL_WIDTH}",
        NID,
        "一级科员身份证37162319850304123X备注",  # as written in the issue (wrong check, real region and date)
    ],
)
def test_an_id_inside_text_blocks_the_release(tmp_path: Path, leak: str) -> None:
    problems = no_national_ids(_file(tmp_path, ["科员", leak, "科长"]))
    assert problems == ["marts.fct_person_quarter.rank_title: 1 values hold a national ID"]


def test_clean_text_long_numbers_and_hex_keys_pass(tmp_path: Path) -> None:
    bad_check = NID[:17] + ("0" if NID[17] != "0" else "1")
    values = ["科员", "文号2025001234", "1" + NID, "0" * 17 + "2", f"00{bad_check[2:]}", "9" * 40]
    assert no_national_ids(_file(tmp_path, values)) == []


def test_checks_inside_shared_catalogue_list_the_file_once(tmp_path: Path) -> None:
    """Inside audit.shared_catalogue a connection's catalogue is read once for every check (a table
    made afterwards is not seen: the first listing is reused); outside, each call reads it again."""
    from pipelines.publish import audit

    path = _file(tmp_path, ["科员", NID])
    with duckdb.connect(str(path)) as con:
        with audit.shared_catalogue(con):
            first = audit._catalog(con)
            assert audit.no_national_ids(con) == [
                "marts.fct_person_quarter.rank_title: 1 values hold a national ID"
            ]
            con.execute("create table marts.dim_extra (x varchar)")
            assert audit._catalog(con) == first
            assert ("marts", "dim_extra") not in audit._columns_by_table(con, "VARCHAR")
        assert ("marts", "dim_extra", "BASE TABLE") in audit._catalog(con)
        assert ("marts", "dim_extra") in audit._columns_by_table(con, "VARCHAR")
        assert not audit._CATALOGUES


@pytest.mark.parametrize("space", ["\u3000", "\xa0", "\u2002", "\x0b", "\x1c", "\x85"])
def test_an_id_split_by_any_space_python_knows_blocks_the_release(tmp_path: Path, space: str) -> None:
    """The ideographic space (and every other character str.isspace() accepts) separates an ID's
    groups for the detector; DuckDB's prefilter must not drop such a value before the detector sees it."""
    leak = f"科员{NID[:6]}{space}{NID[6:14]}{space}{NID[14:]}"
    assert find_ids(leak)
    problems = no_national_ids(_file(tmp_path, ["科员", leak]))
    assert problems == ["marts.fct_person_quarter.rank_title: 1 values hold a national ID"]


def test_the_prefilter_lists_exactly_the_spaces_of_python() -> None:
    assert set(PYTHON_WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


_SEPARATOR_CHARS = PYTHON_WHITESPACE + "-‐‑‒–—―－_.．·/／"


@st.composite
def _texts_with_an_id(draw: st.DrawFn) -> str:
    """An ID cut into groups joined by 1-3 separator characters, full-width or not, inside other text."""
    digits = draw(st.sampled_from([NID, FULL_WIDTH, NID.lower()]))
    cuts = sorted(draw(st.sets(st.integers(1, 17), max_size=3)))
    groups = [digits[i:j] for i, j in zip([0, *cuts], [*cuts, 18], strict=True)]
    joints = [draw(st.text(st.sampled_from(_SEPARATOR_CHARS), min_size=1, max_size=3)) for _ in cuts]
    body = groups[0] + "".join(j + g for j, g in zip(joints, groups[1:], strict=True))
    around = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
    return draw(around) + body + draw(around)


@settings(max_examples=300, deadline=None)
@given(text=_texts_with_an_id())
def test_whatever_the_detector_finds_the_publish_audit_reports(text: str) -> None:
    """The DuckDB prefilter is a superset of the detector: a value with an ID find_ids finds is never
    dropped before the detector looks at it."""
    with duckdb.connect() as con:
        con.execute("create table t (v varchar)")
        con.execute("insert into t values (?)", [text])
        problems = no_national_ids(con)
    assert bool(problems) == bool(find_ids(text))
