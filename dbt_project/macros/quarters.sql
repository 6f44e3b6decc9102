{#- Quarter partitioning. The quarter a build rebuilds comes from the build file's one-row table
    main._build_scope, written by Dagster's dbt resource just before dbt starts
    (pipelines/defs/dbt/resources.py): read at execution time, it is not a var, so dbt's partial parse
    survives a change of quarter. By hand, `--vars '{quarter: 2025Q3}'` still works and wins. Neither
    set: every quarter present in the raw tables is rebuilt. The key is validated before it is ever put
    into SQL, and then only as a quoted literal. -#}

{% macro scope_quarter() -%}
    {%- set found = run_query(
        "select table_name from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'main' and table_name = '_build_scope'"
    ) -%}
    {%- if found.rows | length == 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select quarter from main._build_scope").rows -%}
    {{- return(rows[0][0] if rows | length > 0 else none) -}}
{%- endmacro %}

{% macro selected_quarter() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set value = var('quarter', none) -%}
    {%- if value is none or value | string | trim == '' -%}
        {%- set value = scope_quarter() -%}
    {%- endif -%}
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
