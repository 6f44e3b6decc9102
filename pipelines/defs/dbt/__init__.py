"""The dbt warehouse (dbt_project/) as Dagster assets, and the one resource that runs dbt."""
