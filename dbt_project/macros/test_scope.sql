{#- Data tests in a unit-scoped build look at the rows the build rewrote (issue 16).

    In a Dagster build whose scope lists units (pipelines/defs/dbt/scope.py), the quarter-grain models
    rewrite the selected quarter only, and the unit-grain ones only the listed units' rows of it. Every
    other row is as the last successful build left it, and that build tested it with the same tests: a
    scope lists units only while the global key (registry, rules, and every node's checksum in the
    manifest, tests included) is the one recorded, and the first build after that key changes rebuilds
    and tests every row. So a test that judges each row on its own, or rows grouped by a key that holds
    the filtered columns, gives the same verdict on the rewritten rows alone:

    - not_null, accepted_values, value_between, expression_is_true (row-level expressions only: the
      yml has no subquery or window in them), and unique_combination_of_columns whose columns hold
      `quarter` (and `unit_code`, for the unit filter);
    - row_rules (tests/generic/row_rules.sql), which folds those rules of one model into one test:
      it gets the row-level filter, and refuses at compile time a key that does not hold `quarter`
      (and `unit_code`, on a unit-grain model) of a model this filter applies to;
    - on models tagged unit_grain: quarter = the scope's quarter and unit_code in the scope's units;
      on the other incremental quarterly models (whole quarter rebuilt): quarter = the scope's quarter.

    Everything else (relationships, unique on one column, singular tests, views over the raw files,
    annual models, any build without a unit list, a quarter given by hand as a var) sees every row, as
    dbt's own get_where_subquery does. A test's own `where` config still applies on top. -#}
{% macro get_where_subquery(relation) -%}
    {%- set predicates = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = scoped_test_predicate() -%}
    {%- if scope is not none -%}
        {%- do predicates.append(scope) -%}
    {%- endif -%}
    {%- if predicates | length == 0 -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {{- return(filtered) -}}
{%- endmacro %}

{% macro scoped_test_predicate() -%}
    {%- if not execute or model is none or model.resource_type != 'test' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set metadata = model.test_metadata -%}
    {%- set attached = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if metadata is none or attached is none or 'quarterly' not in attached.tags
        or attached.config.materialized != 'incremental' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set name = metadata.name -%}
    {%- set columns = metadata.kwargs.get('combination_of_columns') or [] -%}
    {%- set row_level = name in ['row_rules', 'not_null', 'accepted_values', 'value_between', 'expression_is_true'] -%}
    {%- set keyed_by_quarter = name == 'unique_combination_of_columns' and 'quarter' in columns -%}
    {%- if not (row_level or keyed_by_quarter) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not scope_lists_units() -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set row = build_scope() -%}
    {%- if not modules.re.fullmatch('[0-9]{4}Q[1-4]', row[0]) -%}
        {{- exceptions.raise_compiler_error("the build scope's quarter must look like 2025Q3, got '" ~ row[0] ~ "'") -}}
    {%- endif -%}
    {%- set predicate = 'quarter = ' ~ dbt.string_literal(row[0]) -%}
    {%- if 'unit_grain' in attached.tags and (row_level or 'unit_code' in columns) -%}
        {%- set predicate = predicate ~ ' and ' ~ scoped_units_predicate() -%}
    {%- endif -%}
    {{- return(predicate) -}}
{%- endmacro %}
