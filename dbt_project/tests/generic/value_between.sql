{#- Every non-null value of the column lies in [min_value, max_value] (either bound optional). -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
{%- set outside = [] %}
{%- if min_value is not none %}{% do outside.append(column_name ~ ' < ' ~ min_value) %}{% endif %}
{%- if max_value is not none %}{% do outside.append(column_name ~ ' > ' ~ max_value) %}{% endif %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null and ({{ outside | join(' or ') if outside else '1 = 0' }})

{% endtest %}
