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

      unique:              [column, ...]            (each column's non-null values are unique)
      unique_combination_of_columns: [[column, ...], ...]   (each combination is unique)

    In a unit-scoped build the model relation is already narrowed to the rewritten rows
    (macros/test_scope.sql lists row_rules among the row-level tests). That gives the same verdict
    for a key only when the key holds the filtered columns: row_rules_keys refuses, at compile time,
    a key of an incremental quarterly model without `quarter` (or without `unit_code`, on a unit-grain
    model); such a key stays a unique_combination_of_columns test of its own, which sees every row. -#}
{% test row_rules(
    model, not_null=[], accepted_values={}, value_between={}, expression_is_true=[], unique=[],
    unique_combination_of_columns=[]
) %}
{%- if execute and config.get('severity', 'error') | lower != 'error' -%}
    {{ exceptions.raise_compiler_error("row_rules fails with an error: a rule meant to warn is a test of its own") }}
{%- endif -%}
{%- set rules = row_rules_list(not_null, accepted_values, value_between, expression_is_true) -%}
{%- set keys = row_rules_keys(unique, unique_combination_of_columns) -%}
{%- if rules | length + keys | length == 0 -%}
    {{ exceptions.raise_compiler_error("a row_rules test lists no rule") }}
{%- endif %}

with
{%- if rules %}
counts as (
    select
    {%- for rule in rules %}
        count(*) filter (where {{ rule.failing }}) as rule_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
),
{%- endif %}
{%- for key in keys %}

-- the single-rule tests' rows: one per repeated key value (dbt's unique leaves NULL out; in a
-- combination, NULLs group together as in GROUP BY)
repeated_{{ loop.index }} as (
    select count(*) as failing_rows
    from (
        select 1 as repeated
        from {{ model }}
        {%- if key.rule == 'unique' %}
        where {{ key.columns[0] }} is not null
        {%- endif %}
        group by {{ key.columns | join(', ') }}
        having count(*) > 1
    ) as keyed
),
{%- endfor %}

checked as (
    {%- for rule in rules %}
    select
        {{ loop.index }} as ordinal,
        {{ sql_string(rule.rule) }} as rule,
        {{ sql_string(rule.target) }} as column_name,
        'rows' as counted,
        rule_{{ loop.index }} as failing_rows
    from counts
    {{ 'union all' if not loop.last or keys }}
    {%- endfor %}
    {%- for key in keys %}
    select
        {{ rules | length + loop.index }} as ordinal,
        {{ sql_string(key.rule) }} as rule,
        {{ sql_string(key.columns | join(', ')) }} as column_name,
        'repeated keys' as counted,
        failing_rows
    from repeated_{{ loop.index }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

failures as (
    select
        ordinal,
        rule,
        column_name,
        counted,
        failing_rows
    from checked
    where failing_rows > 0
),

listed as (
    select
        string_agg(
            format('{}({}) {} {}', rule, column_name, failing_rows, counted), '; ' order by ordinal
        ) as what
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
