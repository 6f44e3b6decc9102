"""A short, plain-text summary of a built warehouse, for the end of the pipeline's main command.

    uv run python -m pipelines.warehouse_summary [path/to/build.duckdb]

Per quarter: units by submission status, persons scored, computed grades, and the top and bottom three
counties by compliance_index; per year: annual grades. Opens DuckDB read-only, so it can run next to
analysts' sessions.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import duckdb

from pipelines import paths
from pipelines.domain.constants import ANNUAL_GRADE_ORDER, QUARTER_GRADE_ORDER
from pipelines.domain.constants import SUBMISSION_STATUSES as STATUS_ORDER

TOP_N = 3


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> str:
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join(f"{k} {counts[k]}" for k in keys)


def summary(duckdb_path: Path | str) -> str:
    """The summary text of the warehouse at `duckdb_path` (opened read-only)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        statuses: dict[str, dict[str, int]] = defaultdict(dict)
        for quarter, status, n in con.execute(
            """select quarter, submission_status, count(*) from marts.fct_unit_quarter
            group by all order by all"""
        ).fetchall():
            statuses[quarter][status] = n
        scored = {
            q: (s, p)
            for q, s, p in con.execute(
                """select quarter, count(*) filter (where is_scored), count(*) filter (where is_participant)
                from marts.fct_person_quarter group by quarter"""
            ).fetchall()
        }
        grades: dict[str, dict[str, int]] = defaultdict(dict)
        for quarter, grade, n in con.execute(
            """select quarter, computed_grade, count(*) from marts.fct_person_quarter
            where is_participant group by all order by all"""
        ).fetchall():
            grades[quarter][grade] = n
        counties: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for quarter, name, index in con.execute(
            """select quarter, county_name, compliance_index from marts.fct_county_compliance
            where county_rank is not null order by quarter, county_rank, county_code"""
        ).fetchall():
            counties[quarter].append((name, index))
        annual: dict[int, dict[str, int]] = defaultdict(dict)
        for year, grade, n in con.execute(
            """select rules_year, coalesce(annual_grade, annual_status), count(*) from marts.fct_person_year
            group by all order by all"""
        ).fetchall():
            annual[year][grade] = n

    lines = [f"warehouse {duckdb_path}"]
    for quarter in sorted(statuses):
        n_scored, n_participants = scored.get(quarter, (0, 0))
        lines.append(f"{quarter}")
        lines.append(f"  units by status: {_ordered(statuses[quarter], STATUS_ORDER)}")
        lines.append(f"  persons scored: {n_scored} of {n_participants} participants")
        lines.append(f"  grades: {_ordered(grades.get(quarter, {}), QUARTER_GRADE_ORDER) or 'none'}")
        ranked = counties.get(quarter, [])
        if ranked:
            top = ", ".join(f"{name} {index:.1f}" for name, index in ranked[:TOP_N])
            bottom = ", ".join(f"{name} {index:.1f}" for name, index in ranked[-TOP_N:][::-1])
            lines.append(f"  compliance top {min(TOP_N, len(ranked))}: {top}")
            lines.append(f"  compliance bottom {min(TOP_N, len(ranked))}: {bottom}")
    for year in sorted(annual):
        lines.append(f"{year} annual grades: {_ordered(annual[year], ANNUAL_GRADE_ORDER)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(sys.argv[1] if len(sys.argv) > 1 else paths.duckdb_path()))
