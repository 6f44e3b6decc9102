"""Asset checks on the findings marts (warn, never fail): counts by finding type and severity.

The check reads the run's build DuckDB read-only (pipelines/defs/dbt/resources.py run_duckdb_path()) after
dbt has built quality/fct_rating_findings. It warns when any high-severity finding exists (they feed
anomaly_rate) and always reports the counts per code in its metadata.
"""

import dagster as dg
import duckdb

from pipelines.defs.dbt.resources import run_duckdb_path

FINDINGS_KEY = dg.AssetKey(["quality", "fct_rating_findings"])


def finding_counts(path: str) -> list[tuple[str, str, int]]:
    with duckdb.connect(path, read_only=True) as con:
        return con.sql(
            "select code, severity, count(*) from quality.fct_rating_findings group by all order by code"
        ).fetchall()


@dg.asset_check(asset=FINDINGS_KEY, blocking=False, description="Findings by type; warns on high severity.")
def findings_by_type(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    path = run_duckdb_path(context)
    if not path.exists():
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"reason": f"no warehouse at {path}"}
        )
    counts = finding_counts(str(path))
    by_code = {code: int(n) for code, _, n in counts}
    n_high = sum(int(n) for _, severity, n in counts if severity == "high")
    return dg.AssetCheckResult(
        passed=n_high == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "findings": sum(by_code.values()),
            "high_severity": n_high,
            **{f"n_{code}": n for code, n in by_code.items()},
        },
        description=f"{n_high} high-severity findings route to human review" if n_high else None,
    )
