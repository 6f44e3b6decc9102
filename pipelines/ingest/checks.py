"""The checks a parse worker makes on one submission: cross-sheet rules and what the file says about itself.

Cross-sheet rules inside one submission are code (`check_submission`): national ID check digits,
duplicate keys, references to persons and sections. `UnitFacts` is what a submission says about itself
(unit, quarter, coefficients), kept with its parse result for the folder and registry checks the
parent makes (validate.check_context).

Apart from validate.py, which holds the cell rules and the context checks of the parent, so that the
parse workers import no polars: a worker is a fresh interpreter, and polars' import is ~0.3 s of CPU
in each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipelines.domain import national_id
from pipelines.domain.template import NAMED_TIERS, SHEETS_BY_NAME
from pipelines.ingest.issues import Incident, Issue, issue, mask_national_id, shown
from pipelines.ingest.normalise import YES, split_codes
from pipelines.ingest.sheets import ROW, ParsedSheet

# -- cross-sheet checks within one submission ---------------------------------------------------------

# Keys that must be unique within their sheet (submission-format.md).
UNIQUE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "roster": (("person_code",), ("national_id",)),
    "sections": (("section",),),
    "tasks": (("task_code",),),
    "ratings": (("ratee_code", "rater_tier", "rater_code"),),
    "year_end": (("person_code",),),
}

# (sheet, field, what it must reference)
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("roster", "section", "section"),
    ("sections", "leader_code", "person"),
    ("tasks", "lead_code", "person"),
    ("tasks", "assist_codes", "person_list"),
    ("ratings", "ratee_code", "participant"),
    ("ratings", "rater_code", "named_rater"),
    ("adjustments", "person_code", "person"),
    ("year_end", "person_code", "participant"),
)


def _values(sheets: dict[str, ParsedSheet], sheet: str, field: str) -> list[str | None] | None:
    parsed = sheets.get(sheet)
    if parsed is None or field not in parsed.fields:
        return None
    return parsed.columns[field]


def _rows(sheets: dict[str, ParsedSheet], sheet: str) -> list[int]:
    return sheets[sheet].columns[ROW]


def check_submission(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    """Every cross-sheet rule of one submission; an absent sheet or column is skipped (it is
    reported as missing elsewhere), so one defect does not cascade into hundreds of errors."""
    return [
        *_row_counts(sheets),
        *_national_ids(sheets),
        *_duplicates(sheets),
        *_references(sheets),
        *_lead_missing(sheets),
    ]


def _row_counts(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    out = []
    info = sheets.get("unit_info")
    if info is not None and info.height != 1:
        out.append(issue("wrong_row_count", sheet=info.title, detail=f"（应为1行，实为{info.height}行）"))
    roster = sheets.get("roster")
    if roster is not None and roster.height == 0:
        out.append(issue("wrong_row_count", sheet=roster.title, detail="（至少应有1行）"))
    return out


def _national_ids(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    ids = _values(sheets, "roster", "national_id")
    if ids is None:
        return []
    sheet = SHEETS_BY_NAME["roster"]
    header = sheet.column("national_id").header
    out = []
    for row, value in zip(_rows(sheets, "roster"), ids, strict=True):
        if value is None:
            continue
        # A wrong shape is the suite's finding; only well-shaped IDs are checked for their digit.
        shaped = len(value) == 18 and value[:17].isdigit() and value[17] in "0123456789X"
        if shaped and not national_id.is_valid(value):
            out.append(
                issue(
                    "invalid_national_id",
                    sheet=sheet.title,
                    row=row,
                    header=header,
                    value=mask_national_id(value),
                    detail="校验位错误",
                )
            )
    return out


def _duplicates(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    """Every later row repeating a key (rows with a blank key part are not compared), naming the first."""
    out = []
    for name, keys in UNIQUE_KEYS.items():
        parsed = sheets.get(name)
        if parsed is None:
            continue
        sheet = SHEETS_BY_NAME[name]
        rows = _rows(sheets, name)
        for key in keys:
            if not all(f in parsed.fields for f in key):
                continue
            values = [parsed.columns[f] for f in key]
            first: dict[tuple[str, ...], int] = {}
            for row, parts in zip(rows, zip(*values, strict=True), strict=True):
                if None in parts:
                    continue
                seen = first.setdefault(parts, row)
                if seen != row:
                    out.append(
                        issue(
                            "duplicate_key",
                            sheet=sheet.title,
                            row=row,
                            header=sheet.column(key[0]).header,
                            value="/".join(shown(name, f, v) or "" for f, v in zip(key, parts, strict=True)),
                            detail=str(seen),
                        )
                    )
    return out


def _references(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    codes = _values(sheets, "roster", "person_code")
    persons = {c for c in codes or [] if c is not None} if codes is not None else None
    flags = _values(sheets, "roster", "participates")
    participants = None
    if codes is not None and flags is not None:
        participants = {c for c, f in zip(codes, flags, strict=True) if c is not None and f == YES}
    section_names = _values(sheets, "sections", "section")
    sections = {s for s in section_names if s is not None} if section_names is not None else None
    tiers = _values(sheets, "ratings", "rater_tier")

    out: list[Issue] = []
    for name, field, target in REFERENCES:
        values = _values(sheets, name, field)
        if values is None:
            continue
        sheet = SHEETS_BY_NAME[name]
        header = sheet.column(field).header
        for i, (row, value) in enumerate(zip(_rows(sheets, name), values, strict=True)):
            if value is None:
                continue
            if target == "section":
                if sections is not None and value not in sections:
                    out.append(
                        issue("unknown_section", sheet=sheet.title, row=row, header=header, value=value)
                    )
                continue
            if persons is None:
                continue
            if target == "named_rater" and (tiers is None or tiers[i] not in NAMED_TIERS):
                continue  # 服务对象 and 亮晒评 rate under anonymous codes
            for code in split_codes(value) if target == "person_list" else [value]:
                if code not in persons:
                    out.append(issue("unknown_person", sheet=sheet.title, row=row, header=header, value=code))
                elif target == "participant" and participants is not None and code not in participants:
                    out.append(
                        issue("not_participating", sheet=sheet.title, row=row, header=header, value=code)
                    )
    return out


def _lead_missing(sheets: dict[str, ParsedSheet]) -> list[Issue]:
    leads = _values(sheets, "tasks", "lead_code")
    if leads is None:
        return []
    assists = _values(sheets, "tasks", "assist_codes") or [None] * len(leads)
    sheet = SHEETS_BY_NAME["tasks"]
    header = sheet.column("lead_code").header
    out = []
    for row, lead, assist in zip(_rows(sheets, "tasks"), leads, assists, strict=True):
        if lead is None:
            detail = "（由协办人分担）" if assist else "，该任务无人承担，计为未分配任务"
            out.append(issue("lead_missing", sheet=sheet.title, row=row, header=header, detail=detail))
    return out


def log_incident(incident: Incident, submission_id: str, log: logging.Logger) -> None:
    log.error(
        "incident %s: %s failed for submission %s; the file is rejected with this id on its receipt\n%s",
        incident.incident_id,
        incident.stage,
        submission_id,
        incident.detail,
    )


@dataclass(frozen=True)
class UnitFacts:
    """What a submission says about itself, kept with its parse result for the context checks."""

    unit_code: str | None = None
    quarter: str | None = None
    unit_name: str | None = None
    info_row: int | None = None
    has_coefficient_column: bool = False
    blank_coefficient_rows: tuple[int, ...] = ()
    regular_share_row: int | None = None
    year_end_rows: int = 0

    @classmethod
    def from_sheets(cls, sheets: dict[str, ParsedSheet]) -> UnitFacts:
        info = sheets.get("unit_info")
        first: dict[str, Any] = {k: v[0] for k, v in info.columns.items()} if info and info.height else {}
        sections = sheets.get("sections")
        has_coefficient = sections is not None and "section_coefficient" in sections.fields
        blank_rows: tuple[int, ...] = ()
        if sections is not None and has_coefficient:
            cells = zip(sections.columns[ROW], sections.columns["section_coefficient"], strict=True)
            blank_rows = tuple(row for row, value in cells if value is None)
        year_end = sheets.get("year_end")
        return cls(
            unit_code=first.get("unit_code"),
            quarter=first.get("quarter"),
            unit_name=first.get("unit_name"),
            info_row=first.get(ROW),
            has_coefficient_column=has_coefficient,
            blank_coefficient_rows=blank_rows,
            regular_share_row=first.get(ROW) if first.get("regular_share") is not None else None,
            year_end_rows=year_end.height if year_end is not None else 0,
        )
