{#- Statistics of the unit-level findings U1–U3 (docs/quality.md, "Unit-level findings"). The same
    formulas are in pipelines/quality/unit_stats.py; tests/quality/test_unit_stats.py checks these macros,
    run by DuckDB, against them. Pass plain column names: arguments are repeated inside the expressions. -#}

{#- Upper tail 1 − Φ(|x|) of the standard normal, Abramowitz & Stegun 26.2.17 (absolute error < 7.5e-8;
    DuckDB has no erf). -#}
{% macro _normal_tail(x) -%}
    (exp(-0.5 * ({{ x }}) * ({{ x }})) * 0.3989422804014327
     * (1.0 / (1.0 + 0.2316419 * abs({{ x }})))
     * (0.319381530 + (1.0 / (1.0 + 0.2316419 * abs({{ x }})))
        * (-0.356563782 + (1.0 / (1.0 + 0.2316419 * abs({{ x }})))
           * (1.781477937 + (1.0 / (1.0 + 0.2316419 * abs({{ x }})))
              * (-1.821255978 + (1.0 / (1.0 + 0.2316419 * abs({{ x }}))) * 1.330274429)))))
{%- endmacro %}

{#- Standard normal CDF Φ(x). -#}
{% macro normal_cdf(x) -%}
    (case when ({{ x }}) >= 0 then 1.0 - {{ _normal_tail(x) }} else {{ _normal_tail(x) }} end)
{%- endmacro %}

{#- Fisher's z of a (Spearman) correlation, clamped away from ±1 so that a perfect ±1 stays finite. -#}
{% macro fisher_z(r) -%}
    atanh(greatest(-0.999, least(0.999, {{ r }})))
{%- endmacro %}

{#- Benjamini–Hochberg q value of `p` among the rows of `partition_by` (every row one test): the least
    p·m/k over the tests ranked k or later by p. Needs `p` and a tie-breaking `key` as columns. -#}
{% macro bh_rank_columns(p, partition_by, key) -%}
    row_number() over (partition by {{ partition_by }} order by {{ p }}, {{ key }}) as bh_rank,
    count(*) over (partition by {{ partition_by }}) as bh_tests
{%- endmacro %}

{% macro bh_q_value(p, partition_by, key) -%}
    least(1.0, min({{ p }} * bh_tests / bh_rank) over (
        partition by {{ partition_by }} order by {{ p }} desc, {{ key }} desc
        rows between unbounded preceding and current row
    ))
{%- endmacro %}

{#- The between-unit sd τ of a Fisher-z statistic beyond each unit's sampling variance, per group: the
    smallest τ on a 0.00, 0.01, …, 1.00 grid at which the median of |z − centre| / sqrt(v + τ²) is at most
    the standard normal's 0.6745 (pipelines/quality/unit_stats.between_unit_sd). `rel` has the group
    columns, z_unit and sampling_var; `centres` has the group columns and z_center. -#}
{% macro between_unit_sd(rel, centres, group_by) -%}
    select {% for g in group_by %}grid.{{ g }}, {% endfor %}coalesce(min(grid.tau) filter (where grid.med <= 0.6745), 1.0) as tau
    from (
        select
            {% for g in group_by %}{{ rel }}.{{ g }}, {% endfor %}
            steps.k * 0.01 as tau,
            median(abs({{ rel }}.z_unit - {{ centres }}.z_center)
                / sqrt({{ rel }}.sampling_var + power(steps.k * 0.01, 2))) as med
        from {{ rel }}
        inner join {{ centres }}
            on {% for g in group_by %}{{ rel }}.{{ g }} = {{ centres }}.{{ g }}{% if not loop.last %} and {% endif %}{% endfor %}
        cross join (select range as k from range(101)) as steps
        group by {% for g in group_by %}{{ rel }}.{{ g }}, {% endfor %}steps.k
    ) as grid
    group by {% for g in group_by %}grid.{{ g }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}
