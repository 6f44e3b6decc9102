"""What one dbt build rebuilds: a quarter, and within it only the units whose inputs changed.

Before dbt starts, the build file gets a one-row table `main._build_scope (quarter, units)`, read by
dbt_project/macros/quarters.sql at execution time (not a dbt var: changing vars costs dbt a full parse):

- quarter null: every quarter is rebuilt (a run without a partition, or dbt by hand);
- units null: every unit of the quarter is rebuilt;
- units a list: the unit-grain models (tag `unit_grain`: in dbt_project.yml the quarterly intermediate
  models and fct_person_quarter, fct_person_tier_score, fct_task_quarter; in their own config the quality
  tables int_quality_ratings and int_quality_rater_pairs) delete and rebuild only those units' rows of
  the quarter, and the quarter step leaves out the data tests the global key settles (assets.py).
  Everything else — unit and county facts (they carry city-wide findings and ranks), the quality
  findings (city-wide pools, base rates and q values), dimensions, annual models — is rebuilt as before.

Which units changed is decided from the inputs themselves, not from what ingestion says it did: per
unit, a hash of its rows in every raw table of the quarter (raw/<table>/<quarter>.parquet), compared
with the hashes recorded when the build file's rows were last built (`main._built_units`). A unit-grain
model reads nothing about a unit but that unit's raw rows, the registry and the rules, so those two and
the dbt project's files (its SQL, macros and configs, as the run parses them) form a global key: when
it differs from the recorded one, the whole quarter is rebuilt. The records are written only after dbt
succeeded; a failed build is discarded with them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCOPE_TABLE = "main._build_scope"
LAST_SCOPE = "main._last_scope"  # the scope a run decided, kept for that run's later dbt steps
BUILT_UNITS = "main._built_units"
BUILT_GLOBAL = "main._built_global"


@dataclass(frozen=True)
class Scope:
    quarter: str | None
    units: tuple[str, ...] | None  # None: every unit
    unit_hashes: dict[str, str]
    global_key: str
    run_id: str = ""


def _file_digest(digest: hashlib._Hash, path: Path) -> None:
    digest.update(str(path.name).encode())
    if path.exists():
        digest.update(path.read_bytes())


def global_key(registry: Path, rules_dir: Path, project_key: str) -> str:
    """A hash of everything a unit-grain model reads besides the unit's own raw rows: the registry, the
    rules files, and `project_key`, the key of the dbt parse the run builds from (dbt_api.parse_key:
    every file of the dbt project, i.e. the models, the project's macros and generic tests, whose
    scoping a unit-scoped build trusts, test_scope.sql, and the YAML configs; the parse's vars and
    environment; the dbt and Python versions).

    Not from target/manifest.json: that manifest is what `make env` last parsed, while a run builds
    from its own parse of the files. A model edited without `make env` left the old key in place, and a
    unit-scoped build then wrote the changed units with the new SQL next to the other units' rows made
    by the old. Any edit, a comment included, rebuilds the quarter once."""
    digest = hashlib.sha256()
    _file_digest(digest, registry)
    for path in sorted(rules_dir.glob("*.parquet")) if rules_dir.exists() else []:
        _file_digest(digest, path)
    digest.update(project_key.encode())
    return digest.hexdigest()


def unit_hashes(con: duckdb.DuckDBPyConnection, raw_dir: Path, quarter: str) -> dict[str, str]:
    """Per unit, a hash of its rows in every raw table of `quarter` (order of rows does not matter)."""
    parts: dict[str, list[str]] = {}
    for table_dir in sorted(p for p in raw_dir.iterdir() if p.is_dir()) if raw_dir.exists() else []:
        path = table_dir / f"{quarter}.parquet"
        if not path.exists():
            continue
        rows = con.execute(
            "select unit_code, count(*), sum(hash(t)::hugeint)::varchar from read_parquet(?) as t "
            "group by unit_code",
            [str(path)],
        ).fetchall()
        for unit, n, total in rows:
            parts.setdefault(str(unit), []).append(f"{table_dir.name}:{n}:{total}")
    return {unit: hashlib.sha256("|".join(p).encode()).hexdigest() for unit, p in parts.items()}


def _has_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def changed_units(previous: dict[str, str], current: dict[str, str]) -> tuple[str, ...]:
    """Units whose raw rows differ, appeared or disappeared."""
    return tuple(sorted(u for u in previous.keys() | current.keys() if previous.get(u) != current.get(u)))


def _decided_by_run(con: duckdb.DuckDBPyConnection, run_id: str, quarter: str | None) -> list[tuple]:
    if not run_id or not _has_table(con, LAST_SCOPE):
        return []
    return con.execute(
        f"select units from {LAST_SCOPE} where run_id = ? and quarter is not distinct from ?",
        [run_id, quarter],
    ).fetchall()


def prepare_scope(database: Path, quarter: str | None, raw_dir: Path, key: str, run_id: str = "") -> Scope:
    """Decide the scope of the next dbt build on `database` and write it to the scope table.

    Dagster runs the dbt multi-asset as two steps when the Python findings sit between its models (the
    models they read first, the rest after). The second step of a run must rebuild the same units as
    the first, although the first already recorded them as built: it reuses the run's decision."""
    con = duckdb.connect(str(database))
    try:
        units: tuple[str, ...] | None = None
        hashes: dict[str, str] = {}
        decided = _decided_by_run(con, run_id, quarter)
        if quarter is not None:
            hashes = unit_hashes(con, raw_dir, quarter)
        if decided:
            stored = decided[0][0]
            units = None if stored is None else tuple(stored)
        elif quarter is not None and _has_table(con, BUILT_UNITS) and _has_table(con, BUILT_GLOBAL):
            recorded = con.execute(f"select global_key from {BUILT_GLOBAL}").fetchall()
            if recorded == [(key,)]:
                rows = con.execute(
                    f"select unit_code, content from {BUILT_UNITS} where quarter = ?", [quarter]
                ).fetchall()
                if rows:  # a quarter never built here is built whole
                    units = changed_units(dict(rows), hashes)
        con.execute(f"create or replace table {SCOPE_TABLE} (quarter varchar, units varchar[])")
        if quarter is not None:
            con.execute(
                f"insert into {SCOPE_TABLE} values (?, ?)", [quarter, None if units is None else list(units)]
            )
    finally:
        con.close()
    return Scope(quarter, units, hashes, key, run_id)


def hash_columns(unit_hashes: dict[str, str]) -> tuple[list[str], list[str]]:
    """The units and their hashes as two parallel lists, in unit order."""
    ordered = sorted(unit_hashes.items())
    return [unit for unit, _ in ordered], [content for _, content in ordered]


def record_built(database: Path, scope: Scope) -> None:
    """After a successful build: what its unit-grain rows were built from; the scope is cleared, so dbt
    by hand on this file rebuilds everything again."""
    con = duckdb.connect(str(database))
    try:
        recorded = (
            con.execute(f"select global_key from {BUILT_GLOBAL}").fetchall()
            if _has_table(con, BUILT_GLOBAL)
            else []
        )
        con.execute(
            f"create table if not exists {BUILT_UNITS} (quarter varchar, unit_code varchar, content varchar)"
        )
        con.execute(f"create or replace table {BUILT_GLOBAL} (global_key varchar)")
        if scope.quarter is None or recorded != [(scope.global_key,)]:
            # every quarter rebuilt, or other quarters' rows were built from other rules, registry or
            # SQL: no record of them holds any more
            con.execute(f"delete from {BUILT_UNITS}")
        if scope.quarter is not None:
            con.execute(f"delete from {BUILT_UNITS} where quarter = ?", [scope.quarter])
            # One statement for every unit: `executemany` runs the insert once per row, each its own
            # commit (8,000 on the 16-city province: 16-24 s on the loaded machine against 0.1-0.2 s);
            # two unnests in one select list are zipped row by row.
            units, contents = hash_columns(scope.unit_hashes)
            con.execute(
                f"insert into {BUILT_UNITS} select ?, unnest(?::varchar[]), unnest(?::varchar[])",
                [scope.quarter, units, contents],
            )
        con.execute(f"insert into {BUILT_GLOBAL} values (?)", [scope.global_key])
        con.execute(
            f"create or replace table {LAST_SCOPE} (run_id varchar, quarter varchar, units varchar[])"
        )
        con.execute(
            f"insert into {LAST_SCOPE} values (?, ?, ?)",
            [scope.run_id, scope.quarter, None if scope.units is None else list(scope.units)],
        )
        con.execute(f"drop table if exists {SCOPE_TABLE}")
    finally:
        con.close()
