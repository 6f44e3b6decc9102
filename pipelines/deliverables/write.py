"""write_deliverables(quarter): every file of the quarter under data/deliverables/<quarter>/.

    units/<unit_code>-<unit_name>.xlsx        平时考核结果 for 公示 (one per unit that sent files)
    notices/<unit_code>-<unit_name>.html      个人平时考核结果通知单, one A4 page per participant
    counties/<county_code>-<county_name>.xlsx the county's units only (市直 included as its own group)
    restricted/<year>-结果运用名单.xlsx         the cadre division's lists (names; never published)
    reviews/<register>-回执.html                one receipt per review register of the quarter (also copied
                                               to receipts/<quarter>/_reviews/, beside the units' receipts)

The folder is written next to the old one and swapped in with renames, so a reader never sees half a
set; a run that fails leaves the previous set in place. Only the files whose content changed are
written: the others are carried over from the previous set as they are (fingerprint.py), so a one-unit
resubmission rewrites that unit's files and what it moved, not 500 workbooks. Many files to write are
shared with a worker interpreter (worker.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.deliverables import source
from pipelines.deliverables.cadre import write_cadre_workbook
from pipelines.deliverables.cells import safe_name
from pipelines.deliverables.county import COUNTY_PERSON_COLUMNS, write_county_workbook
from pipelines.deliverables.fingerprint import (
    carry,
    digests_by,
    fingerprint,
    read_manifest,
    unchanged,
    write_manifest,
)
from pipelines.deliverables.notice import write_notices
from pipelines.deliverables.review_receipt import write_review_receipt
from pipelines.deliverables.sheets import DEFAULT_TIMEZONE
from pipelines.deliverables.unit import quarter_zh, write_unit_workbook
from pipelines.domain.quarters import parse_quarter
from pipelines.domain.rules import RulesError, load_rules
from pipelines.ingest.reviews import REVIEWS_FOLDER
from pipelines.paths import data_dir, deliverables_dir
from pipelines.publish.warehouse import layout

if TYPE_CHECKING:
    import duckdb


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
    written: int = 0  # files written by this run
    unchanged: int = 0  # files carried over from the previous set (same content, same bytes)

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
            f"  本次写入 written: {self.written}，未变化沿用 unchanged: {self.unchanged}",
        ]


@dataclass(frozen=True)
class Planned:
    """One file of the set: where it goes, what it shows (hashed) and how it is written."""

    group: str  # the DeliverablesSummary list it belongs to: units, notices, counties, restricted, …
    rel: str  # path inside the quarter folder
    kind: str  # which writer (part of the fingerprint)
    inputs: tuple[Any, ...]  # everything the file shows, without the generated-at stamp
    writer: Callable[..., Path]  # writer(path, *args)
    args: tuple[Any, ...]


def _named(code: str, name: str | None, suffix: str) -> str:
    return f"{safe_name(code, 40)}-{safe_name(name or '')}{suffix}"


def _by_unit(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The frame split by unit_code once (filtering it per unit would scan it 500 times)."""
    if frame.height == 0 or "unit_code" not in frame.columns:
        return {}
    codes = frame.get_column("unit_code")
    if codes.null_count() == 0 and codes.is_sorted():
        # people and files come ordered by unit: each unit's rows are one run, taken as a zero-copy slice
        # (a tenth of partition_by's time; the same rows in the same order)
        parts: dict[str, pl.DataFrame] = {}
        offset = 0
        for length, code in codes.rle().struct.unnest().rows():
            parts[str(code)] = frame.slice(offset, length)
            offset += length
        return parts
    return {str(k[0]): part for k, part in frame.partition_by("unit_code", as_dict=True).items()}


def write_deliverables(
    quarter: str,
    *,
    data_root: Path | None = None,
    work: Path | None = None,
    county_extracts: Path | None = None,
    generated: datetime | None = None,
    force: bool = False,
    workers: int | None = None,
) -> DeliverablesSummary:
    """Write the quarter's deliverables from the pipeline's warehouse (default: private/work.duckdb).

    Only files whose content changed are written again (see fingerprint.py); `force` writes every file.
    `workers` processes write the files when there are many (default: one per core, at most 2)."""
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
    final_dir = deliverables_dir(root) / q
    staging = final_dir.with_name(f".{q}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    previous = {} if force else read_manifest(final_dir)
    n = workers if workers is not None else min(MAX_WORKERS, os.cpu_count() or 1)
    summary = DeliverablesSummary(q, final_dir)
    if not previous and n > 1:
        # Nothing to carry over (a quarter's first set, or forced): every file is written, and each
        # process plans, fingerprints and writes its own share of the units and counties from the start.
        plan, groups, fingerprints = _write_split(q, sources, root, stamp, staging, n)
        summary.written = len(fingerprints)
    else:
        # A rerun usually writes a few files: plan everything here, carry what did not change, and
        # share the writing only when many files changed.
        with _Helpers(0) as helpers:
            plan = _plan(q, sources, root, stamp)
            groups, fingerprints = {}, {}
            to_write: list[Planned] = []
            for item in plan.files:
                value = fingerprint(item.kind, *item.inputs)
                fingerprints[item.rel], groups[item.rel] = value, item.group
                if unchanged(previous, final_dir, item.rel, value):
                    carry(final_dir / item.rel, staging / item.rel)
                    summary.unchanged += 1
                else:
                    to_write.append(item)
            _write_all(staging, to_write, n, helpers)
        summary.written = len(to_write)
    write_manifest(staging, fingerprints)
    _swap(staging, final_dir)
    for rel in sorted(groups):
        getattr(summary, groups[rel]).append(final_dir / rel)
    summary.reviews_applied, summary.reviews_refused = plan.reviews_applied, plan.reviews_refused
    # The Organization Department looks for receipts where every delivery's receipt is: receipts/<quarter>/.
    for receipt in summary.review_receipts:
        target = root / "receipts" / q / REVIEWS_FOLDER / receipt.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(receipt, target)
    return summary


# Below this many files more processes cost more (starting interpreters, ~0.5 s) than they save.
POOL_MIN_FILES = 40
MAX_WORKERS = 2


def share_of(code: str, shares: int) -> int:
    """Which process writes a unit's or a county's files when a first set is split: a hash of the code,
    the same in every process and on every run, whatever order the warehouse returns them in."""
    return zlib.crc32(code.encode()) % shares


@dataclass(frozen=True)
class ShareRequest:
    """What a helper needs to plan and write share `share` of `shares` by itself (worker.py)."""

    quarter: str
    sources: source.Sources
    root: Path
    stamp: datetime
    staging: Path
    share: int
    shares: int
    result: Path  # where the helper records {rel: [group, fingerprint]} of the files it wrote


def _write_split(
    q: str, sources: source.Sources, root: Path, stamp: datetime, staging: Path, n: int
) -> tuple[Plan, dict[str, str], dict[str, str]]:
    """A first set written by `n` processes: helper k plans, fingerprints and writes the files of the
    units and counties with share_of(code) == k while this process does share 0 and the two kinds of
    file made for the whole quarter (the cadre division's lists, the review receipts). Before, the
    helper waited idle through the whole plan (4 s of 23 s on a 16-city province), then unpickled
    its share of the plan (115 MB).

    Returns this process's plan and every written file's group and fingerprint. A helper that wrote a
    file this process also planned fails the step (both read the same warehouse, so that would be a
    bug), and nothing is swapped in."""
    folder = staging / ".jobs"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with _Helpers(n - 1) as helpers:
            requests = []
            for k in range(1, n):
                request = ShareRequest(q, sources, root, stamp, staging, k, n, folder / f"result-{k}.json")
                path = folder / f"share-{k}.pickle"
                path.write_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
                helpers.send(k - 1, str(path))
                requests.append(request)
            plan = _plan(q, sources, root, stamp, own=lambda code: share_of(code, n) == 0)
            files = _write_planned(staging, plan.files)
        # the helpers have exited, each with 0 (else _Helpers raised): their results are complete
        for request in requests:
            written = json.loads(request.result.read_text(encoding="utf-8"))
            clash = sorted(set(written) & set(files))
            if clash:
                raise RuntimeError(f"deliverables share {request.share} also wrote {clash[:3]}")
            files.update(written)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    groups = {rel: group for rel, (group, _) in files.items()}
    return plan, groups, {rel: value for rel, (_, value) in files.items()}


def _write_planned(staging: Path, items: list[Planned]) -> dict[str, tuple[str, str]]:
    """Fingerprint and write `items` under `staging` in this process: {rel: (group, fingerprint)}."""
    written = {}
    for item in items:
        written[item.rel] = (item.group, fingerprint(item.kind, *item.inputs))
        write_job((staging / item.rel, item.writer, item.args))
    return written


def write_share(request: ShareRequest) -> None:
    """A helper's share of a split first set (_write_split): its units' and counties' files."""
    plan = _plan(
        request.quarter,
        request.sources,
        request.root,
        request.stamp,
        own=lambda code: share_of(code, request.shares) == request.share,
        city_files=False,
    )
    written = _write_planned(request.staging, plan.files)
    partial = request.result.with_name(request.result.name + ".part")
    partial.write_text(json.dumps(written, ensure_ascii=False), encoding="utf-8")
    partial.replace(request.result)  # complete or absent


@dataclass
class Plan:
    files: list[Planned] = field(default_factory=list)
    reviews_applied: int = 0
    reviews_refused: int = 0


def _plan(
    q: str,
    sources: source.Sources,
    root: Path,
    stamp: datetime,
    own: Callable[[str], bool] | None = None,
    city_files: bool = True,
) -> Plan:
    """Every file of the quarter with what it shows, from one query per table for the whole quarter.

    `own` keeps the unit files (workbook, notices) of the units and the county workbooks of the
    counties whose codes it accepts (default: all); `city_files` False leaves out the cadre division's
    lists and the review receipts (a helper's share of a split first set, _write_split)."""
    generated_text = stamp.strftime("%Y-%m-%d %H:%M UTC")
    generated_day = stamp.strftime("%Y年%m月%d日")
    year = parse_quarter(q).year
    names = source.names(root, q)
    files = source.submissions(root, q)
    with source.connect(sources) as con:
        units = source.units(con, q)
        people = source.persons(con, q, names)
        reviews = source.reviews(con, q)
        counties = units.select("county_code", "county_name").unique().sort("county_code")
        if own is not None:
            kept = [code for code in counties.get_column("county_code").to_list() if own(code)]
            counties = counties.filter(pl.col("county_code").is_in(kept))
        compliance = source.compliance(con, q)
        findings_of = {
            code: source.county_findings(con, sources, code, q) for code in counties.get_column("county_code")
        }
        city = _city_inputs(con, year) if city_files else None
    timezone = _calendar_timezone(year)
    plan = Plan()
    _plan_counties(plan, q, units, people, counties, compliance, findings_of, generated_text, timezone)
    if city is not None:
        _plan_city_files(plan, q, root, units, reviews, city, generated_text)
    if own is not None:
        mine = [code for code in units.get_column("unit_code").to_list() if own(code)]
        units, people, files, reviews = (
            frame.filter(pl.col("unit_code").is_in(mine)) for frame in (units, people, files, reviews)
        )
    _plan_units(plan, q, units, people, files, reviews, generated_text, generated_day, timezone)
    return plan


def _plan_units(
    plan: Plan,
    q: str,
    units: pl.DataFrame,
    people: pl.DataFrame,
    files: pl.DataFrame,
    reviews: pl.DataFrame,
    generated_text: str,
    generated_day: str,
    timezone: str,
) -> None:
    """Each unit's workbook and notices."""
    period = quarter_zh(q)
    people_of, files_of, reviews_of = _by_unit(people), _by_unit(files), _by_unit(reviews)
    # What each unit's files show, hashed for all units at once (the fingerprints' inputs).
    participants_of = people.filter(pl.col("is_participant"))
    participants_by = _by_unit(participants_of)
    digests = {
        name: digests_by(frame, "unit_code")
        for name, frame in (
            ("people", people),
            ("participants", participants_of),
            ("files", files),
            ("reviews", reviews),
        )
    }
    # A unit that sent nothing this quarter gets no workbook (the county's sheet lists it as 未报送).
    for unit in units.filter(pl.col("files_seen").fill_null(0) > 0).to_dicts():
        code = unit["unit_code"]
        mine = people_of.get(code, people.clear())
        unit_files = files_of.get(code, files.clear())
        unit_reviews = reviews_of.get(code, reviews.clear())
        of_unit = {name: d.get(code) for name, d in digests.items()}
        # (a digest's rows name their columns; a unit without rows has no digest)
        shown = (q, unit, of_unit["people"], of_unit["files"], of_unit["reviews"], timezone)
        plan.files.append(
            Planned(
                "units",
                f"units/{_named(code, unit['unit_name'], '.xlsx')}",
                "unit",
                shown,
                write_unit_workbook,
                (q, unit, mine, unit_files, unit_reviews, generated_text, timezone),
            )
        )
        participants = participants_by.get(code)
        if participants is not None:
            plan.files.append(
                Planned(
                    "notices",
                    f"notices/{_named(code, unit['unit_name'], '.html')}",
                    "notice",
                    # not the day it was made: an unchanged notice keeps its date
                    (unit, period, of_unit["participants"]),
                    _write_notices,
                    (unit, period, participants, generated_day),
                )
            )


def _plan_counties(
    plan: Plan,
    q: str,
    units: pl.DataFrame,
    people: pl.DataFrame,
    counties: pl.DataFrame,
    compliance: pl.DataFrame,
    findings_of: dict[str, tuple[pl.DataFrame, pl.DataFrame]],
    generated_text: str,
    timezone: str,
) -> None:
    """The workbook of each county in `counties`, from every unit and person of the quarter."""
    compliance_of = {r["county_code"]: r for r in compliance.to_dicts()}
    # The county workbook shows people only as grade counts: a corrected name or score that moves no grade
    # leaves it as it is.
    graded = people.select(COUNTY_PERSON_COLUMNS)
    for county in counties.to_dicts():
        code = county["county_code"]
        mine = units.filter(pl.col("county_code") == code)
        in_county = graded.filter(pl.col("unit_code").is_in(mine.get_column("unit_code").implode()))
        row = compliance_of.get(code)
        summary_frame, findings = findings_of[code]
        plan.files.append(
            Planned(
                "counties",
                f"counties/{_named(code, county['county_name'], '.xlsx')}",
                "county",
                (q, county, mine, in_county, row, summary_frame, findings, timezone),
                write_county_workbook,
                (q, county, mine, in_county, row, summary_frame, findings, generated_text, timezone),
            )
        )


@dataclass(frozen=True)
class _CityInputs:
    candidates: pl.DataFrame
    streaks: pl.DataFrame
    rules: dict[str, object]


def _city_inputs(con: duckdb.DuckDBPyConnection, year: int) -> _CityInputs:
    candidates, streaks = source.cadre_lists(con, year)
    return _CityInputs(candidates, streaks, source.results_use_rules(con, year))


def _plan_city_files(
    plan: Plan,
    q: str,
    root: Path,
    units: pl.DataFrame,
    reviews: pl.DataFrame,
    city: _CityInputs,
    generated_text: str,
) -> None:
    """The cadre division's lists and the review receipts: one file each for the whole quarter."""
    year = parse_quarter(q).year
    unit_names = units.select("unit_code", "unit_name")
    named_candidates = _with_names(
        city.candidates, unit_names, root, "latest_unit_code", "latest_person_code", "latest_quarter"
    )
    named_streaks = _with_names(
        city.streaks, unit_names, root, "annual_unit_code", "annual_person_code", None, f"{year}Q4"
    )
    plan.files.append(
        Planned(
            "restricted",
            f"restricted/{year}-结果运用名单.xlsx",
            "cadre",
            (year, named_candidates, named_streaks, city.rules),
            write_cadre_workbook,
            (year, named_candidates, named_streaks, city.rules, generated_text),
        )
    )
    if reviews.height:
        for name, register in review_receipt_names(reviews).items():
            plan.files.append(
                Planned(
                    "review_receipts",
                    f"reviews/{name}-回执.html",
                    "review_receipt",
                    (q, register),
                    write_review_receipt,
                    (q, register),
                )
            )
        plan.reviews_applied = reviews.filter(pl.col("review_status") == "applied").height
        plan.reviews_refused = reviews.filter(pl.col("review_status") == "refused").height


def review_receipt_names(reviews: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Each register's receipt name (its file name made safe) → its rows. Two registers whose names come
    out the same (`复核 1.xlsx` and `复核_1.xlsx`, names alike in their first 60 characters) each get
    their file's SHA-256 prefix too, so neither receipt replaces the other."""
    registers = [rows.to_dicts() for _, rows in reviews.group_by("file_name", maintain_order=True)]
    stems = [safe_name(Path(str(rows[0]["file_name"])).stem) for rows in registers]
    names: dict[str, list[dict[str, Any]]] = {}
    for stem, rows in zip(stems, registers, strict=True):
        name = stem if stems.count(stem) == 1 else f"{stem}-{str(rows[0]['file_sha256'])[:8]}"
        names[name] = rows
    return names


def _write_notices(
    path: Path, unit: dict[str, Any], period: str, participants: pl.DataFrame, generated_day: str
) -> Path:
    """write_notices from the unit's frame: rows become dicts only for the notices that are written."""
    return write_notices(path, unit, period, participants.to_dicts(), generated_day)


Job = tuple[Path, Callable[..., Path], tuple[Any, ...]]  # where, which writer, its arguments


def write_job(job: Job) -> Path:
    path, writer, args = job
    return writer(path, *args)


def balanced_shares(jobs: list[Job], n: int) -> list[list[Job]]:
    """`jobs` dealt round-robin into `n` shares, writer by writer: each share gets its part of the unit
    workbooks, of the notices, of the county workbooks. (The plan lists each unit's workbook and then
    its notices, so dealing the whole list gave one process nearly every workbook, several times a
    notice's work, and the other nearly every notice; the first finished long after the second.)
    Within a writer, the plan's order spreads big and small units evenly."""
    by_writer: dict[Callable[..., Path], list[Job]] = {}
    for job in jobs:
        by_writer.setdefault(job[1], []).append(job)
    shares: list[list[Job]] = [[] for _ in range(n)]
    dealt = 0
    for group in by_writer.values():
        for job in group:
            shares[dealt % n].append(job)
            dealt += 1
    return shares


class _Helpers:
    """The other interpreters that write a share each (worker.py), started up front when asked to.
    Each waits for one line on its standard input: its share's path, or nothing (no share). Leaving the
    block tells the ones without a share to stop and waits for every one; an error kills them."""

    def __init__(self, n: int) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.told: set[int] = set()
        self.ensure(n)

    def ensure(self, n: int) -> None:
        while len(self.processes) < n:
            command = [sys.executable, "-m", "pipelines.deliverables.worker"]
            self.processes.append(subprocess.Popen(command, stdin=subprocess.PIPE))

    def send(self, k: int, line: str) -> None:
        stdin = self.processes[k].stdin
        assert stdin is not None
        self.told.add(k)
        # a worker that has already died breaks the pipe: its exit code says so when it is waited for
        with contextlib.suppress(BrokenPipeError):
            try:
                stdin.write(line.encode() + b"\n")
            finally:
                stdin.close()

    def __enter__(self) -> _Helpers:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if error is not None:
            for process in self.processes:
                process.kill()
        else:
            for k in range(len(self.processes)):
                if k not in self.told:
                    self.send(k, "")
        codes = [process.wait() for process in self.processes]
        if error is None and any(codes):
            raise RuntimeError(f"a deliverables worker failed (exit codes {codes}); its error is above")


def _write_all(staging: Path, items: list[Planned], n: int, helpers: _Helpers) -> None:
    """Write `items` under `staging`. With many files, `n - 1` other interpreters
    (pipelines/deliverables/worker.py) write a share each while this process writes its own:
    xlsxwriter and Jinja2 are pure Python, so the writing is CPU bound and threads would not help.
    The helpers' exit codes are checked when the caller leaves `helpers`' block."""
    jobs: list[Job] = [(staging / item.rel, item.writer, item.args) for item in items]
    if n <= 1 or len(jobs) < POOL_MIN_FILES:
        for job in jobs:
            write_job(job)
        return
    shares = balanced_shares(jobs, n)
    helpers.ensure(n - 1)
    folder = staging / ".jobs"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for k, share in enumerate(shares[1:]):
            payload = folder / f"share-{k + 1}.pickle"
            payload.write_bytes(pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL))
            helpers.send(k, str(payload))
        for job in shares[0]:
            write_job(job)
        for process in helpers.processes:  # the payloads are read once every helper is done
            process.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    out = frame.join(
        unit_names.rename({"unit_code": unit_col}), on=unit_col, how="left", maintain_order="left"
    )
    quarters = out.get_column(quarter_col).unique().to_list() if quarter_col is not None else [fixed_quarter]
    looked_up = pl.concat(
        [source.names(root, str(qq)).with_columns(pl.lit(str(qq)).alias("_quarter")) for qq in quarters]
    ).rename({"unit_code": unit_col, "person_code": person_col})
    key = pl.col(quarter_col) if quarter_col is not None else pl.lit(fixed_quarter)
    return (
        out.with_columns(key.alias("_quarter"))
        .join(looked_up, on=[unit_col, person_col, "_quarter"], how="left", maintain_order="left")
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
