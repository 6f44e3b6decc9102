{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_selected_quarters() }}",
) }}
-- One row per quarter-level quality finding (A1–A8, U2, U3; quality.md), incremental by quarter. The
-- year-level findings U1/U4 are in fct_rating_findings, which unions both grains. Feeds anomaly_rate
-- (fct_unit_quarter → fct_county_compliance) through the macro findings_relation().
with findings as (
    select * from {{ ref('int_findings_rating_rows') }}
    union all
    select * from {{ ref('int_findings_raters') }}
    union all
    select * from {{ ref('int_findings_leniency') }}
    union all
    select * from {{ ref('int_findings_pairs') }}
    union all
    select * from {{ ref('int_findings_units') }}
),

selected as (
    select * from findings
    where {{ in_selected_quarter() }}
),

units as (
    select * from {{ ref('stg_units') }}
),

final as (
    select
        md5(concat_ws(
            '|', selected.code, selected.period, selected.unit_code, coalesce(selected.rater_tier, ''),
            coalesce(selected.rater_code, ''), coalesce(selected.rater_tier_2, ''),
            coalesce(selected.rater_code_2, ''), coalesce(selected.ratee_code, '')
        )) as finding_id,
        selected.code,
        selected.type,
        selected.severity,
        selected.period,
        selected.quarter,
        selected.year,
        selected.unit_code,
        units.county_code,
        selected.rater_tier,
        selected.rater_code,
        selected.rater_tier_2,
        selected.rater_code_2,
        selected.ratee_code,
        selected.metric,
        selected.value,
        selected.threshold,
        selected.n,
        selected.explanation_zh,
        selected.rules_version,
        selected.confidence
    from selected
    left join units
        on selected.unit_code = units.unit_code
)

select * from final
