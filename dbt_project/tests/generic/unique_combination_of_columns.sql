{#- The combination of `combination_of_columns` is unique (a composite primary key).
    Same name and arguments as the dbt_utils test, kept here instead of installing dbt_utils: `dbt deps`
    downloads packages from hub.getdbt.com / GitHub, which the network this project runs on does not
    reach. Swap in dbt_utils.unique_combination_of_columns if that ever changes
    (the models' yml would only gain the `dbt_utils.` prefix). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}

select
    {{ columns }},
    count(*) as n_rows
from {{ model }}
group by {{ columns }}
having count(*) > 1

{% endtest %}
