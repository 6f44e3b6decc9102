"""The publish audit finds national IDs anywhere inside any text column, with the shared detector."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from pipelines.domain.national_id import make
from pipelines.publish.audit import no_national_ids

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
