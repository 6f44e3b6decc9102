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
    metric='null', value='null', threshold='null', n='null', explanation='null', rules_version='null'
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
        cast({{ rules_version }} as varchar) as rules_version
{%- endmacro %}

{#- Average ranks (ties share the mean of their positions), as Spearman's rho needs. -#}
{% macro average_rank(value, partition_by) -%}
    (rank() over (partition by {{ partition_by }} order by {{ value }})
     + (count(*) over (partition by {{ partition_by }}, {{ value }}) - 1) / 2.0)
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
        {%- set result = run_query("select count(*) from glob(" ~ dbt.string_literal(glob) ~ ")") -%}
        {%- set ns.found = result.columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if ns.found -%}
        (select {% for name, type in columns %}cast({{ name }} as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} from {{ rel }})
    {%- else -%}
        (select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} where 1 = 0)
    {%- endif -%}
{%- endmacro %}

{#- A8's test of a rating row (quality.md): composite ≥ q_a8_min_distance points from the ratee's consensus
    resting on ≥ q_a8_min_other_raters other raters. Used by A8 itself and by A3/A4, which leave these
    rows out so that one outlying row is reported once (as A8) and does not make its rater look severe or
    lenient. `ratings` and `rules` are relation aliases (int_quality_ratings, int_rules). -#}
{% macro is_outlier_rating(ratings='ratings', rules='rules') -%}
    (not {{ ratings }}.is_self_rating
     and {{ ratings }}.n_other_raters >= {{ rules }}.q_a8_min_other_raters
     and abs({{ ratings }}.composite_score - {{ ratings }}.consensus_score) >= {{ rules }}.q_a8_min_distance)
{%- endmacro %}

{#- finding_fields() for a finding on one rater (A2–A5): `rel` has quarter, rules_year, unit_code, rater_tier,
    rater_code; `rules` is the int_rules alias; severity is the rules column q_<code>_severity. -#}
{% macro rater_finding_fields(code, type, rel, metric, value, threshold, n, explanation, rules='rules') -%}
    {{ finding_fields(
        "'" ~ code ~ "'", "'" ~ type ~ "'", rules ~ '.q_' ~ code | lower ~ '_severity',
        rel ~ '.quarter', rel ~ '.quarter', rel ~ '.rules_year', rel ~ '.unit_code',
        rater_tier=rel ~ '.rater_tier', rater_code=rel ~ '.rater_code',
        metric="'" ~ metric ~ "'", value=value, threshold=threshold, n=n, explanation=explanation,
        rules_version=rules ~ '.rules_version'
    ) }}
{%- endmacro %}

{#- finding_fields() for a finding on a rater pair (A6, A7): `rel` has quarter, rules_year, unit_code and the
    pair rater_tier, rater_code, rater_tier_2, rater_code_2. -#}
{% macro pair_finding_fields(code, type, rel, metric, value, threshold, n, explanation, rules='rules') -%}
    {{ finding_fields(
        "'" ~ code ~ "'", "'" ~ type ~ "'", rules ~ '.q_' ~ code | lower ~ '_severity',
        rel ~ '.quarter', rel ~ '.quarter', rel ~ '.rules_year', rel ~ '.unit_code',
        rater_tier=rel ~ '.rater_tier', rater_code=rel ~ '.rater_code',
        rater_tier_2=rel ~ '.rater_tier_2', rater_code_2=rel ~ '.rater_code_2',
        metric="'" ~ metric ~ "'", value=value, threshold=threshold, n=n, explanation=explanation,
        rules_version=rules ~ '.rules_version'
    ) }}
{%- endmacro %}
