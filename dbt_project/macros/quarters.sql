{#- Quarter partitioning. `--vars '{quarter: 2025Q3}'` (what Dagster passes for a partition) makes every
    quarter-grain model rebuild only that quarter; without it every quarter present in the raw tables is
    rebuilt. The key is validated before it is ever put into SQL, and then only as a quoted literal. -#}

{% macro selected_quarter() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set value = var('quarter', none) -%}
    {%- if value is none or value | string | trim == '' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set key = value | string | trim | upper -%}
    {%- if not modules.re.fullmatch('[0-9]{4}Q[1-4]', key) -%}
        {{- exceptions.raise_compiler_error("var quarter must look like 2025Q3, got '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return(key) -}}
{%- endmacro %}

{#- A predicate on `column` for the import CTEs of quarter-grain incremental models: only the selected
    quarter when the model is being updated in place, everything on a fresh or full-refresh build. -#}
{% macro in_selected_quarter(column='quarter') -%}
    {%- set key = selected_quarter() -%}
    {#- unit tests have no `this`: they always see every quarter of their fixtures -#}
    {%- if key is not none and this is not none and is_incremental() -%}
        {{ column }} = {{ dbt.string_literal(key) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of quarter-grain incremental models: remove the rows about to be rebuilt (the selected
    quarter, or every row when no quarter is selected), so a quarter that lost rows loses them here too. -#}
{% macro delete_selected_quarters() -%}
    {%- if this is not none and is_incremental() -%}
        {%- set key = selected_quarter() -%}
        delete from {{ this }}{% if key is not none %} where quarter = {{ dbt.string_literal(key) }}{% endif %}
    {%- endif -%}
{%- endmacro %}

{#- The assessment year of a quarter key 'YYYYQn', as an integer. -#}
{% macro quarter_year(column) -%}
    cast(substring({{ column }}, 1, 4) as integer)
{%- endmacro %}

{#- The quarter number 1-4 of a quarter key. -#}
{% macro quarter_number(column) -%}
    cast(substring({{ column }}, 6, 1) as integer)
{%- endmacro %}
