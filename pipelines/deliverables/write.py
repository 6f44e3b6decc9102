"""write_deliverables(quarter): every file of the quarter under data/deliverables/<quarter>/.

    units/<unit_code>-<unit_name>.xlsx        平时考核结果 for 公示 (one per unit that sent files)
    notices/<unit_code>-<unit_name>.html      个人平时考核结果通知单, one A4 page per participant
    counties/<county_code>-<county_name>.xlsx the county's units only (市直 included as its own group)
    restricted/<year>-结果运用名单.xlsx         the cadre division's lists (names; never published)
    reviews/<register>-回执.html                one receipt per review register of the quarter (also copied
                                               to receipts/<quarter>/_reviews/, beside the units' receipts)

The folder is written next to the old one and swapped in with renames, so a reader never sees half a
set; a run that fails leaves the previous set in place.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.deliverables import source
from pipelines.deliverables.cadre import write_cadre_workbook
from pipelines.deliverables.cells import safe_name
from pipelines.deliverables.county import write_county_workbook
from pipelines.deliverables.notice import write_notices
from pipelines.deliverables.review_receipt import write_review_receipt
from pipelines.deliverables.sheets import DEFAULT_TIMEZONE
from pipelines.deliverables.unit import quarter_zh, write_unit_workbook
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.rules import RulesError, load_rules
from pipelines.ingest.reviews import REVIEWS_FOLDER
from pipelines.paths import data_dir
from pipelines.publish.warehouse import layout


@dataclass
class DeliverablesSummary:
    quarter: str
    root: Path
    units: list[Path] = field(default_factory=list)
    notices: list[Path] = field(default_factory=list)
    counties: list[Path] = field(default_factory=list)
    restricted: list[Path] = field(default_factory=list)
    review_receipts: list[Path] = field(default_factory=list)
    reviews_applied: int = 0
    reviews_refused: int = 0

    def lines(self) -> list[str]:
        """Where things are, for the operator command to print."""
        return [
            f"成果文件 deliverables {self.quarter}: {self.root}",
            f"  单位结果表 units: {len(self.units)}  → {self.root / 'units'}",
            f"  个人通知单 notices: {len(self.notices)}  → {self.root / 'notices'}",
            f"  县（市区）表 counties: {len(self.counties)}  → {self.root / 'counties'}",
            f"  干部科名单 restricted: {len(self.restricted)}  → {self.root / 'restricted'}",
            f"  复核回执 review receipts: {len(self.review_receipts)} "
            f"(applied {self.reviews_applied}, refused {self.reviews_refused})",
        ]


def deliverables_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "deliverables"


def _named(code: str, name: str | None, suffix: str) -> str:
    return f"{safe_name(code, 40)}-{safe_name(name or '')}{suffix}"


def write_deliverables(
    quarter: str,
    *,
    data_root: Path | None = None,
    work: Path | None = None,
    county_extracts: Path | None = None,
    generated: datetime | None = None,
) -> DeliverablesSummary:
    """Write the quarter's deliverables from the pipeline's warehouse (default: private/work.duckdb)."""
    q = parse_quarter(quarter).key
    root = (data_root or data_dir()).resolve()
    lay = layout(root / "warehouse")
    sources = source.Sources(
        work=work or lay.work,
        data_root=root,
        county_extracts=county_extracts if county_extracts is not None else lay.counties,
    )
    if not sources.work.exists():
        raise FileNotFoundError(f"no warehouse at {sources.work}: run the quarter's pipeline first")
    stamp = (generated or datetime.now(UTC)).astimezone(UTC)
    generated_text = stamp.strftime("%Y-%m-%d %H:%M UTC")
    generated_day = stamp.strftime("%Y年%m月%d日")
    final_dir = deliverables_dir(root) / q
    staging = final_dir.with_name(f".{q}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    summary = DeliverablesSummary(q, final_dir)
    names = source.names(root, q)
    files = source.submissions(root, q)
    with source.connect(sources) as con:
        units = source.units(con, q)
        people = source.persons(con, q, names)
        reviews = source.reviews(con, q)
        compliance = source.compliance(con, q)
        candidates, streaks = source.cadre_lists(con, parse_quarter(q).year)
        rules = source.results_use_rules(con, parse_quarter(q).year)
        unit_names = units.select("unit_code", "unit_name")
    period = quarter_zh(q)
    timezone = _calendar_timezone(parse_quarter(q).year)
    # A unit that sent nothing this quarter gets no workbook (the county's sheet lists it as 未报送).
    for unit in units.filter(pl.col("files_seen").fill_null(0) > 0).to_dicts():
        code = unit["unit_code"]
        mine = people.filter(pl.col("unit_code") == code)
        name = _named(code, unit["unit_name"], ".xlsx")
        unit_files = files.filter(pl.col("unit_code") == code) if files.height else files
        unit_reviews = reviews.filter(pl.col("unit_code") == code) if reviews.height else reviews
        summary.units.append(
            write_unit_workbook(
                staging / "units" / name, q, unit, mine, unit_files, unit_reviews, generated_text, timezone
            )
        )
        participants = mine.filter(pl.col("is_participant")).to_dicts()
        if participants:
            notice = staging / "notices" / _named(code, unit["unit_name"], ".html")
            summary.notices.append(write_notices(notice, unit, period, participants, generated_day))
    counties = units.select("county_code", "county_name").unique().sort("county_code")
    for county in counties.to_dicts():
        code = county["county_code"]
        mine = units.filter(pl.col("county_code") == code)
        in_county = people.filter(pl.col("unit_code").is_in(mine.get_column("unit_code").implode()))
        row = next((r for r in compliance.to_dicts() if r["county_code"] == code), None)
        summary_frame, findings = source.county_findings(sources, code, q)
        path = staging / "counties" / _named(code, county["county_name"], ".xlsx")
        summary.counties.append(
            write_county_workbook(
                path, q, county, mine, in_county, row, summary_frame, findings, generated_text, timezone
            )
        )
    year = parse_quarter(q).year
    summary.restricted.append(
        write_cadre_workbook(
            staging / "restricted" / f"{year}-结果运用名单.xlsx",
            year,
            _with_names(
                candidates, unit_names, root, "latest_unit_code", "latest_person_code", "latest_quarter"
            ),
            _with_names(
                streaks, unit_names, root, "annual_unit_code", "annual_person_code", None, f"{year}Q4"
            ),
            rules,
            generated_text,
        )
    )
    if reviews.height:
        for file_name, rows in reviews.group_by("file_name", maintain_order=True):
            stem = Path(str(file_name[0])).stem
            path = staging / "reviews" / f"{safe_name(stem)}-回执.html"
            summary.review_receipts.append(write_review_receipt(path, q, rows.to_dicts()))
        summary.reviews_applied = reviews.filter(pl.col("review_status") == "applied").height
        summary.reviews_refused = reviews.filter(pl.col("review_status") == "refused").height
    _swap(staging, final_dir)
    # The Organization Department looks for receipts where every delivery's receipt is: receipts/<quarter>/.
    for receipt in summary.review_receipts:
        target = root / "receipts" / q / REVIEWS_FOLDER / receipt.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final_dir / receipt.relative_to(staging), target)
    summary.units = [final_dir / p.relative_to(staging) for p in summary.units]
    summary.notices = [final_dir / p.relative_to(staging) for p in summary.notices]
    summary.counties = [final_dir / p.relative_to(staging) for p in summary.counties]
    summary.restricted = [final_dir / p.relative_to(staging) for p in summary.restricted]
    summary.review_receipts = [final_dir / p.relative_to(staging) for p in summary.review_receipts]
    return summary


def _calendar_timezone(year: int) -> str:
    """The rules' calendar time zone of the year (times in the files are shown in it)."""
    try:
        return load_rules(year).calendar.timezone
    except RulesError:
        return DEFAULT_TIMEZONE


def _with_names(
    frame: pl.DataFrame,
    unit_names: pl.DataFrame,
    root: Path,
    unit_col: str,
    person_col: str,
    quarter_col: str | None,
    fixed_quarter: str | None = None,
) -> pl.DataFrame:
    """Unit names, and person names from the restricted table of the quarter the code belongs to."""
    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, pl.Utf8).alias("unit_name"), pl.lit(None, pl.Utf8).alias("name")
        )
    out = frame.join(unit_names.rename({"unit_code": unit_col}), on=unit_col, how="left")
    quarters = out.get_column(quarter_col).unique().to_list() if quarter_col is not None else [fixed_quarter]
    looked_up = pl.concat(
        [source.names(root, str(qq)).with_columns(pl.lit(str(qq)).alias("_quarter")) for qq in quarters]
    ).rename({"unit_code": unit_col, "person_code": person_col})
    key = pl.col(quarter_col) if quarter_col is not None else pl.lit(fixed_quarter)
    return (
        out.with_columns(key.alias("_quarter"))
        .join(looked_up, on=[unit_col, person_col, "_quarter"], how="left")
        .drop("_quarter")
    )


def _swap(staging: Path, final_dir: Path) -> None:
    staging.mkdir(parents=True, exist_ok=True)
    old = final_dir.with_name(f".{final_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final_dir.exists():
        final_dir.rename(old)
    staging.rename(final_dir)
    shutil.rmtree(old, ignore_errors=True)
