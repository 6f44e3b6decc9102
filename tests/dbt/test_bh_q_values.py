"""macros/findings.sql `bh_q_values`: Benjamini–Hochberg q values from a family's distinct p values must be,
double for double, the row-by-row definition q_(i) = min over j ≥ i of p_(j) · m / j (p sorted ascending,
nulls last), capped at 1 by SQL's least(), which ignores a null: a null p, whose minimum over the rows
from it on holds only nulls, gets q 1. Whatever order ties take. The macro is compiled by the project's
dbt and run in DuckDB on families with ties, zeros, ones and nulls."""

from __future__ import annotations

import random

import duckdb
import pytest

from pipelines.defs.dbt.resources import dbt_resource


def row_by_row_q(p_values: list[float | None]) -> list[float]:
    """The definition, one row at a time, in the input's order (ties in the order given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i] is None, p_values[i] or 0.0))
    q: list[float] = [1.0] * m
    running: float | None = None
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        p = p_values[i]
        if p is not None:
            term = p * float(m) / float(rank)
            running = term if running is None else min(running, term)
        q[i] = 1.0 if running is None else min(1.0, running)
    return q


def families() -> list[tuple[str, int, float | None]]:
    """(family, test, p): one family of many ties on a coarse grid (as quarter-point residuals give),
    one of distinct p values, one with nulls, zeros and ones, and a family of one test."""
    rng = random.Random(7)
    rows: list[tuple[str, int, float | None]] = []
    rows += [("ties", i, rng.choice([0.0, 1e-6, 0.003, 0.01, 0.04, 0.2, 0.5, 1.0])) for i in range(400)]
    rows += [("distinct", i, rng.random() ** 3) for i in range(300)]
    rows += [("nulls", i, rng.choice([None, 0.0, 0.02, 0.02, 1.0])) for i in range(50)]
    rows += [("single", 0, 0.3)]
    return rows


@pytest.fixture(scope="module")
def compiled_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    inline = "select family, test, q_value from {{ bh_q_values('tested', 'p', ['family']) }} as bh"
    database = tmp_path_factory.mktemp("bh") / "build.duckdb"
    outcome = dbt_resource().run(["compile", "--inline", inline], database=database)
    return str(outcome.results[0]["compiled_code"])


def test_q_values_equal_the_row_by_row_definition(compiled_sql: str) -> None:
    rows = families()
    with duckdb.connect() as con:
        con.execute("create table tested (family varchar, test integer, p double)")
        con.executemany("insert into tested values (?, ?, ?)", rows)
        got = {(f, t): q for f, t, q in con.execute(compiled_sql).fetchall()}
    assert len(got) == len(rows)  # every test once: none lost or repeated by the join back on p
    for family in {f for f, _, _ in rows}:
        members = [(t, p) for f, t, p in rows if f == family]
        expected = row_by_row_q([p for _, p in members])
        for (test, p), q in zip(members, expected, strict=True):
            assert got[(family, test)] == q, (family, test, p)  # exact: the same doubles, not approximately
