"""Score anomaly detection against the generator's ground-truth labels (quality.md, "How detection is
evaluated"): per finding type, precision = tp / (tp + fp) and recall = tp / (tp + fn).

A finding and a label match when they have the same code and name the same *entity* of that code:

    rating      A1, A8   period, unit_code, rater_tier, rater_code, ratee_code
    rater       A2–A5    period, unit_code, rater_tier, rater_code
    rater_pair  A6, A7   period, unit_code, {(rater_tier, rater_code), (rater_tier_2, rater_code_2)}
    unit        U2, U3   period (a quarter), unit_code
    unit_year   U1, U4   period (a year), unit_code

A pair is unordered: (a, b) and (b, a) are one entity. Entities are sets, so a type flagged twice on
the same entity counts once; every comparison is on strings, so a year read from a CSV as an integer
still matches the label "2025".
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipelines.domain.rules import FINDING_CODES

CODES: tuple[str, ...] = tuple(FINDING_CODES.values())  # A1..A8, U1..U4, in the spec's order
TYPE_OF_CODE: dict[str, str] = {code: name for name, code in FINDING_CODES.items()}

ENTITY_KIND: dict[str, str] = {
    "A1": "rating",
    "A8": "rating",
    "A2": "rater",
    "A3": "rater",
    "A4": "rater",
    "A5": "rater",
    "A6": "rater_pair",
    "A7": "rater_pair",
    "U2": "unit",
    "U3": "unit",
    "U1": "unit_year",
    "U4": "unit_year",
}
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "rating": ("period", "unit_code", "rater_tier", "rater_code", "ratee_code"),
    "rater": ("period", "unit_code", "rater_tier", "rater_code"),
    "rater_pair": ("period", "unit_code", "rater_tier", "rater_code", "rater_tier_2", "rater_code_2"),
    "unit": ("period", "unit_code"),
    "unit_year": ("period", "unit_code"),
}
ALL_ENTITY_COLUMNS: tuple[str, ...] = (
    "period",
    "unit_code",
    "rater_tier",
    "rater_code",
    "rater_tier_2",
    "rater_code_2",
    "ratee_code",
)
_SEP = "\x1f"  # joins tier and code into one sortable string; cannot occur in either


def _with_code(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """The frame with a `code` column (derived from `type` when only that is present), codes checked."""
    if "code" not in frame.columns:
        if "type" not in frame.columns:
            raise ValueError(f"{what} need a 'code' or 'type' column")
        unknown_types = sorted(set(frame["type"].drop_nulls().to_list()) - set(FINDING_CODES))
        if unknown_types:
            raise ValueError(f"{what} have unknown finding types: {unknown_types}")
        frame = frame.with_columns(pl.col("type").replace_strict(FINDING_CODES).alias("code"))
    if frame["code"].null_count():
        raise ValueError(f"{what} have rows without a code")
    unknown = sorted(set(frame["code"].cast(pl.String).to_list()) - set(CODES))
    if unknown:
        raise ValueError(f"{what} have unknown finding codes: {unknown}")
    return frame


def _entities(frame: pl.DataFrame, code: str, what: str) -> pl.DataFrame:
    """Distinct normalised entity keys of one code (all ALL_ENTITY_COLUMNS, unused ones null)."""
    columns = ENTITY_COLUMNS[ENTITY_KIND[code]]
    rows = frame.filter(pl.col("code").cast(pl.String) == code)
    missing = [c for c in columns if c not in frame.columns]
    if missing and rows.height:
        raise ValueError(f"{what} lack entity columns {missing} needed by {code}")
    # A frame without rows of this code may lack its columns (e.g. only unit findings were produced).
    rows = rows.select(
        pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, dtype=pl.String).alias(c)
        for c in columns
    )
    incomplete = rows.filter(pl.any_horizontal(pl.col(c).is_null() | (pl.col(c) == "") for c in columns))
    if incomplete.height:
        raise ValueError(f"{what} of {code} with an incomplete entity: {incomplete.head(3).to_dicts()}")
    if ENTITY_KIND[code] == "rater_pair":
        first = pl.concat_str("rater_tier", "rater_code", separator=_SEP)
        second = pl.concat_str("rater_tier_2", "rater_code_2", separator=_SEP)
        swap = first > second  # put the pair in one canonical order so (a, b) meets (b, a)
        rows = rows.with_columns(
            pl.when(swap).then(pl.col("rater_tier_2")).otherwise(pl.col("rater_tier")).alias("rater_tier"),
            pl.when(swap).then(pl.col("rater_code_2")).otherwise(pl.col("rater_code")).alias("rater_code"),
            pl.when(swap).then(pl.col("rater_tier")).otherwise(pl.col("rater_tier_2")).alias("rater_tier_2"),
            pl.when(swap).then(pl.col("rater_code")).otherwise(pl.col("rater_code_2")).alias("rater_code_2"),
        )
    rows = rows.unique()
    return rows.select(
        pl.lit(code).alias("code"),
        *(pl.col(c) if c in columns else pl.lit(None, dtype=pl.String).alias(c) for c in ALL_ENTITY_COLUMNS),
    )


def classify_entities(
    findings: pl.DataFrame, labels: pl.DataFrame, codes: Sequence[str] = CODES
) -> pl.DataFrame:
    """Every flagged or labelled entity with its outcome: 'tp' (flagged and labelled), 'fp' (flagged
    only) or 'fn' (labelled only). Columns: code, the ALL_ENTITY_COLUMNS (pairs in canonical order,
    columns the code does not use null), outcome. Useful to list a benchmark's misses."""
    unknown = sorted(set(codes) - set(CODES))
    if unknown:
        raise ValueError(f"unknown finding codes requested: {unknown}")
    findings = _with_code(findings, "findings")
    labels = _with_code(labels, "labels")
    parts = []
    for code in codes:
        keys = list(ENTITY_COLUMNS[ENTITY_KIND[code]])
        found = _entities(findings, code, "findings").with_columns(pl.lit(True).alias("_found"))
        labelled = _entities(labels, code, "labels").select(*keys, pl.lit(True).alias("_labelled"))
        both = found.join(labelled, on=keys, how="full", coalesce=True).with_columns(
            pl.lit(code).alias("code"),
            pl.when(pl.col("_found").is_null())
            .then(pl.lit("fn"))
            .when(pl.col("_labelled").is_null())
            .then(pl.lit("fp"))
            .otherwise(pl.lit("tp"))
            .alias("outcome"),
        )
        parts.append(both.select("code", *ALL_ENTITY_COLUMNS, "outcome"))
    schema = {"code": pl.String, **dict.fromkeys(ALL_ENTITY_COLUMNS, pl.String), "outcome": pl.String}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts]).sort("code", *ALL_ENTITY_COLUMNS, nulls_last=True)


def match_findings(
    findings: pl.DataFrame, labels: pl.DataFrame, codes: Sequence[str] = CODES
) -> pl.DataFrame:
    """Precision and recall per finding type.

    `findings` carry `code` (or `type`) and the entity columns of their type (severity, evidence and
    explanation are ignored here); `labels` are the generator's anomalies.csv rows. One row per code in
    `codes` (all twelve by default, in the spec's order): code, type, entity, n_findings, n_labels,
    tp, fp, fn, precision, recall. Precision is null when nothing was flagged and recall is null when
    nothing was labelled (undefined, not 0 or 1), so a benchmark can tell "no data" from "perfect".
    """
    outcomes = classify_entities(findings, labels, codes)
    counts = outcomes.group_by("code").agg(
        (pl.col("outcome") == "tp").sum().alias("tp"),
        (pl.col("outcome") == "fp").sum().alias("fp"),
        (pl.col("outcome") == "fn").sum().alias("fn"),
    )
    base = pl.DataFrame(
        {
            "code": list(codes),
            "type": [TYPE_OF_CODE[c] for c in codes],
            "entity": [ENTITY_KIND[c] for c in codes],
        }
    )
    tp, fp, fn = pl.col("tp"), pl.col("fp"), pl.col("fn")
    return (
        base.join(counts, on="code", how="left", maintain_order="left")
        .with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in ("tp", "fp", "fn"))
        .with_columns(
            (tp + fp).alias("n_findings"),
            (tp + fn).alias("n_labels"),
            pl.when(tp + fp > 0).then(tp / (tp + fp)).otherwise(None).alias("precision"),
            pl.when(tp + fn > 0).then(tp / (tp + fn)).otherwise(None).alias("recall"),
        )
        .select("code", "type", "entity", "n_findings", "n_labels", "tp", "fp", "fn", "precision", "recall")
    )
