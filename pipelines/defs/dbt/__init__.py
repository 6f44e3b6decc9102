"""The dbt warehouse (dbt_project/) as Dagster assets, and the plain-Python build entry point."""
