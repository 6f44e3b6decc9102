"""Dagster definitions, one folder per concern; `pipelines.definitions` loads this tree."""
