-- One row per quality finding (quality.md), every type: the quarter-level findings (A1–A8, U2, U3) of
-- fct_rating_findings_quarterly and the unit-year findings U1/U4 (quarter null, period = the year).
-- Findings route cases to human review and never change official scores.
with quarterly as (
    select * from {{ ref('fct_rating_findings_quarterly') }}
),

yearly as (
    select * from {{ ref('int_findings_unit_year') }}
),

units as (
    select * from {{ ref('stg_units') }}
),

yearly_final as (
    select
        md5(concat_ws('|', yearly.code, yearly.period, yearly.unit_code, '', '', '', '', '')) as finding_id,
        yearly.code,
        yearly.type,
        yearly.severity,
        yearly.period,
        yearly.quarter,
        yearly.year,
        yearly.unit_code,
        units.county_code,
        yearly.rater_tier,
        yearly.rater_code,
        yearly.rater_tier_2,
        yearly.rater_code_2,
        yearly.ratee_code,
        yearly.metric,
        yearly.value,
        yearly.threshold,
        yearly.n,
        yearly.explanation_zh,
        yearly.rules_version,
        yearly.confidence
    from yearly
    left join units
        on yearly.unit_code = units.unit_code
)

select * from quarterly
union all
select * from yearly_final
