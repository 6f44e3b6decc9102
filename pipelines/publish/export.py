"""Stage a release from a finished build: the analyst file and one extract per county.

Analysts get the marts only — base tables named fct_*/dim_* in schemas `marts` and `quality` — never the
staging views (they point at the raw rating rows) or the intermediate tables. Two transformations protect
raters (docs/architecture.md, "Rater anonymity"):

- a finding that ties a named internal rater (科室工作人员/科室负责人/分管领导) to a ratee (A1, A7, A8) shows
  a keyed alias instead of the rater's person code, in the code columns and in the explanation; auditors
  who need the person look the finding up by finding_id in the pipeline's private warehouse;
- tier averages over fewer than 3 raters are already NULL in marts.fct_person_tier_score (dbt), and a
  rater's leniency estimate is withheld when it rests on fewer than 3 ratees;
- secondary suppression (suppression.py) withholds whatever would give such a tier average back by
  subtraction: a second tier, or the evaluation and quarter scores when the person has no other tier.

A county extract holds the same tables filtered to the county's units (or its own county row), so access
can be granted per county with file permissions.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.domain.template import NAMED_TIERS
from pipelines.ingest.pseudonym import DEMO_WARNING, PseudonymKey, load_key
from pipelines.publish.suppression import apply_secondary_suppression, ties_rater_to_ratee
from pipelines.publish.warehouse import (
    COUNTIES_NAME,
    PUBLISHED_NAME,
    WarehouseLayout,
    layout,
    new_release,
    write_manifest,
)

ANALYST_SCHEMAS = ("marts", "quality")
ANALYST_PREFIXES = ("fct_", "dim_")
RATER_ALIAS_PREFIX = "R#"
MIN_RATEES_FOR_LENIENCY = 3
# Tables a county may not see at all: they describe other counties only by rank and are rebuilt from
# every county's figures (a county's own row is kept in the compliance tables instead).
COUNTY_FILTER_COLUMNS = ("unit_code", "county_code")
# The DuckDB settings a release's files are written with. Nobody opens a staged file before
# `publish_release` has fsynced it and switched the link to its folder (a crash before that leaves an
# unpublished folder, which the next publication prunes), so DuckDB's own syncs of each file at commit
# and at checkpoint only made the step wait on the disk. A checkpoint threshold of 0 makes each commit
# checkpoint at once, which writes the rows into the file only, not into the log first and into the
# file again at the checkpoint. With both, a city's analyst file took 17 % less wall time to write and
# its 8 county extracts 21 % less (10 % less CPU); publishing's one fsync a file costs ~20 ms for all.
STAGING_CONFIG = {
    "fsync_mode": "NONE",
    "checkpoint_threshold": "0b",
    "auto_checkpoint_skip_wal_threshold": "0",
}


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


def quote_ident(name: str) -> str:
    """A DuckDB identifier; names come from the build's catalog, never from submitted data."""
    return '"' + name.replace('"', '""') + '"'


def analyst_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[Table]:
    """The base tables of `catalog` analysts may read, with their columns."""
    rows = con.execute(
        """
        select t.table_schema, t.table_name, list(c.column_name order by c.ordinal_position)
        from information_schema.tables as t
        inner join information_schema.columns as c
            on c.table_catalog = t.table_catalog
            and c.table_schema = t.table_schema
            and c.table_name = t.table_name
        where t.table_catalog = ? and t.table_type = 'BASE TABLE'
            and t.table_schema in (select unnest(?::varchar[]))
        group by all
        order by 1, 2
        """,
        [catalog, list(ANALYST_SCHEMAS)],
    ).fetchall()
    return [
        Table(schema, name, tuple(cols)) for schema, name, cols in rows if name.startswith(ANALYST_PREFIXES)
    ]


def export_analyst_file(build: Path, target: Path, alias_key: str) -> dict[str, int]:
    """Copy the analyst tables of `build` into the new file `target`; returns rows per table."""
    with duckdb.connect(str(target), config=STAGING_CONFIG) as con:
        con.execute("attach ? as src (read_only)", [str(build)])
        tables = analyst_tables(con, "src")
        # One transaction for the whole file: a commit per table made DuckDB write and sync its log
        # once per table, and the checkpoint then writes every table again.
        con.execute("begin")
        counts = _copy_tables(con, tables, where=None)
        _anonymise(con, alias_key)
        con.execute("commit")
        con.execute("detach src")
        con.execute("checkpoint")
    return counts


def export_counties(analyst_file: Path, folder: Path) -> dict[str, dict[str, int]]:
    """One extract per county of dim_unit, cut from the finished analyst file: every table with a unit or
    county column, filtered. Aliases and withheld figures are already applied there, and they depend only on a
    row's own unit and codes, so a county's rows are exactly what its analysts would see in the city
    file. The analyst file is attached once for all counties (at 16 cities, re-reading the build for
    each of 128 counties and aliasing each extract again took most of the publish step), and the
    counties are written side by side, a thread per core, each on its own connection to that one
    DuckDB instance (DuckDB releases the GIL; a county's file is written by one thread only)."""
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(config=STAGING_CONFIG) as con:
        con.execute("attach ? as src (read_only)", [str(analyst_file)])
        tables = [t for t in analyst_tables(con, "src") if any(c in t.columns for c in COUNTY_FILTER_COLUMNS)]
        codes = [
            r[0]
            for r in con.execute("select distinct county_code from src.marts.dim_unit order by 1").fetchall()
        ]
        # Each county's connection is made here: a DuckDB connection object is not safe to share
        # between threads, not even to make cursors.
        cursors = [con.cursor() for _ in codes]
        workers = min(len(codes), max(2, os.cpu_count() or 2)) or 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="county") as pool:
            futures = [
                pool.submit(_export_county, cursor, code, tables, folder)
                for cursor, code in zip(cursors, codes, strict=True)
            ]
            counts = [future.result() for future in futures]
        con.execute("detach src")
    return dict(zip(codes, counts, strict=True))


def _export_county(
    cursor: duckdb.DuckDBPyConnection, code: str, tables: list[Table], folder: Path
) -> dict[str, int]:
    """One county's extract, on a connection of its own (`use`, the temp table and the attachment's
    name are per connection); closes it."""
    alias = quote_ident(f"county_{code}")
    with cursor as cur:
        cur.execute(f"attach ? as {alias}", [str(folder / f"{code}.duckdb")])
        cur.execute(f"use {alias}")
        cur.execute(
            "create temp table county_units as "
            "select unit_code from src.marts.dim_unit where county_code = ?",
            [code],
        )
        # One transaction per extract: committing each table synced the extract's log once per table
        # (16 syncs a county, 2,000 at 16 cities, and the step waited on the disk rather than the CPU).
        cur.execute("begin")
        counts = _copy_tables(cur, tables, where=code)
        cur.execute("drop table temp.county_units")
        cur.execute("commit")
        cur.execute("use memory")
        cur.execute(f"checkpoint {alias}")  # no WAL left beside a file analysts open read-only
        cur.execute(f"detach {alias}")
    return counts


def _copy_tables(con: duckdb.DuckDBPyConnection, tables: list[Table], where: str | None) -> dict[str, int]:
    """Copy `tables` from `src`: all rows into the analyst file (`where` None), a county's rows into its
    extract. The analyst file keeps each table with a unit column in unit order, so that a county's
    rows lie in a few row groups: DuckDB skips the others by their min/max of unit_code when the
    county's copy also filters on the range of its unit codes (a county's units are a contiguous run
    of codes in the registry; the range only narrows what the exact list then keeps). At 16 cities
    every county read all 1.3 million rows of fct_person_tier_score before."""
    counts: dict[str, int] = {}
    for schema in sorted({table.schema for table in tables}):
        con.execute(f"create schema if not exists {quote_ident(schema)}")
    units_range = (
        con.execute("select min(unit_code), max(unit_code) from county_units").fetchone()
        if where is not None
        else None
    )
    for table in tables:
        source = f"src.{table.ref}"
        has_units = "unit_code" in table.columns
        # `create table … as` answers with the number of rows it wrote
        if where is None:
            order = " order by unit_code" if has_units else ""
            written = con.execute(f"create table {table.ref} as select * from {source}{order}").fetchone()
        elif has_units:
            written = con.execute(
                f"create table {table.ref} as select * from {source} "
                "where unit_code between ? and ? and unit_code in (select unit_code from county_units)",
                list(units_range or (None, None)),
            ).fetchone()
        else:
            written = con.execute(
                f"create table {table.ref} as select * from {source} where county_code = ?", [where]
            ).fetchone()
        counts[f"{table.schema}.{table.name}"] = written[0] if written else 0
    return counts


RATER_COLUMNS = {"rater_code", "ratee_code", "rater_tier"}


def _alias(column: str) -> str:
    # Keyed (not a bare hash of the code, which a reader could brute-force over a unit's few hundred
    # person codes) and stable within a unit, so one rater's findings still group together.
    return f"(? || left(sha256(? || unit_code || '|' || {quote_ident(column)}), 8))"


def _anonymise(con: duckdb.DuckDBPyConnection, alias_key: str) -> None:
    """Keyed aliases for named internal raters tied to another person; leniency withheld on < 3 ratees."""
    tables = analyst_tables(con, current_catalog(con))
    for table in tables:
        columns = set(table.columns)
        if not columns >= RATER_COLUMNS:
            continue
        second = "rater_code_2" in columns
        alias_params = [RATER_ALIAS_PREFIX, alias_key]
        assignments: list[tuple[str, list[object]]] = []
        if "explanation_zh" in columns:
            # Every SET expression sees the old codes, so the text is rewritten from them first.
            text, text_params = f"replace(explanation_zh, rater_code, {_alias('rater_code')})", alias_params
            if second:
                alias_2 = _alias("rater_code_2")
                text = f"replace({text}, coalesce(rater_code_2, chr(0)), coalesce({alias_2}, chr(0)))"
                text_params = text_params + alias_params
            assignments.append((f"explanation_zh = {text}", text_params))
        assignments.append((f"rater_code = {_alias('rater_code')}", alias_params))
        if second:
            assignments.append((f"rater_code_2 = {_alias('rater_code_2')}", alias_params))
        sets = ", ".join(sql for sql, _ in assignments)
        params = [v for _, values in assignments for v in values]
        # A self-rating (A1: rater = ratee) reveals nobody else's rating and keeps the person's code.
        tied, tied_params = ties_rater_to_ratee(columns)
        con.execute(
            f"update {table.ref} set {sets} where {tied} and rater_tier in (select unnest(?::varchar[]))",
            [*params, *tied_params, list(NAMED_TIERS)],
        )
    if any((t.schema, t.name) == ("quality", "fct_rater_leniency") for t in tables):
        con.execute(
            "update quality.fct_rater_leniency set leniency = null, leniency_se = null where n_ratees < ?",
            [MIN_RATEES_FOR_LENIENCY],
        )
    apply_secondary_suppression(con)


def current_catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]


def rater_alias_key(key: PseudonymKey | None = None) -> str:
    """A secret for rater aliases derived from the pseudonymisation key (rotating that key rotates these)."""
    secret = (key or load_key()).secret
    return hmac.new(secret, b"rater-alias", hashlib.sha256).hexdigest()


def stage_release(
    build: Path,
    lay: WarehouseLayout | None = None,
    label: str = "",
    alias_key: str | None = None,
    progress: Callable[[str], None] | None = None,
    facts: dict[str, object] | None = None,
) -> Path:
    """A complete, not yet published release folder made from `build`."""
    lay = lay or layout()
    pseudonym_key = load_key()  # refuses a missing, weak or demo key outside demo mode
    key = alias_key if alias_key is not None else rater_alias_key(pseudonym_key)
    release = new_release(lay, label)
    tables = export_analyst_file(build, release / PUBLISHED_NAME, key)
    extracts = export_counties(release / PUBLISHED_NAME, release / COUNTIES_NAME)
    counties = {code: rows.get("marts.fct_person_quarter", 0) for code, rows in extracts.items()}
    if progress:
        progress(f"{len(counties)} county extracts: {sum(counties.values())} person-quarters")
    if pseudonym_key.is_demo and progress:
        progress(DEMO_WARNING)
    manifest = {**(facts or {}), "demo_key": pseudonym_key.is_demo, "tables": tables}
    write_manifest(release, {**manifest, "county_person_quarters": counties})
    return release
