"""Statistical core of rating quality (quality.md): reliability, rater leniency, robust statistics and
the scoring of detection against the generator's ground truth.

Everything here is a pure function of arrays or polars DataFrames, so the orchestration layer (Dagster,
dbt) only wires inputs to outputs. See docs/quality.md for the formulas and the published examples the
tests reproduce.
"""
