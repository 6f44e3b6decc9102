{#- The rules of a row_rules test as dicts: rule (the single-rule test's name), target (column or
    expression, as the failure names it) and failing (SQL true on a row that breaks the rule). -#}
{% macro row_rules_list(not_null=[], accepted_values={}, value_between={}, expression_is_true=[]) %}
    {%- set rules = [] -%}
    {%- for column in not_null -%}
        {%- do rules.append({'rule': 'not_null', 'target': column, 'failing': column ~ ' is null'}) -%}
    {%- endfor -%}
    {%- for column, values in accepted_values.items() -%}
        {%- set listed = [] -%}
        {%- for value in values -%}{%- do listed.append(sql_string(value)) -%}{%- endfor -%}
        {%- do rules.append({
            'rule': 'accepted_values',
            'target': column,
            'failing': column ~ ' not in (' ~ listed | join(', ') ~ ')',
        }) -%}
    {%- endfor -%}
    {%- for column, bounds in value_between.items() -%}
        {%- set outside = [] -%}
        {%- if bounds.get('min_value') is not none -%}{%- do outside.append(column ~ ' < ' ~ bounds['min_value']) -%}{%- endif -%}
        {%- if bounds.get('max_value') is not none -%}{%- do outside.append(column ~ ' > ' ~ bounds['max_value']) -%}{%- endif -%}
        {%- if outside | length == 0 -%}
            {{- exceptions.raise_compiler_error("row_rules: value_between on " ~ column ~ " needs min_value or max_value") -}}
        {%- endif -%}
        {%- do rules.append({
            'rule': 'value_between',
            'target': column,
            'failing': column ~ ' is not null and (' ~ outside | join(' or ') ~ ')',
        }) -%}
    {%- endfor -%}
    {%- for expression in expression_is_true -%}
        {%- do rules.append({
            'rule': 'expression_is_true',
            'target': expression,
            'failing': 'not coalesce(' ~ expression ~ ', false)',
        }) -%}
    {%- endfor -%}
    {{- return(rules) -}}
{% endmacro %}


{#- The uniqueness keys of a row_rules test as dicts: rule (the single-rule test's name) and columns.
    Refuses a key that the unit scope's filter would cut (see tests/generic/row_rules.sql). `model` here
    is the test node (the test's own `model` argument is the relation and does not reach this macro). -#}
{% macro row_rules_keys(unique=[], unique_combination_of_columns=[]) %}
    {%- set keys = [] -%}
    {%- for column in unique -%}
        {%- do keys.append({'rule': 'unique', 'columns': [column]}) -%}
    {%- endfor -%}
    {%- for columns in unique_combination_of_columns -%}
        {%- do keys.append({'rule': 'unique_combination_of_columns', 'columns': columns}) -%}
    {%- endfor -%}
    {%- if execute and model is not none and model.attached_node -%}
        {%- set attached = graph.nodes.get(model.attached_node) -%}
        {%- set scoped = attached is not none and 'quarterly' in attached.tags
            and attached.config.materialized == 'incremental' -%}
        {%- for key in keys -%}
            {%- if scoped and ('quarter' not in key.columns
                    or ('unit_grain' in attached.tags and 'unit_code' not in key.columns)) -%}
                {{- exceptions.raise_compiler_error(
                    "row_rules on " ~ attached.name ~ ": the key (" ~ key.columns | join(', ')
                    ~ ") does not hold the columns a unit-scoped build filters on (quarter, and unit_code"
                    ~ " on a unit-grain model); keep it a unique_combination_of_columns test of its own"
                ) -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(keys) -}}
{% endmacro %}


{#- A SQL string literal (single quotes doubled: dbt.string_literal leaves them as they are). -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
