{#- The unit registry CSV as a relation. Its path is rendered when the model runs, from the run's var
    registry_csv (the dbt resource passes it; ASSESSMENT_REGISTRY_CSV or the committed registry when dbt
    runs by hand), never when dbt parses: a path in the parsed manifest made every other registry (a
    generated province, a benchmark folder, a test's) cost a full parse. Read as all VARCHAR; stg_units
    types it. -#}
{% macro registry_relation() -%}
    {%- set path = var("registry_csv", env_var("ASSESSMENT_REGISTRY_CSV", "../data/reference/units.csv")) -%}
    read_csv('{{ path | replace("'", "''") }}', header = true, all_varchar = true, auto_detect = true)
{%- endmacro %}
