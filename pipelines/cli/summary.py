"""What a run did, read back from what it wrote: submission status per unit (with names and counties
from the registry), each rejected file's first reason, findings by severity, where the outputs are.

Everything here reads files the pipeline wrote (raw/unit_status, raw/submissions, raw/receipt_items,
the published warehouse, opened read-only); nothing is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.domain.quarters import parse_quarter
from pipelines.domain.registry import load_active_registry
from pipelines.paths import data_dir, landing_dir, raw_dir, receipts_dir, reports_dir
from pipelines.publish.warehouse import layout

STATUS_ORDER = ("on_time", "late", "rejected", "missing")
STATUS_LABELS = {
    "on_time": "按时 on time",
    "late": "逾期 late",
    "rejected": "退回 rejected",
    "missing": "未报 missing",
}
SEVERITY_ORDER = ("high", "medium", "low")


class NotIngestedError(Exception):
    """The quarter has no status table yet."""


def _raw(table: str, quarter: str) -> Path:
    return raw_dir() / table / f"{parse_quarter(quarter).key}.parquet"


def status_table(quarter: str) -> pl.DataFrame:
    """One row per registry unit: status, unit name, county, receipts folder (if any)."""
    path = _raw("unit_status", quarter)
    if not path.exists():
        raise NotIngestedError(quarter)
    status = pl.read_parquet(path).select("quarter", "unit_code", "status", "files_seen")
    registry = load_active_registry().select("unit_code", "unit_name", "county", "county_code", "level")
    table = status.join(registry, on="unit_code", how="left")
    receipts = receipts_dir() / parse_quarter(quarter).key
    folders = [str(receipts / code) if (receipts / code).exists() else "" for code in table["unit_code"]]
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    return (
        table.with_columns(pl.Series("receipts", folders, dtype=pl.Utf8))
        .with_columns(pl.col("status").replace_strict(order, default=len(order)).alias("_order"))
        .sort("_order", "county_code", "unit_code")
        .drop("_order")
    )


@dataclass(frozen=True)
class Rejection:
    unit_code: str
    unit_name: str
    county: str
    file_name: str
    reason: str


def rejections(quarter: str) -> list[Rejection]:
    """Each rejected unit's newest rejected file and the first error its receipt lists."""
    status = status_table(quarter).filter(pl.col("status") == "rejected")
    if status.is_empty():
        return []
    subs_path, items_path = _raw("submissions", quarter), _raw("receipt_items", quarter)
    subs = pl.read_parquet(subs_path) if subs_path.exists() else None
    items = pl.read_parquet(items_path) if items_path.exists() else None
    out = []
    for row in status.iter_rows(named=True):
        file_name, reason = "", "无可接受的文件 no acceptable file"
        if subs is not None:
            rejected = (
                subs.filter((pl.col("unit_code") == row["unit_code"]) & ~pl.col("accepted"))
                .sort("arrival_at", "file_name")
                .tail(1)
            )
            if rejected.height:
                file_name = rejected["file_name"][0]
                if items is not None:
                    errors = items.filter(
                        (pl.col("submission_id") == rejected["submission_id"][0])
                        & (pl.col("severity") == "error")
                    )
                    if errors.height:
                        reason = errors["message"][0]  # receipts list errors first, in sheet/row order
        out.append(
            Rejection(row["unit_code"], row["unit_name"] or "", row["county"] or "", file_name, reason)
        )
    return out


def findings_by_severity(published: Path, quarters: list[str]) -> dict[str, int]:
    """Rating-quality findings of `quarters` in the published warehouse, by severity."""
    if not published.exists():
        return {}
    with duckdb.connect(str(published), read_only=True) as con:
        where = con.execute(
            "select table_schema from information_schema.tables where table_name = ?",
            ["fct_rating_findings_quarterly"],
        ).fetchone()
        if where is None:
            return {}
        schema = '"' + str(where[0]).replace('"', '""') + '"'  # a name from the catalog, quoted
        rows = con.execute(
            f"select severity, count(*) from {schema}.fct_rating_findings_quarterly "
            "where quarter in (select unnest(?)) group by severity",
            [quarters],
        ).fetchall()
    counts = {str(s): int(n) for s, n in rows}
    return {
        s: counts[s] for s in (*SEVERITY_ORDER, *sorted(set(counts) - set(SEVERITY_ORDER))) if s in counts
    }


@dataclass
class QuarterSummary:
    quarter: str
    counts: dict[str, int]
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class RunSummary:
    quarters: list[QuarterSummary]
    findings: dict[str, int]
    outputs: dict[str, str]


def outputs(published: Path) -> dict[str, str]:
    """Where the outputs are, labelled in Chinese and English."""
    lay = layout()
    reports = sorted(reports_dir().glob("*/*.html"))
    return {
        "分析库 analyst warehouse": str(published),
        "区县库 county extracts": f"{lay.counties}/<county_code>.duckdb",
        "季度报告 quarterly report": str(reports[-1]) if reports else str(reports_dir()),
        "成果文件 deliverables": f"{data_dir() / 'deliverables'}/<quarter>/",
        "回执 receipts": f"{receipts_dir()}/<quarter>/<unit>/",
        "报送目录 landing area": f"{landing_dir()}/<quarter>/",
        "日志 logs": str(data_dir() / "logs"),
    }


def run_summary(quarters: list[str], published: Path) -> RunSummary:
    per_quarter = []
    for q in quarters:
        table = status_table(q)
        counts = dict(table.group_by("status").len().iter_rows())
        per_quarter.append(QuarterSummary(q, {s: counts.get(s, 0) for s in STATUS_ORDER}, rejections(q)))
    return RunSummary(per_quarter, findings_by_severity(published, quarters), outputs(published))
