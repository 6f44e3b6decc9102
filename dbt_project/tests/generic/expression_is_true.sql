{#- Every row satisfies `expression` (a row where it is false or null fails).
    Same name and arguments as the dbt_utils test, kept here instead of installing dbt_utils: `dbt deps`
    downloads packages from hub.getdbt.com / GitHub, which the network this project runs on does not
    reach. Swap in dbt_utils.expression_is_true if that ever changes (the yml would only gain the prefix). -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
