"""Recompute a per-unit quality table only for the units whose ratings changed.

Every row of quality/reliability, quality/leniency and quality/fair_scores is a function of one unit's
ratings of the quarter (and, for fair scores, of the year's rules): reliability is per unit and tier,
the facets model's connected components never cross units, a fair score uses the unit's leniencies.
So a table can be rebuilt from the previous file's rows of the units whose ratings are as they were,
and a recompute of the others.

What "as they were" means is recorded in the file itself (a Parquet key-value entry, written in the
same atomic replace as the rows): per unit, a fingerprint of its ratings rows, and a key of everything
else the rows depend on (the code of the computation, the versions of polars, numpy and scipy, and
what the caller adds, e.g. the rules). A unit is reused only when both match. This does not trust the
dbt step's scope: a file written by a run whose build was later discarded, by other code, or from other
rules, is recomputed where it differs, and never reused where it cannot be shown equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

import polars as pl

UNIT = "unit_code"
METADATA_KEY = "assessment.quality_inputs"
_PACKAGES = ("polars", "numpy", "scipy")
_HALF = 2**32


def unit_fingerprints(ratings: pl.DataFrame) -> dict[str, str]:
    """Per unit, its row count and two sums of its rows' hashes (high and low halves, so the sums
    cannot overflow): independent of row order, changed by any value of any row."""
    hashed = ratings.select(pl.col(UNIT), pl.struct(pl.all()).hash(seed=0).alias("_h"))
    sums = hashed.group_by(UNIT).agg(
        pl.len().alias("_n"),
        (pl.col("_h") // _HALF).sum().alias("_hi"),
        (pl.col("_h") % _HALF).sum().alias("_lo"),
    )
    return {
        str(unit): f"{n}:{hi}:{lo}" for unit, n, hi, lo in sums.select(UNIT, "_n", "_hi", "_lo").iter_rows()
    }


def code_key(sources: Sequence[Path], extra: Mapping[str, object]) -> str:
    """A hash of the computation's source files, the numeric libraries' versions and `extra`."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for package in _PACKAGES:
        digest.update(f"{package}={metadata.version(package)}".encode())
    digest.update(json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def inputs_metadata(key: str, fingerprints: Mapping[str, str]) -> dict[str, str]:
    """The Parquet key-value entry recording what a table's rows were computed from."""
    return {METADATA_KEY: json.dumps({"key": key, "units": dict(sorted(fingerprints.items()))})}


def recorded_inputs(path: Path) -> tuple[str, dict[str, str]] | None:
    """The key and unit fingerprints a file was written with; None for a missing or unmarked file."""
    if not path.exists():
        return None
    try:
        entry = pl.read_parquet_metadata(path).get(METADATA_KEY)
    except (OSError, pl.exceptions.PolarsError):
        return None
    if entry is None:
        return None
    try:
        parsed = json.loads(entry)
        return str(parsed["key"]), {str(u): str(f) for u, f in parsed["units"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):  # not an entry this module wrote
        return None


def reusable_units(
    recorded: tuple[str, dict[str, str]] | None, key: str, fingerprints: Mapping[str, str]
) -> set[str]:
    """Units whose recorded rows were computed from the same ratings under the same key."""
    if recorded is None or recorded[0] != key:
        return set()
    units = recorded[1]
    return {unit for unit, fingerprint in fingerprints.items() if units.get(unit) == fingerprint}


def rebuild(
    path: Path,
    key: str,
    fingerprints: Mapping[str, str],
    compute: Callable[[Sequence[str] | None], pl.DataFrame],
    order: Callable[[pl.DataFrame], pl.DataFrame],
) -> tuple[pl.DataFrame, int]:
    """The table a full `compute(None)` gives, reusing the file's rows of unchanged units.

    `compute(units)` computes the rows of those units (None: every unit); `order` puts rows in the
    order a full compute writes them. Returns the table and how many units were recomputed. A unit
    that no longer has ratings is not in `fingerprints` and so loses its rows, as in a full compute.
    """
    reused = reusable_units(recorded_inputs(path), key, fingerprints)
    if not reused:
        return compute(None), len(fingerprints)
    changed = sorted(set(fingerprints) - reused)
    kept = pl.read_parquet(path).filter(pl.col(UNIT).is_in(sorted(reused)))
    if not changed:
        return order(kept), 0
    fresh = compute(changed)
    return order(pl.concat([kept, fresh.select(kept.columns)], how="vertical")), len(changed)
