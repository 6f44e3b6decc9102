{#- Small portable numeric helpers (dispatched where engines differ). -#}

{#- The median as an aggregate: the middle value, the mean of the two middle values for an even count. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{#- expression clipped to [low, high] (inputs are never null where it is used). -#}
{% macro clip(expression, low, high) -%}
    least(greatest({{ expression }}, {{ low }}), {{ high }})
{%- endmacro %}

{#- Numerator / denominator as DOUBLE, null when the denominator is zero (a metric left out). -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- Floor of a quota (e.g. 0.40 · n) robust to binary rounding: 0.4 · 35 is 14.000000000000002 and
    0.6 · 5 is 3.0000000000000004, but a product a hair below an integer must not lose a place. -#}
{% macro quota_floor(expression) -%}
    cast(floor({{ expression }} + 1e-9) as integer)
{%- endmacro %}

{#- A score as compared against thresholds and ranked: rounded to 9 decimals, so sums that are equal in
    exact arithmetic but differ in the last binary digit (summation order is not fixed in SQL) never
    decide a band, a tie-break or a rank. Stored scores stay unrounded. -#}
{% macro comparable(expression) -%}
    round({{ expression }}, 9)
{%- endmacro %}
