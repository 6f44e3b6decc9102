{#- Quarter partitioning. The quarter a build rebuilds comes from the build file's one-row table
    main._build_scope, written by Dagster's dbt resource just before dbt starts
    (pipelines/defs/dbt/resources.py): read at execution time, it is not a var, so dbt's partial parse
    survives a change of quarter. By hand, `--vars '{quarter: 2025Q3}'` still works and wins. Neither
    set: every quarter present in the raw tables is rebuilt. The key is validated before it is ever put
    into SQL, and then only as a quoted literal. -#}

{#- The scope row of the build (quarter, scoped: whether it lists units), or none: the table exists only
    while Dagster builds. Looked up once per dbt command: every unit-grain model asks several times and
    every scoped data test once (macros/test_scope.sql), ~2 queries each at ~20 ms on the busy machine,
    and the table does not change while dbt runs (it is written before dbt starts). The answer is kept in
    dbt's `graph`, the one dict every node of a command shares, under the command's invocation id (a
    manifest reused by the run's next dbt command looks the table up again). -#}
{% macro build_scope() -%}
    {%- set memo = graph.setdefault('assessment_build_scope', {}) -%}
    {%- if invocation_id in memo -%}
        {{- return(memo[invocation_id]) -}}
    {%- endif -%}
    {%- set found = run_query(
        "select table_name from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'main' and table_name = '_build_scope'"
    ) -%}
    {%- set scope = none -%}
    {%- if found.rows | length > 0 -%}
        {%- set rows = run_query("select quarter, units is not null as scoped from main._build_scope").rows -%}
        {%- if rows | length > 0 -%}
            {%- set scope = [rows[0][0], rows[0][1]] -%}
        {%- endif -%}
    {%- endif -%}
    {%- do memo.update({invocation_id: scope}) -%}
    {{- return(scope) -}}
{%- endmacro %}

{% macro scope_quarter() -%}
    {%- set row = build_scope() -%}
    {{- return(row[0] if row is not none else none) -}}
{%- endmacro %}

{#- A unit-grain model (tag unit_grain) inside a Dagster build whose scope lists units rebuilds only
    those units' rows of the quarter (pipelines/defs/dbt/scope.py). Never with a quarter given by hand
    as a var: then the scope table is not what the caller asked for. -#}
{% macro unit_scoped() -%}
    {%- if not execute or this is none or not is_incremental() or 'unit_grain' not in model.tags -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(scope_lists_units()) -}}
{%- endmacro %}

{#- Whether this command's build scope lists units (the unit-grain rebuild and the scoped data tests of
    macros/test_scope.sql both need it): never when a quarter is given by hand as a var. -#}
{% macro scope_lists_units() -%}
    {%- set value = var('quarter', none) -%}
    {%- if value is not none and value | string | trim != '' -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set row = build_scope() -%}
    {{- return(row is not none and row[0] is not none and row[1]) -}}
{%- endmacro %}

{% macro scoped_units_predicate() -%}
    unit_code in (select unnest(units) from main._build_scope)
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
        {{ column }} = {{ dbt.string_literal(key) }}{% if unit_scoped() %} and {{ scoped_units_predicate() }}{% endif %}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of quarter-grain incremental models: remove the rows about to be rebuilt (the selected
    quarter, or every row when no quarter is selected), so a quarter that lost rows loses them here too. -#}
{% macro delete_selected_quarters() -%}
    {%- if this is not none and is_incremental() -%}
        {%- set key = selected_quarter() -%}
        delete from {{ this }}{% if key is not none %} where quarter = {{ dbt.string_literal(key) }}
        {%- if unit_scoped() %} and {{ scoped_units_predicate() }}{% endif %}{% endif %}
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
