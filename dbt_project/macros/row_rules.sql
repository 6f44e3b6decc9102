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


{#- A SQL string literal (single quotes doubled: dbt.string_literal leaves them as they are). -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
