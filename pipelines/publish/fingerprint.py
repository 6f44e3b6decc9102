"""What a release shows, as one hash: publish (and report) only when it changed.

The fingerprint covers every analyst table of a build (the tables a release is exported from: schemas
marts and quality, names fct_/dim_), their column lists and their rows, and the rater-alias secret the
export pseudonymises with (rotating the key changes what a release shows). Rows are hashed with DuckDB's
`hash()` of the whole row (floats rounded to 9 decimals: parallel sums differ in their last bits from
one build of the same inputs to the next; a value on a rounding boundary can still cost one needless
release) and summed as a 128-bit integer: independent of row order, and unlike an XOR two identical rows
do not cancel out. A hash collision could at worst skip one publication of a change; the next change
publishes everything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from pipelines.publish.export import analyst_tables, current_catalog, quote_ident
from pipelines.publish.warehouse import WarehouseLayout, current_release, layout, read_manifest

FINGERPRINT_FACT = "content_fingerprint"
FLOAT_DIGITS = 9  # DuckDB's parallel float sums differ in the last bits from run to run
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


def _canonical(column: str, data_type: str) -> str:
    """A column as hashed: floats rounded, so two builds of the same inputs hash the same."""
    return f"round({column}, {FLOAT_DIGITS})" if data_type in FLOAT_TYPES else column


def content_fingerprint(build: Path, alias_key: str) -> str:
    """The fingerprint of `build`'s analyst tables (read-only), as a hex string."""
    digest = hashlib.sha256(hashlib.sha256(alias_key.encode()).digest())
    with duckdb.connect(str(build), read_only=True) as con:
        for table in analyst_tables(con, current_catalog(con)):
            # names come from the build's own catalog (quoted), never from submitted data
            types = {r[0]: str(r[1]).upper() for r in con.execute(f"describe {table.ref}").fetchall()}
            row = ", ".join(_canonical(quote_ident(c), types.get(c, "")) for c in table.columns)
            rows, total = con.execute(
                f"select count(*), coalesce(sum(hash(row({row}))::hugeint), 0)::varchar from {table.ref}"
            ).fetchone() or (0, "0")
            digest.update(f"{table.schema}.{table.name}|{','.join(table.columns)}|{rows}|{total}\n".encode())
    return digest.hexdigest()


def published_fingerprint(lay: WarehouseLayout | None = None) -> str | None:
    """The fingerprint recorded by the release analysts read now (None: nothing published, or a release
    from before fingerprints)."""
    release = current_release(lay or layout())
    if release is None:
        return None
    value = read_manifest(release).get(FINGERPRINT_FACT)
    return value if isinstance(value, str) else None
