{#- Every row-level rule of one model in one test: not_null, accepted_values, value_between and
    expression_is_true, with the same verdicts as the single-rule tests of the same names.

    Why one node per model instead of one per rule (issue 16): a dbt test costs tens of milliseconds of
    compile, adapter, event and Dagster work whatever it reads, and the runtime builds ran ~110 of these
    one-line tests. Here every rule is counted in a single scan of the model.

    A broken rule fails the build with an error that lists each broken rule, its column (or expression)
    and its count of failing rows, e.g.
        broken row rules: not_null(unit_code) 2 rows; accepted_values(base_method) 1 rows
    (DuckDB's error(); dbt's own failure message would only give a count), after dbt's line naming the
    test, `row_rules_<model>` by the project's convention. The test is therefore `error`
    severity only; a rule meant to warn stays a test of its own.

    Arguments, each optional:
      not_null:            [column, ...]
      accepted_values:     {column: [value, ...]}            (a null passes, as in dbt's test)
      value_between:       {column: {min_value: x, max_value: y}}   (either bound; a null passes)
      expression_is_true:  [expression, ...]   (row-level: no aggregate, window or subquery; a row
                                                where it is false or null fails)

    In a unit-scoped build the model relation is already narrowed to the rewritten rows
    (macros/test_scope.sql lists row_rules among the row-level tests). -#}
{% test row_rules(model, not_null=[], accepted_values={}, value_between={}, expression_is_true=[]) %}
{%- if execute and config.get('severity', 'error') | lower != 'error' -%}
    {{ exceptions.raise_compiler_error("row_rules fails with an error: a rule meant to warn is a test of its own") }}
{%- endif -%}
{%- set rules = row_rules_list(not_null, accepted_values, value_between, expression_is_true) -%}
{%- if rules | length == 0 -%}
    {{ exceptions.raise_compiler_error("a row_rules test lists no rule") }}
{%- endif %}

with counts as (
    select
    {%- for rule in rules %}
        count(*) filter (where {{ rule.failing }}) as rule_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
),

checked as (
    {%- for rule in rules %}
    select
        {{ loop.index }} as ordinal,
        {{ sql_string(rule.rule) }} as rule,
        {{ sql_string(rule.target) }} as column_name,
        rule_{{ loop.index }} as failing_rows
    from counts
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

failures as (
    select
        ordinal,
        rule,
        column_name,
        failing_rows
    from checked
    where failing_rows > 0
),

listed as (
    select string_agg(format('{}({}) {} rows', rule, column_name, failing_rows), '; ' order by ordinal) as what
    from failures
)

-- One row per broken rule, and the error that names them: the CASE keeps error() from being evaluated
-- unless a rule is broken (a bare conjunction may be reordered by DuckDB's filter).
select
    failures.rule,
    failures.column_name,
    failures.failing_rows
from failures
cross join listed
where
    case
        when failures.failing_rows > 0
            then error('broken row rules: ' || listed.what) is null
        else false
    end

{% endtest %}
