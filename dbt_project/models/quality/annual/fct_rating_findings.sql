-- One row per quality finding (quality.md), every type: the quarter-level findings (A1–A8, U2, U3) of
-- fct_rating_findings_quarterly (less the U2 quarters of a unit found as U1 that year) and the unit-year
-- findings U1/U4 (quarter null, period = the year).
-- Findings route cases to human review and never change official scores.
with quarterly_all as (
    select * from {{ ref('fct_rating_findings_quarterly') }}
),

yearly as (
    select * from {{ ref('int_findings_unit_year') }}
),

-- One unit, one finding: a unit found rotating its grades over the year (U1) has quarters whose ratings
-- the rotation takes off the work; their U2 is evidence of that U1, not a second case. (The quarter's own
-- table keeps them: it is built before the year is complete.)
quarterly as (
    select quarterly_all.*
    from quarterly_all
    where not (
        quarterly_all.code = 'U2'
        and exists (
            select 1
            from yearly
            where
                yearly.code = 'U1'
                and yearly.unit_code = quarterly_all.unit_code
                and yearly.year = quarterly_all.year
        )
    )
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

-- the columns by name in both branches: a union matches them by position
select
    quarterly.finding_id,
    quarterly.code,
    quarterly.type,
    quarterly.severity,
    quarterly.period,
    quarterly.quarter,
    quarterly.year,
    quarterly.unit_code,
    quarterly.county_code,
    quarterly.rater_tier,
    quarterly.rater_code,
    quarterly.rater_tier_2,
    quarterly.rater_code_2,
    quarterly.ratee_code,
    quarterly.metric,
    quarterly.value,
    quarterly.threshold,
    quarterly.n,
    quarterly.explanation_zh,
    quarterly.rules_version,
    quarterly.confidence
from quarterly
union all
select
    yearly_final.finding_id,
    yearly_final.code,
    yearly_final.type,
    yearly_final.severity,
    yearly_final.period,
    yearly_final.quarter,
    yearly_final.year,
    yearly_final.unit_code,
    yearly_final.county_code,
    yearly_final.rater_tier,
    yearly_final.rater_code,
    yearly_final.rater_tier_2,
    yearly_final.rater_code_2,
    yearly_final.ratee_code,
    yearly_final.metric,
    yearly_final.value,
    yearly_final.threshold,
    yearly_final.n,
    yearly_final.explanation_zh,
    yearly_final.rules_version,
    yearly_final.confidence
from yearly_final
