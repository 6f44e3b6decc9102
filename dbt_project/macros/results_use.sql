{#- The review registers (复核) as a relation: reviews/<quarter>.parquet when any exists, else zero rows of
    the same columns. The reviews asset writes a file for every quarter it runs, but a warehouse built
    without it (dbt by hand, older data folders) must still build, so the glob is checked first. -#}
{% macro review_register_relation() -%}
    {%- set pattern = var("data_dir", env_var("ASSESSMENT_DATA_DIR", "../data")) ~ "/reviews/*.parquet" -%}
    {%- set quoted = "'" ~ pattern | replace("'", "''") ~ "'" -%}
    {%- set found = 0 -%}
    {%- if execute -%}
        {%- set found = run_query("select count(*) from glob(" ~ quoted ~ ")").columns[0].values()[0] -%}
    {%- endif -%}
    {%- if found > 0 -%}
        (select * from read_parquet({{ quoted }}, union_by_name = true, hive_partitioning = false))
    {%- else -%}
        (
            select
                null::varchar as quarter, null::varchar as file_name, null::varchar as file_sha256,
                null::bigint as excel_row, null::varchar as unit_code, null::varchar as person_code,
                null::varchar as new_grade, null::varchar as reason, null::varchar as decided_by,
                null::date as decided_on, null::varchar as row_problem
            where false
        )
    {%- endif -%}
{%- endmacro %}
