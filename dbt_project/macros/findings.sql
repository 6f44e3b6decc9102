{#- Quality findings (quality.md). Every finding model selects the same columns through finding_fields(),
    so dbt_project/models/quality/fct_rating_findings*.sql can union them. The quarter-level findings
    (fct_rating_findings_quarterly) feed anomaly_rate through findings_relation(), used by fct_unit_quarter;
    the year-level findings U1/U4 cannot be attributed to one quarter and are left out of it (documented in
    docs/quality.md). -#}
{% macro findings_relation() -%}
    (
        select
            cast(quarter as varchar) as quarter,
            cast(unit_code as varchar) as unit_code,
            cast(severity as varchar) as severity
        from {{ ref('fct_rating_findings_quarterly') }}
    )
{%- endmacro %}

{#- The common columns of one finding, from SQL expressions (strings are expressions: quote literals). -#}
{% macro finding_fields(
    code, type, severity, period, quarter, year, unit_code,
    rater_tier='null', rater_code='null', rater_tier_2='null', rater_code_2='null', ratee_code='null',
    metric='null', value='null', threshold='null', n='null', explanation='null', rules_version='null',
    confidence='null'
) -%}
        cast({{ code }} as varchar) as code,
        cast({{ type }} as varchar) as type,
        cast({{ severity }} as varchar) as severity,
        cast({{ period }} as varchar) as period,
        cast({{ quarter }} as varchar) as quarter,
        cast({{ year }} as integer) as year,
        cast({{ unit_code }} as varchar) as unit_code,
        cast({{ rater_tier }} as varchar) as rater_tier,
        cast({{ rater_code }} as varchar) as rater_code,
        cast({{ rater_tier_2 }} as varchar) as rater_tier_2,
        cast({{ rater_code_2 }} as varchar) as rater_code_2,
        cast({{ ratee_code }} as varchar) as ratee_code,
        cast({{ metric }} as varchar) as metric,
        cast({{ value }} as double) as value,
        cast({{ threshold }} as double) as threshold,
        cast({{ n }} as integer) as n,
        cast({{ explanation }} as varchar) as explanation_zh,
        cast({{ rules_version }} as varchar) as rules_version,
        cast({{ confidence }} as double) as confidence
{%- endmacro %}

{#- Average ranks (ties share the mean of their positions), as Spearman's rho needs. Values are ranked
    rounded to 9 decimals: two people with the same score can differ in the last bit when DuckDB's
    parallel sums add in another order, which changes from one build to the next, and that noise must
    not put one before the other (it moved a unit's rho by 7e-5 between two builds of the same data). -#}
{% macro average_rank(value, partition_by) -%}
    (rank() over (partition by {{ partition_by }} order by round({{ value }}, 9))
     + (count(*) over (partition by {{ partition_by }}, round({{ value }}, 9)) - 1) / 2.0)
{%- endmacro %}

{#- A quality analytics source written by the Python assets of pipelines/defs/quality (quality/<table>/
    <quarter>.parquet). source() is always called, so dbt and Dagster see the dependency; when no file
    exists yet (the Python assets have not run, e.g. a warehouse built by dbt alone) this is an empty
    relation of `columns` [(name, type), ...] instead of a read error. -#}
{% macro quality_analytics(table, columns) -%}
    {%- set rel = source('quality', table) -%}
    {%- set glob = var('data_dir', env_var('ASSESSMENT_DATA_DIR', '../data')) ~ '/quality/' ~ table ~ '/*.parquet' -%}
    {%- set ns = namespace(found=false) -%}
    {%- if execute -%}
        {#- quoted by hand: dbt.string_literal does not double a quote, and a folder's name may hold one -#}
        {%- set result = run_query("select count(*) from glob('" ~ glob | replace("'", "''") ~ "')") -%}
        {%- set ns.found = result.columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if ns.found -%}
        (select {% for name, type in columns %}cast({{ name }} as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} from {{ rel }})
    {%- else -%}
        (select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} where 1 = 0)
    {%- endif -%}
{%- endmacro %}

{#- Upper tail of the standard normal, P(Z ≥ z), from the complementary error function (Numerical
    Recipes' erfcc, relative error < 1.2e-7 over the whole range, so small p values keep their digits).
    DuckDB has no erf(); `z` is any SQL expression (evaluated several times: pass a column). -#}
{% macro normal_upper_tail(z) -%}
    (case when {{ z }} is null then null else
        (case when {{ z }} >= 0 then 0.5 * {{ _erfcc('abs(' ~ z ~ ') / sqrt(2)') }}
         else 1 - 0.5 * {{ _erfcc('abs(' ~ z ~ ') / sqrt(2)') }} end)
     end)
{%- endmacro %}

{% macro _erfcc(x) -%}
    {%- set t = '(1.0 / (1.0 + 0.5 * ' ~ x ~ '))' -%}
    ({{ t }} * exp(-({{ x }}) * ({{ x }}) - 1.26551223 + {{ t }} * (1.00002368 + {{ t }} * (0.37409196
     + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806 + {{ t }} * (0.27886807 + {{ t }} * (-1.13520398
     + {{ t }} * (1.48851587 + {{ t }} * (-0.82215223 + {{ t }} * 0.17087277))))))))))
{%- endmacro %}

{#- Benjamini–Hochberg q values over a family of tests (e.g. all raters tested for A4 in one quarter):
    q_(i) = min over j ≥ i of p_(j) · m / j, the p values sorted ascending (nulls last), capped at 1
    (least() ignores a null, so a null p gets q 1, as the row-by-row windows gave it). Reporting at
    q ≤ q_max keeps the expected share of false findings among those reported at most q_max, whatever the
    number of tests. `rel` (a relation name) with every column plus q_value; `p` an
    expression over its columns, `partition_by` the list of columns naming a family.
    Tied p values share one q: for a run of equal p, p · m / j is smallest at the run's last position J (the
    count of p values ≤ p), and the minimum over j ≥ i takes it for every row of the run. So the q values
    come from the family's distinct p values (rank J = the running count, the same double p · m / J as a
    row-by-row sort computes) and are joined back on p. Two row-by-row window sorts over every row tested,
    every column carried and one partition per quarter (so one thread), were most of the A8 model's time and
    a large part of the pair and rater models'. The rows are materialized once so that the p they are
    grouped by and the p they are joined back on are the same computed doubles. -#}
{% macro bh_q_values(rel, p, partition_by) -%}
    {%- set keys = partition_by | join(', ') -%}
    (
        with bh_tested as materialized (
            select
                *,
                {{ p }} as bh_p
            from {{ rel }}
        ),

        bh_ranked as (
            select
                {{ keys }},
                bh_p,
                cast(sum(bh_n) over (
                    partition by {{ keys }} order by bh_p asc nulls last
                    rows between unbounded preceding and current row
                ) as bigint) as bh_rank,
                cast(sum(bh_n) over (partition by {{ keys }}) as bigint) as bh_m
            from (
                select
                    {{ keys }},
                    bh_p,
                    count(*) as bh_n
                from bh_tested
                group by {{ keys }}, bh_p
            ) as bh_levels
        ),

        bh_valued as (
            select
                {{ keys }},
                bh_p,
                least(1.0, min(bh_p * bh_m / bh_rank) over (
                    partition by {{ keys }} order by bh_p desc nulls first
                    rows between unbounded preceding and current row
                )) as q_value
            from bh_ranked
        )

        select
            bh_tested.* exclude (bh_p),
            bh_valued.q_value
        from bh_tested
        inner join bh_valued
            on
                {% for key in partition_by -%}
                bh_tested.{{ key }} = bh_valued.{{ key }}
                and {% endfor -%}
                bh_tested.bh_p is not distinct from bh_valued.bh_p
    )
{%- endmacro %}

{#- The severity of a finding from how sure it is: the rules file's severity for the type when the q value is
    at most its strong_q, one step lower otherwise (high → medium → low; low stays low). -#}
{% macro severity_from_confidence(rules_severity, q_value, strong_q) -%}
    (case
        when {{ q_value }} <= {{ strong_q }} then {{ rules_severity }}
        when {{ rules_severity }} = 'high' then 'medium'
        else 'low'
    end)
{%- endmacro %}

{#- finding_fields() for a finding on one rater (A2–A5): `rel` has quarter, rules_year, unit_code, rater_tier,
    rater_code; `rules` is the int_rules alias; severity is the rules column q_<code>_severity unless an
    expression is given (severity_from_confidence()); confidence is 1 − the finding's q value. -#}
{% macro rater_finding_fields(
    code, type, rel, metric, value, threshold, n, explanation, rules='rules', severity=none, confidence='null'
) -%}
    {{ finding_fields(
        "'" ~ code ~ "'", "'" ~ type ~ "'", severity or rules ~ '.q_' ~ code | lower ~ '_severity',
        rel ~ '.quarter', rel ~ '.quarter', rel ~ '.rules_year', rel ~ '.unit_code',
        rater_tier=rel ~ '.rater_tier', rater_code=rel ~ '.rater_code',
        metric="'" ~ metric ~ "'", value=value, threshold=threshold, n=n, explanation=explanation,
        rules_version=rules ~ '.rules_version', confidence=confidence
    ) }}
{%- endmacro %}

{#- finding_fields() for a finding on a rater pair (A6, A7): `rel` has quarter, rules_year, unit_code and the
    pair rater_tier, rater_code, rater_tier_2, rater_code_2. -#}
{% macro pair_finding_fields(
    code, type, rel, metric, value, threshold, n, explanation, rules='rules', severity=none, confidence='null'
) -%}
    {{ finding_fields(
        "'" ~ code ~ "'", "'" ~ type ~ "'", severity or rules ~ '.q_' ~ code | lower ~ '_severity',
        rel ~ '.quarter', rel ~ '.quarter', rel ~ '.rules_year', rel ~ '.unit_code',
        rater_tier=rel ~ '.rater_tier', rater_code=rel ~ '.rater_code',
        rater_tier_2=rel ~ '.rater_tier_2', rater_code_2=rel ~ '.rater_code_2',
        metric="'" ~ metric ~ "'", value=value, threshold=threshold, n=n, explanation=explanation,
        rules_version=rules ~ '.rules_version', confidence=confidence
    ) }}
{%- endmacro %}

{#- The median of m values: m + 1 values sorted as s, with the one equal to `x` removed (a leave-one-out
    median), from three order statistics s1, s2, s3 = s[(m + 1) // 2], the next one and the one after
    (null past the end). Removing x shifts the j-th smallest to s[j + 1] exactly when x ≤ s[j] (x sits at
    or before j; which of several equal values goes is moot), so no per-row position (a window sort) nor
    a list per row is needed: a group keeps three numbers. Null when m < 1. -#}
{% macro loo_median_from_stats(x, m, s1, s2, s3) -%}
    (case
        when ({{ m }}) < 1 then null
        when ({{ m }}) % 2 = 1 then (case when {{ x }} <= {{ s1 }} then {{ s2 }} else {{ s1 }} end)
        else ((case when {{ x }} <= {{ s1 }} then {{ s2 }} else {{ s1 }} end)
              + (case when {{ x }} <= {{ s2 }} then {{ s3 }} else {{ s2 }} end)) / 2.0
    end)
{%- endmacro %}

{#- P(X ≥ k) for X ~ Binomial(n, p), once per distinct (k, n, p) of `rel` (columns `k`, `n`, `p`): a
    relation of k, n, p and `p_value`, to be joined back on the three. Every test of a quarter shares p
    (the city-quarter's base rate) and k, n are small counts, so a few hundred tails serve every rater
    (A2) or rater pair (A6, ~200,000 on a city, each with up to n terms); a unit-scoped build pays them
    again in full, because p is city-wide. -#}
{% macro binomial_upper_tails(rel) -%}
    (
        select k, n, p, least(1.0, sum(term)) as p_value
        from (
            select
                k,
                n,
                p,
                exp(
                    lgamma(n + 1) - lgamma(j + 1) - lgamma(n - j + 1)
                    + j * ln(greatest(p, 1e-12)) + (n - j) * ln(greatest(1 - p, 1e-12))
                ) as term
            from (
                select k, n, p, unnest(range(greatest(k, 0), n + 1)) as j
                from (select distinct k, n, p from {{ rel }}) as distinct_tests
            )
        )
        group by k, n, p
    )
{%- endmacro %}

{#- The same tail per test: a relation of the key columns `keys` (comma-separated) of `rel` and `p_value`. -#}
{% macro binomial_upper_tail(rel, keys) -%}
    {%- set key_columns = keys.split(',') | map('trim') | list -%}
    (
        select
            {% for key in key_columns %}binomial_tested.{{ key }}, {% endfor %}binomial_tails.p_value
        from {{ rel }} as binomial_tested
        inner join {{ binomial_upper_tails(rel) }} as binomial_tails
            on
                binomial_tested.k = binomial_tails.k
                and binomial_tested.n = binomial_tails.n
                and binomial_tested.p = binomial_tails.p
    )
{%- endmacro %}

{#- P(X ≤ x) for X ~ chi-square with `df` degrees of freedom: the regularized lower incomplete gamma
    P(a, y), a = df/2, y = x/2, by its series Σ_i exp((a+i)·ln y − y − lgamma(a+i+1)) (60 terms: exact to
    double precision for the y ≤ a + 20 of any rater this tests). Same relation contract as above, with
    columns `x` and `df`. -#}
{% macro chi_square_lower_tail(rel, keys) -%}
    (
        select {{ keys }}, least(1.0, sum(term)) as p_value
        from (
            select
                {{ keys }},
                case
                    when x <= 0 then 0.0
                    else exp((df / 2.0 + i) * ln(x / 2.0) - x / 2.0 - lgamma(df / 2.0 + i + 1))
                end as term
            from (select {{ keys }}, x, df, unnest(range(0, 60)) as i from {{ rel }})
        )
        group by {{ keys }}
    )
{%- endmacro %}

{#- True when the five-score vectors of rating rows `a` and `b` agree within one point on every dimension
    (identical vectors included): A6's notion of a copied rating. -#}
{% macro within_one_point(a, b) -%}
    greatest(
        abs({{ a }}.score_intensity - {{ b }}.score_intensity),
        abs({{ a }}.score_difficulty - {{ b }}.score_difficulty),
        abs({{ a }}.score_quantity - {{ b }}.score_quantity),
        abs({{ a }}.score_effect - {{ b }}.score_effect),
        abs({{ a }}.score_measures - {{ b }}.score_measures)
    ) <= 1
{%- endmacro %}
