"""What a staged release must satisfy before anyone may read it (the blocking publish checks).

Each function returns a list of problems (empty = fine) so that the Dagster checks, the tests and an
operator at a Python prompt all use the same rules.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.domain.national_id import find_ids
from pipelines.domain.template import NAMED_TIERS
from pipelines.publish.export import (
    ANALYST_PREFIXES,
    ANALYST_SCHEMAS,
    MIN_RATEES_FOR_LENIENCY,
    RATER_ALIAS_PREFIX,
    RATER_COLUMNS,
    quote_ident,
)

# The DuckDB prefilter of the ID audit: separators out, then 17 digits in a row (ASCII or full-width).
ID_SEPARATORS = r"[\s\-‐‑‒–—―－_.．·/／]"
ID_DIGITS = r"[0-9０-９]{17}"
REQUIRED_TABLES = ("marts.fct_person_quarter", "marts.fct_unit_quarter", "marts.dim_unit")


def _catalog(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_catalog = current_database() order by 1, 2"
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = current_database() "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    ]


def only_analyst_tables(path: Path) -> list[str]:
    """Nothing but fct_/dim_ base tables in marts and quality (no staging views, no intermediates)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return [
            f"{schema}.{name} ({kind}) is not an analyst table"
            for schema, name, kind in _catalog(con)
            if schema not in ANALYST_SCHEMAS or kind != "BASE TABLE" or not name.startswith(ANALYST_PREFIXES)
        ]


def required_tables(path: Path, required: tuple[str, ...] = REQUIRED_TABLES) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        present = {f"{s}.{n}" for s, n, _ in _catalog(con)}
    return [f"{t} is missing" for t in required if t not in present]


def no_national_ids(path: Path) -> list[str]:
    """No text of any table holds a national ID anywhere inside it: the shared detector (spaced,
    hyphenated, full-width, glued to Chinese text) over every text column of every table."""
    problems = []
    with duckdb.connect(str(path), read_only=True) as con:
        text_columns = con.execute(
            "select table_schema, table_name, list(column_name order by ordinal_position) "
            "from information_schema.columns where table_catalog = current_database() "
            "and data_type = 'VARCHAR' group by all order by 1, 2"
        ).fetchall()
        for schema, name, columns in text_columns:
            # One scan per table: per text column, the distinct values that still hold 17 digits in a row
            # once separators are removed; only those few go through the check-character test in Python.
            lists = ", ".join(
                f"list(distinct {quote_ident(c)}) filter (where regexp_matches("
                f"regexp_replace({quote_ident(c)}, $sep, '', 'g'), $digits))"
                for c in columns
            )
            found = con.execute(
                f"select {lists} from {quote_ident(schema)}.{quote_ident(name)}",
                {"sep": ID_SEPARATORS, "digits": ID_DIGITS},
            ).fetchall()[0]
            for column, candidates in zip(columns, found, strict=True):
                n = sum(bool(find_ids(v)) for v in candidates or [])
                if n:
                    problems.append(f"{schema}.{name}.{column}: {n} values hold a national ID")
    return problems


def rater_anonymity(path: Path) -> list[str]:
    """No named internal rater next to a ratee; no tier mean or leniency resting on too few people."""
    problems = []
    with duckdb.connect(str(path), read_only=True) as con:
        catalog = _catalog(con)
        present = {f"{s}.{n}" for s, n, _ in catalog}
        for schema, name, _ in catalog:
            columns = set(_columns(con, schema, name))
            if not columns >= RATER_COLUMNS:
                continue
            second = (
                "or (rater_code_2 is not null and not starts_with(rater_code_2, ?))"
                if "rater_code_2" in columns
                else ""
            )
            params = [list(NAMED_TIERS), RATER_ALIAS_PREFIX] + ([RATER_ALIAS_PREFIX] if second else [])
            n = con.execute(
                f"select count(*) from {quote_ident(schema)}.{quote_ident(name)} "
                "where ratee_code is not null and rater_code <> ratee_code "
                "and rater_tier in (select unnest(?::varchar[])) "
                f"and (not starts_with(rater_code, ?) {second})",
                params,
            ).fetchone()[0]
            if n:
                problems.append(f"{schema}.{name}: {n} rows name an internal rater beside a ratee")
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


def county_extract_problems(path: Path, county_code: str) -> list[str]:
    """Every row of a county extract belongs to that county."""
    problems = []
    with duckdb.connect(str(path), read_only=True) as con:
        units = {r[0] for r in con.execute("select unit_code from marts.dim_unit").fetchall()}
        foreign = con.execute(
            "select count(*) from marts.dim_unit where county_code <> ?", [county_code]
        ).fetchone()[0]
        if foreign:
            problems.append(f"{path.name}: {foreign} units of another county in dim_unit")
        for schema, name, _ in _catalog(con):
            ref = f"{quote_ident(schema)}.{quote_ident(name)}"
            columns = set(_columns(con, schema, name))
            if "unit_code" in columns:
                codes = {r[0] for r in con.execute(f"select distinct unit_code from {ref}").fetchall()}
                if codes - units:
                    problems.append(f"{path.name}: {schema}.{name} has units outside the county")
            elif "county_code" in columns:
                n = con.execute(
                    f"select count(*) from {ref} where county_code <> ?", [county_code]
                ).fetchone()[0]
                if n:
                    problems.append(f"{path.name}: {schema}.{name} has {n} rows of other counties")
    return problems
