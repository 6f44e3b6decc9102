"""The keys the rating-quality tables are computed and sorted by (one rater, one ratee, one unit, one tier).

Apart from the modules that compute the tables (facets.py, reliability.py) so that the Dagster assets can
name them without importing numpy and scipy."""

RATER_KEY = ("quarter", "unit_code", "rater_tier", "rater_code")
RATEE_KEY = ("quarter", "unit_code", "ratee_code")
UNIT_KEY = ("quarter", "unit_code")
RELIABILITY_GROUP = ("quarter", "unit_code", "rater_tier")
