"""What the deliverables are made of, read from the pipeline's warehouse (never from the analyst file).

The warehouse a deliverable reads is the run's build once published (`private/work.duckdb`), opened
read-only. Names come from the restricted persons table (`restricted/persons/<quarter>.parquet`): a unit
posts its own people's names for 公示, and only the name column is read from it, never the national ID.
Findings for the county workbooks are read from the county's published extract, where the release
step (pipelines/publish/export.py) has already replaced named raters by their keyed aliases: the county
sees exactly the aliases of the analyst file, and no second aliasing exists to drift from the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.domain.national_id import ID_SPAN_HINT, mask_ids

# What a receipt status means for the unit (unit_status.status).
STATUS_ZH = {"on_time": "按时报送", "late": "逾期报送", "rejected": "报送被拒收", "missing": "未报送"}


@dataclass(frozen=True)
class Sources:
    work: Path  # the pipeline's warehouse (every schema), opened read-only
    data_root: Path  # for restricted/persons, raw/submissions
    county_extracts: Path | None  # published counties/ folder (aliased findings)


@contextmanager
def connect(sources: Sources) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    try:
        con.execute("attach ? as w (read_only)", [str(sources.work)])
        con.execute("use w")
        yield con
    finally:
        con.close()


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or []).pl()


def units(con: duckdb.DuckDBPyConnection, quarter: str) -> pl.DataFrame:
    """Registry units with their quarter's status and quota figures."""
    return frame(
        con,
        """
        select d.unit_code, d.unit_name, d.unit_level, d.county_code, d.county_name, d.is_municipal,
               u.base_method, u.submission_status, u.first_accepted_at, u.deadline_at, u.files_seen,
               u.is_on_time, u.has_accepted_submission, u.n_persons, u.n_participants, u.n_scored,
               u.n_unrated, u.n_computed_good, u.top_quota_cap, u.n_proposals, u.n_proposed_good,
               u.proposes_grades, u.is_quota_compliant, u.rules_version
        from marts.dim_unit d
        inner join marts.fct_unit_quarter u on u.unit_code = d.unit_code and u.quarter = ?
        order by d.unit_code
        """,
        [quarter],
    )


def persons(con: duckdb.DuckDBPyConnection, quarter: str, names: pl.DataFrame) -> pl.DataFrame:
    """Every person of the quarter's current submissions with scores, grades and the review outcome."""
    people = frame(
        con,
        """
        select p.unit_code, p.person_code, p.section, p.is_participant, p.is_scored, p.planned_points,
               p.earned_points, p.completion_rate, p.task_score, p.eval_score, p.adjustment_points,
               p.quarter_score, p.computed_grade, p.proposed_grade, p.top_quota_cap,
               f.final_grade, f.is_reviewed, f.is_grade_changed, f.review_reason, f.review_decided_by,
               f.review_decided_on
        from marts.fct_person_quarter p
        left join results_use.fct_person_quarter_final f
            on f.quarter = p.quarter and f.unit_code = p.unit_code and f.person_code = p.person_code
        where p.quarter = ?
        order by p.unit_code, p.person_code
        """,
        [quarter],
    )
    # kept in the warehouse's order (unit, code): the files and their fingerprints must not depend on it
    return people.join(names, on=["unit_code", "person_code"], how="left", maintain_order="left")


def names(data_root: Path, quarter: str) -> pl.DataFrame:
    """unit_code, person_code, name from the restricted persons table (the national ID is not read)."""
    path = data_root / "restricted" / "persons" / f"{quarter}.parquet"
    if not path.exists():
        return pl.DataFrame(schema={"unit_code": pl.Utf8, "person_code": pl.Utf8, "name": pl.Utf8})
    found = pl.read_parquet(path, columns=["unit_code", "person_code", "name"]).unique(
        ["unit_code", "person_code"], keep="first"
    )
    # A name is printed for 公示: an ID a clerk glued to it (李博110101，19900307，1145) must not be.
    holds = found.get_column("name").str.contains(ID_SPAN_HINT).fill_null(False)
    if not holds.any():
        return found
    masked = [mask_ids(n)[0] if h else n for n, h in zip(found.get_column("name"), holds, strict=True)]
    return found.with_columns(pl.Series("name", masked, dtype=pl.Utf8))


def submissions(data_root: Path, quarter: str) -> pl.DataFrame:
    """The quarter's submissions ledger (every file seen), without archive or receipt paths: the unit
    workbook shows none, and a path (it names the data directory) would change the workbook's
    fingerprint when the data directory moves."""
    path = data_root / "raw" / "submissions" / f"{quarter}.parquet"
    columns = ["unit_code", "file_name", "arrival_at", "accepted", "is_current", "n_errors", "n_warnings"]
    if not path.exists():
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.Utf8))
    return pl.read_parquet(path, columns=columns).sort(["unit_code", "arrival_at", "file_name"])


def reviews(con: duckdb.DuckDBPyConnection, quarter: str) -> pl.DataFrame:
    """The quarter's review register rows and what became of each."""
    return frame(
        con,
        """
        select file_name, file_sha256, excel_row, unit_code, person_code, computed_grade, new_grade,
               reason, decided_by, decided_on, review_status, review_note_zh, top_quota_cap
        from results_use.int_quarter_grade_reviews
        where quarter = ?
        order by file_name, excel_row nulls first
        """,
        [quarter],
    )


def compliance(con: duckdb.DuckDBPyConnection, quarter: str) -> pl.DataFrame:
    return frame(
        con,
        """
        select *, count(county_rank) over () as n_ranked
        from marts.fct_county_compliance where quarter = ? order by county_code
        """,
        [quarter],
    )


def county_findings(
    con: duckdb.DuckDBPyConnection, sources: Sources, county_code: str, quarter: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(summary, findings) of one county's units in the quarter, from the county's published extract,
    attached read-only to `con` for the two queries (a connection of its own per county cost 40 ms to
    open, 5 s for a 16-city province's 128 counties; attaching costs a few)."""
    empty = pl.DataFrame()
    if sources.county_extracts is None:
        return empty, empty
    path = sources.county_extracts / f"{county_code}.duckdb"
    if not path.exists():
        return empty, empty
    con.execute("attach ? as county_extract (read_only)", [str(path)])
    try:
        year = int(quarter[:4])
        summary = con.sql(
            """
            select period, unit_code, code, type, severity, n_findings
            from county_extract.quality.fct_findings_summary
            where quarter = ? or (quarter is null and year = ?)
            order by unit_code, code, period, type, severity
            """,
            params=[quarter, year],
        ).pl()
        findings = con.sql(
            """
            select finding_id, period, unit_code, code, type, severity, rater_tier, rater_code, ratee_code,
                   explanation_zh
            from county_extract.quality.fct_rating_findings
            where quarter = ? or (quarter is null and year = ?)
            order by unit_code, code, finding_id
            """,
            params=[quarter, year],
        ).pl()
    finally:
        con.execute("detach county_extract")
    return summary, findings


def results_use_rules(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, object]:
    """The year's [results_use] parameters as the warehouse applied them (empty when the year is absent)."""
    rows = frame(
        con, "select * from results_use.int_results_use_rules where rules_year = ?", [year]
    ).to_dicts()
    return rows[0] if rows else {}


def cadre_lists(con: duckdb.DuckDBPyConnection, year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    candidates = frame(
        con,
        "select * from results_use.fct_commendation_candidates where rules_year = ? "
        "order by latest_unit_code, latest_person_code, person_key",
        [year],
    )
    streaks = frame(
        con,
        "select * from results_use.fct_excellent_streaks where rules_year = ? "
        "order by annual_unit_code, annual_person_code, person_key",
        [year],
    )
    return candidates, streaks
