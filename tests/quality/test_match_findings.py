"""Scoring detection against ground-truth labels, on small hand-built frames."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.quality.evaluation import CODES, classify_entities, match_findings
from pipelines.synthetic.city import LABEL_COLUMNS

PEER, HEAD = "科室工作人员", "科室负责人"


def frame(rows: list[dict[str, str | None]], extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows with every label column (missing ones null), as a CSV reader would give them."""
    columns = (*LABEL_COLUMNS, *extra)
    return pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String)
    )


def finding(**kw: str | None) -> dict[str, str | None]:
    return {"severity": "medium", "evidence": "{}", "explanation": "…", **kw}


def row(result: pl.DataFrame, code: str) -> dict:
    return result.filter(pl.col("code") == code).to_dicts()[0]


LABELS = frame(
    [
        {"code": "A3", "type": "lenient_rater", "period": "2025Q2", "unit_code": "U1", "rater_tier": PEER,
         "rater_code": "P01"},
        {"code": "A3", "type": "lenient_rater", "period": "2025Q2", "unit_code": "U2", "rater_tier": PEER,
         "rater_code": "P07"},
        {"code": "A6", "type": "collusion", "period": "2025Q2", "unit_code": "U1", "rater_tier": PEER,
         "rater_code": "P02", "rater_tier_2": HEAD, "rater_code_2": "P09"},
        {"code": "A8", "type": "outlier_rating", "period": "2025Q2", "unit_code": "U1", "rater_tier": PEER,
         "rater_code": "P03", "ratee_code": "P04"},
        {"code": "U1", "type": "grade_rotation", "period": "2025", "unit_code": "U3"},
    ]
)  # fmt: skip


def test_match_counts_per_type() -> None:
    findings = frame(
        [
            finding(code="A3", period="2025Q2", unit_code="U1", rater_tier=PEER, rater_code="P01"),  # tp
            finding(code="A3", period="2025Q2", unit_code="U1", rater_tier=PEER, rater_code="P01"),  # same
            finding(code="A3", period="2025Q2", unit_code="U1", rater_tier=HEAD, rater_code="P05"),  # fp
            # The pair in the reverse order still matches the label.
            finding(code="A6", period="2025Q2", unit_code="U1", rater_tier=HEAD, rater_code="P09",
                    rater_tier_2=PEER, rater_code_2="P02"),
            # The right rater and ratee, but the wrong quarter: a false positive and a miss.
            finding(code="A8", period="2025Q3", unit_code="U1", rater_tier=PEER, rater_code="P03",
                    ratee_code="P04"),
            finding(code="U1", period="2025", unit_code="U3"),
        ],
        extra=("severity", "evidence", "explanation"),
    )  # fmt: skip
    result = match_findings(findings, LABELS)
    assert result["code"].to_list() == list(CODES)
    a3 = row(result, "A3")
    assert (a3["tp"], a3["fp"], a3["fn"]) == (1, 1, 1)
    assert (a3["precision"], a3["recall"]) == (0.5, 0.5)
    assert (a3["type"], a3["entity"], a3["n_findings"], a3["n_labels"]) == ("lenient_rater", "rater", 2, 2)
    a6 = row(result, "A6")
    assert (a6["tp"], a6["fp"], a6["fn"], a6["precision"], a6["recall"]) == (1, 0, 0, 1.0, 1.0)
    a8 = row(result, "A8")
    assert (a8["tp"], a8["fp"], a8["fn"], a8["precision"], a8["recall"]) == (0, 1, 1, 0.0, 0.0)
    assert row(result, "U1")["recall"] == 1.0
    # No findings and no labels: both rates undefined (null), counts zero.
    a2 = row(result, "A2")
    assert (a2["tp"], a2["fp"], a2["fn"], a2["precision"], a2["recall"]) == (0, 0, 0, None, None)


def test_undefined_precision_and_recall_are_null() -> None:
    result = match_findings(frame([]), LABELS)
    a3 = row(result, "A3")
    assert (a3["precision"], a3["recall"], a3["fn"]) == (None, 0.0, 2)
    unlabelled = frame([finding(code="U3", period="2025Q2", unit_code="U9")])
    u3 = row(match_findings(unlabelled, LABELS), "U3")
    assert (u3["fp"], u3["precision"], u3["recall"]) == (1, 0.0, None)


def test_a_finding_on_another_type_does_not_match() -> None:
    """A lenient-rater label found as severe (A4) is a miss for A3 and a false positive for A4."""
    findings = frame([finding(code="A4", period="2025Q2", unit_code="U2", rater_tier=PEER, rater_code="P07")])
    result = match_findings(findings, LABELS)
    assert row(result, "A3")["fn"] == 2
    assert row(result, "A4")["fp"] == 1


def test_rater_identity_includes_the_tier() -> None:
    findings = frame([finding(code="A3", period="2025Q2", unit_code="U1", rater_tier=HEAD, rater_code="P01")])
    a3 = row(match_findings(findings, LABELS), "A3")
    assert (a3["tp"], a3["fp"]) == (0, 1)


def test_types_instead_of_codes_and_integer_years() -> None:
    findings = pl.DataFrame(
        {"type": ["grade_rotation"], "period": [2025], "unit_code": ["U3"], "severity": ["high"]}
    )
    u1 = row(match_findings(findings, LABELS), "U1")
    assert (u1["tp"], u1["fp"], u1["fn"]) == (1, 0, 0)


def test_classify_entities_lists_outcomes_with_pairs_in_canonical_order() -> None:
    findings = frame(
        [
            finding(code="A6", period="2025Q2", unit_code="U1", rater_tier=HEAD, rater_code="P09",
                    rater_tier_2=PEER, rater_code_2="P02"),
        ]
    )  # fmt: skip
    out = classify_entities(findings, LABELS, codes=("A6", "A3"))
    # Canonical order sorts "tier<US>code" strings: 科室工作人员 (工 U+5DE5) before 科室负责人 (负 U+8D1F).
    pairs = out.filter(pl.col("code") == "A6").select(
        "rater_tier", "rater_code", "rater_tier_2", "rater_code_2"
    )
    assert pairs.rows() == [(PEER, "P02", HEAD, "P09")]
    assert out.filter(pl.col("code") == "A6")["outcome"].to_list() == ["tp"]
    assert sorted(out.filter(pl.col("code") == "A3")["outcome"].to_list()) == ["fn", "fn"]


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown finding codes"):
        match_findings(frame([finding(code="A9", period="2025Q2", unit_code="U1")]), LABELS)
    with pytest.raises(ValueError, match="incomplete entity"):
        match_findings(frame([finding(code="A3", period="2025Q2", unit_code="U1")]), LABELS)
    with pytest.raises(ValueError, match="lack entity columns"):
        match_findings(pl.DataFrame({"code": ["A3"], "period": ["2025Q2"], "unit_code": ["U1"]}), LABELS)
    with pytest.raises(ValueError, match="'code' or 'type'"):
        match_findings(pl.DataFrame({"period": ["2025Q2"]}), LABELS)
    with pytest.raises(ValueError, match="unknown finding codes requested"):
        match_findings(frame([]), LABELS, codes=("Z1",))
