"""What a staged release must satisfy before anyone may read it (the blocking publish checks).

Each function returns a list of problems (empty = fine) so that the Dagster checks, the tests and an
operator at a Python prompt all use the same rules. Each takes a file's path, or a connection to the
file already open: the publish step opens each staged file once for all its checks (at a 16-city
province, 129 files × 4 checks opening and cataloguing the file again each time was most of the step).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipelines.domain.national_id import ID_DIGIT, ID_MIN_DIGITS, SEPARATOR_CHARS, find_ids
from pipelines.domain.template import NAMED_TIERS
from pipelines.publish.export import (
    ANALYST_PREFIXES,
    ANALYST_SCHEMAS,
    MIN_RATEES_FOR_LENIENCY,
    RATER_ALIAS_PREFIX,
    RATER_COLUMNS,
    quote_ident,
)
from pipelines.publish.suppression import DECIMAL_FIGURE, SCORE_COLUMNS, ties_rater_to_ratee

# The DuckDB prefilter of the ID audit: separators out, then ID_MIN_DIGITS digits in a row. It must let
# through everything the detector (find_ids) can find, so its separators are a superset of the
# detector's. The detector's `\s` is Python's: every character str.isspace() accepts (the ideographic
# space U+3000, no-break spaces, …); DuckDB's RE2 reads `\s` as ASCII whitespace only, which let an ID
# split by ideographic spaces through this check. Hence the list (tests compare it with str.isspace()).
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
ID_SEPARATORS = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in PYTHON_WHITESPACE + SEPARATOR_CHARS) + "]"
ID_DIGITS = f"{ID_DIGIT}{{{ID_MIN_DIGITS}}}"
REQUIRED_TABLES = ("marts.fct_person_quarter", "marts.fct_unit_quarter", "marts.dim_unit")

Source = Path | duckdb.DuckDBPyConnection


@contextlib.contextmanager
def _reading(source: Source) -> Iterator[duckdb.DuckDBPyConnection]:
    """The file opened read-only for the duration, or the caller's connection (left open)."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    with duckdb.connect(str(source), read_only=True) as con:
        yield con


# What a connection's file lists, for the connections inside `shared_catalogue`, by the connection's id
# (no other connection has it while this one is open, and the entry goes when the block ends). One
# inner dict per connection: the checks' threads never touch each other's.
_CATALOGUES: dict[int, dict[str, Any]] = {}


@contextlib.contextmanager
def shared_catalogue(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The checks run on `con` inside this block query its catalogue once: each of them lists the
    tables or their columns, up to five catalogue queries per file before (the publish step opens a
    16-city province's 129 files). Only for files nobody writes while the block runs (read-only)."""
    _CATALOGUES[id(con)] = {}
    try:
        yield con
    finally:
        _CATALOGUES.pop(id(con), None)


def _remembered(con: duckdb.DuckDBPyConnection, kind: str, read: Callable[[], Any]) -> Any:
    """read(), or what it returned the first time for this connection inside `shared_catalogue`."""
    memo = _CATALOGUES.get(id(con))
    if memo is None:
        return read()
    if kind not in memo:
        memo[kind] = read()
    return memo[kind]


def _catalog(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return _remembered(
        con,
        "tables",
        lambda: con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall(),
    )


def _columns_by_table(
    con: duckdb.DuckDBPyConnection, data_type: str | None = None
) -> dict[tuple[str, str], list[str]]:
    """Every table's columns (of `data_type` only, when given) in one catalog query, tables in name
    order (one query per table cost more than the checks)."""

    def read() -> dict[tuple[str, str], list[str]]:
        rows = con.execute(
            "select table_schema, table_name, list(column_name order by ordinal_position) "
            "from information_schema.columns where table_catalog = current_database() "
            "and ($type::varchar is null or data_type = $type) group by all order by 1, 2",
            {"type": data_type},
        ).fetchall()
        return {(schema, name): list(columns) for schema, name, columns in rows}

    return _remembered(con, f"columns:{data_type}", read)


def only_analyst_tables(source: Source) -> list[str]:
    """Nothing but fct_/dim_ base tables in marts and quality (no staging views, no intermediates)."""
    with _reading(source) as con:
        return [
            f"{schema}.{name} ({kind}) is not an analyst table"
            for schema, name, kind in _catalog(con)
            if schema not in ANALYST_SCHEMAS or kind != "BASE TABLE" or not name.startswith(ANALYST_PREFIXES)
        ]


def required_tables(source: Source, required: tuple[str, ...] = REQUIRED_TABLES) -> list[str]:
    with _reading(source) as con:
        present = {f"{s}.{n}" for s, n, _ in _catalog(con)}
    return [f"{t} is missing" for t in required if t not in present]


def no_national_ids(source: Source) -> list[str]:
    """No text of any table holds a national ID anywhere inside it: the shared detector (spaced,
    hyphenated, full-width, glued to Chinese text) over every text column of every table."""
    problems = []
    with _reading(source) as con:
        text_columns = _columns_by_table(con, "VARCHAR")
        # One scan of the whole file: every text column of every table as (column number, value), the
        # values that still hold 17 digits in a row once separators are removed, distinct per column;
        # only those few go through the check-character test in Python. (A query per table cost a
        # county extract's small tables far more in per-query overhead than in scanning.) Only values
        # of 17 bytes or more can hold 17 digits once separators are removed, and a byte length costs
        # nothing next to two regular expressions: most values (codes, names, grades) stop there, which
        # made the scan 3-4 times faster on the 4-city province's files.
        columns = [(schema, name, column) for (schema, name), cols in text_columns.items() for column in cols]
        if not columns:
            return []
        scans = " union all ".join(
            f"select {i} as n, {quote_ident(column)} as v from {quote_ident(schema)}.{quote_ident(name)}"
            for i, (schema, name, column) in enumerate(columns)
        )
        found = dict(
            con.execute(
                f"select n, list(distinct v) from ({scans}) "
                "where strlen(v) >= $min_bytes and regexp_matches(regexp_replace(v, $sep, '', 'g'), $digits) "
                "group by n",
                {"sep": ID_SEPARATORS, "digits": ID_DIGITS, "min_bytes": ID_MIN_DIGITS},
            ).fetchall()
        )
        for i, (schema, name, column) in enumerate(columns):
            n = sum(bool(find_ids(v)) for v in found.get(i) or [])
            if n:
                problems.append(f"{schema}.{name}.{column}: {n} values hold a national ID")
    return problems


def rater_anonymity(source: Source) -> list[str]:
    """No named internal rater next to a ratee; no tier mean or leniency resting on too few people."""
    problems = []
    with _reading(source) as con:
        catalog = _catalog(con)
        columns_of = _columns_by_table(con)
        present = {f"{s}.{n}" for s, n, _ in catalog}
        for schema, name, _ in catalog:
            columns = set(columns_of.get((schema, name), []))
            if not columns >= RATER_COLUMNS:
                continue
            second = (
                "or (rater_code_2 is not null and not starts_with(rater_code_2, ?))"
                if "rater_code_2" in columns
                else ""
            )
            tied, tied_params = ties_rater_to_ratee(columns)
            named = f"{tied} and rater_tier in (select unnest(?::varchar[]))"
            table = f"{quote_ident(schema)}.{quote_ident(name)}"
            params = [*tied_params, list(NAMED_TIERS), RATER_ALIAS_PREFIX]
            n = con.execute(
                f"select count(*) from {table} where {named} and (not starts_with(rater_code, ?) {second})",
                params + ([RATER_ALIAS_PREFIX] if second else []),
            ).fetchone()[0]
            if n:
                problems.append(f"{schema}.{name}: {n} rows name an internal rater beside a ratee")
            shown = [f"{c} is not null" for c in SCORE_COLUMNS if c in columns]
            shown += [f"regexp_matches({c}, ?)" for c in ("explanation_zh", "evidence") if c in columns]
            if shown:
                n = con.execute(
                    f"select count(*) from {table} where {named} and ({' or '.join(shown)})",
                    [*tied_params, list(NAMED_TIERS)]
                    + [DECIMAL_FIGURE for c in ("explanation_zh", "evidence") if c in columns],
                ).fetchone()[0]
                if n:
                    problems.append(f"{schema}.{name}: {n} rows show the score a named rater gave a ratee")
        if "marts.fct_person_tier_score" in present:
            n = con.execute(
                "select count(*) from marts.fct_person_tier_score "
                "where n_raters < 3 and tier_mean_score is not null"
            ).fetchone()[0]
            if n:
                problems.append(f"marts.fct_person_tier_score: {n} tier means over fewer than 3 raters")
        if {"marts.fct_person_tier_score", "marts.fct_person_quarter"} <= present:
            problems += _differencing_exposures(con)
        if "quality.fct_rater_leniency" in present:
            n = con.execute(
                "select count(*) from quality.fct_rater_leniency where n_ratees < ? and leniency is not null",
                [MIN_RATEES_FOR_LENIENCY],
            ).fetchone()[0]
            if n:
                problems.append(f"quality.fct_rater_leniency: {n} leniencies over fewer than 3 ratees")
    return problems


def _differencing_exposures(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Secondary suppression held: nobody has exactly one withheld tier mean next to a published
    evaluation or quarter score, which would give it back by subtraction (pipelines/publish/suppression)."""
    n = con.execute(
        """
        with tiers as (
            select quarter, unit_code, person_code,
                count(*) filter (where is_suppressed or tier_mean_score is null) as n_withheld
            from marts.fct_person_tier_score
            group by all
        )
        select count(*) from tiers
        inner join marts.fct_person_quarter as p using (quarter, unit_code, person_code)
        where tiers.n_withheld = 1 and (p.eval_score is not null or p.quarter_score is not null)
        """
    ).fetchone()[0]
    return (
        [f"marts.fct_person_tier_score: {n} withheld tier means follow from a published score"] if n else []
    )


def county_extract_problems(source: Source, county_code: str, file_name: str | None = None) -> list[str]:
    """Every row of a county extract belongs to that county (`file_name` names the file in problems
    when `source` is a connection)."""
    problems = []
    label = file_name or (source.name if isinstance(source, Path) else county_code)
    with _reading(source) as con:
        units = {r[0] for r in con.execute("select unit_code from marts.dim_unit").fetchall()}
        foreign = con.execute(
            "select count(*) from marts.dim_unit where county_code <> ?", [county_code]
        ).fetchone()[0]
        if foreign:
            problems.append(f"{label}: {foreign} units of another county in dim_unit")
        columns_of = _columns_by_table(con)
        for schema, name, _ in _catalog(con):
            ref = f"{quote_ident(schema)}.{quote_ident(name)}"
            columns = set(columns_of.get((schema, name), []))
            if "unit_code" in columns:
                codes = {r[0] for r in con.execute(f"select distinct unit_code from {ref}").fetchall()}
                if codes - units:
                    problems.append(f"{label}: {schema}.{name} has units outside the county")
            elif "county_code" in columns:
                n = con.execute(
                    f"select count(*) from {ref} where county_code <> ?", [county_code]
                ).fetchone()[0]
                if n:
                    problems.append(f"{label}: {schema}.{name} has {n} rows of other counties")
    return problems
