{#- Every row satisfies `expression` (a row where it is false or null fails). -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
