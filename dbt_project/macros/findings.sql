{#- Quality findings feeding anomaly_rate (rules.md §6). The findings come with a later issue; until
    var findings_glob names their Parquet files this is an empty relation of the expected columns, so
    anomaly_rate is 0 for every county (documented in docs/warehouse.md). -#}
{% macro findings_relation() -%}
    {%- set glob = var('findings_glob', none) -%}
    {%- if glob is none or glob | string | trim == '' -%}
        (
            select
                cast(null as varchar) as quarter,
                cast(null as varchar) as unit_code,
                cast(null as varchar) as severity
            where 1 = 0
        )
    {%- else -%}
        (
            select
                cast(quarter as varchar) as quarter,
                cast(unit_code as varchar) as unit_code,
                cast(severity as varchar) as severity
            from read_parquet({{ dbt.string_literal(glob) }}, union_by_name = true)
        )
    {%- endif -%}
{%- endmacro %}
