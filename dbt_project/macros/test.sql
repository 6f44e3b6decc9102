{#- A data test runs its query alone, without a transaction around it (issue 16).

    dbt's test materialization runs the test's SELECT with `auto_begin`: a BEGIN before it and, when dbt
    releases the connection, a ROLLBACK after, two more statements through dbt's adapter and events for
    each of the ~56 tests of a resubmission's two dbt steps (a few ms of Python each on the busy machine),
    around a query that writes nothing. A DuckDB statement outside a transaction is its own read-only
    transaction: the same snapshot, the same rows, the same verdict. A test that stores its failures
    (--store-failures, `store_failures` config) writes a table and takes dbt's own materialization. -#}
{%- materialization test, adapter='duckdb' -%}
    {%- if should_store_failures() -%}
        {{- return(materialization_test_default()) -}}
    {%- endif -%}
    {%- set limit = config.get('limit') -%}
    {%- set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none -%}
    {%- call statement('main', fetch_result=True, auto_begin=False) -%}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_test_sql(get_limit_subquery_sql(sql, limit), config.get('fail_calc'), config.get('warn_if'), config.get('error_if'), limit=none) }}
    {%- endcall -%}
    {{- return({'relations': []}) -}}
{%- endmaterialization -%}
