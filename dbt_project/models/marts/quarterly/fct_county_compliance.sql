-- One row per county (and the municipal group 市直) and quarter: every metric of rules.md §6, the
-- compliance index and the rank among the city's counties. Per-unit rates divide by the registry's
-- units, so a unit that submitted nothing counts as zero. A metric whose denominator is zero is null
-- and left out of the index, whose remaining weights are renormalised.
with unit_quarters as (
    select * from {{ ref('fct_unit_quarter') }}
    where {{ in_selected_quarter() }}
),

units as (
    select * from {{ ref('stg_units') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

-- County attributes straight from the registry view (as dim_county), so this quarter-partitioned model
-- depends on nothing unpartitioned.
counties as (
    select
        county_code,
        max(county_name) as county_name,
        max(substring(county_code, 1, 4) || '00') as city_code,
        max(case when county_name = '市直' then 1 else 0 end) = 1 as is_municipal
    from units
    group by county_code
),

county_counts as (
    select
        quarter,
        rules_year,
        county_code,
        count(*) as n_units,
        count(case when has_accepted_submission then 1 end) as n_units_submitted,
        count(case when is_on_time then 1 end) as n_units_on_time,
        sum(n_tasks) as n_tasks,
        sum(n_tasks_assigned) as n_tasks_assigned,
        sum(n_participants) as n_participants,
        sum(n_participants_with_indicator) as n_participants_with_indicator,
        sum(n_participants_meeting_tiers) as n_participants_meeting_tiers,
        count(case when proposes_grades then 1 end) as n_units_proposing,
        count(case when is_quota_compliant then 1 end) as n_units_quota_compliant,
        sum(n_proposals) as n_proposals,
        sum(n_grade_agreements) as n_grade_agreements,
        sum(n_high_findings) as n_high_findings
    from unit_quarters
    group by quarter, rules_year, county_code
),

rates as (
    select
        county_counts.*,
        {{ safe_ratio('n_units_submitted', 'n_units') }} as submission_rate,
        {{ safe_ratio('n_units_on_time', 'n_units') }} as on_time_rate,
        {{ safe_ratio('n_tasks_assigned', 'n_tasks') }} as task_assignment_rate,
        {{ safe_ratio('n_participants_with_indicator', 'n_participants') }} as staff_coverage_rate,
        {{ safe_ratio('n_participants_meeting_tiers', 'n_participants') }} as rating_coverage_rate,
        {{ safe_ratio('n_units_quota_compliant', 'n_units_proposing') }} as quota_compliance_rate,
        {{ safe_ratio('n_grade_agreements', 'n_proposals') }} as grade_agreement_rate,
        100 * {{ safe_ratio('n_high_findings', 'n_participants') }} as anomaly_rate
    from county_counts
),

indexed as (
    select
        rates.*,
        -- least() skips nulls on some engines: keep a missing anomaly_rate missing.
        case
            when rates.anomaly_rate is not null then 1 - least(1.0, rates.anomaly_rate / rules.anomaly_rate_scale)
        end as anomaly_term,
        rules.weight_on_time_rate,
        rules.weight_staff_coverage_rate,
        rules.weight_rating_coverage_rate,
        rules.weight_quota_compliance_rate,
        rules.weight_grade_agreement_rate,
        rules.weight_anomaly_rate,
        rules.rules_version,
        rules.rules_fingerprint
    from rates
    inner join rules
        on rates.rules_year = rules.rules_year
),

-- 100 × Σ weight·metric / Σ weight over the metrics that are present (non-null).
scored as (
    select
        *,
        100 * (
            coalesce(weight_on_time_rate * on_time_rate, 0)
            + coalesce(weight_staff_coverage_rate * staff_coverage_rate, 0)
            + coalesce(weight_rating_coverage_rate * rating_coverage_rate, 0)
            + coalesce(weight_quota_compliance_rate * quota_compliance_rate, 0)
            + coalesce(weight_grade_agreement_rate * grade_agreement_rate, 0)
            + coalesce(weight_anomaly_rate * anomaly_term, 0)
        ) / nullif(
            case when on_time_rate is not null then weight_on_time_rate else 0 end
            + case when staff_coverage_rate is not null then weight_staff_coverage_rate else 0 end
            + case when rating_coverage_rate is not null then weight_rating_coverage_rate else 0 end
            + case when quota_compliance_rate is not null then weight_quota_compliance_rate else 0 end
            + case when grade_agreement_rate is not null then weight_grade_agreement_rate else 0 end
            + case when anomaly_term is not null then weight_anomaly_rate else 0 end,
            0
        ) as compliance_index
    from indexed
),

final as (
    select
        scored.quarter,
        scored.rules_year,
        scored.county_code,
        counties.county_name,
        counties.city_code,
        counties.is_municipal,
        cast(scored.n_units as integer) as n_units,
        cast(scored.n_units_submitted as integer) as n_units_submitted,
        cast(scored.n_units_on_time as integer) as n_units_on_time,
        cast(scored.n_tasks as integer) as n_tasks,
        cast(scored.n_tasks_assigned as integer) as n_tasks_assigned,
        cast(scored.n_participants as integer) as n_participants,
        cast(scored.n_participants_with_indicator as integer) as n_participants_with_indicator,
        cast(scored.n_participants_meeting_tiers as integer) as n_participants_meeting_tiers,
        cast(scored.n_units_proposing as integer) as n_units_proposing,
        cast(scored.n_units_quota_compliant as integer) as n_units_quota_compliant,
        cast(scored.n_proposals as integer) as n_proposals,
        cast(scored.n_grade_agreements as integer) as n_grade_agreements,
        cast(scored.n_high_findings as integer) as n_high_findings,
        scored.submission_rate,
        scored.on_time_rate,
        scored.task_assignment_rate,
        scored.staff_coverage_rate,
        scored.rating_coverage_rate,
        scored.quota_compliance_rate,
        scored.grade_agreement_rate,
        scored.anomaly_rate,
        scored.anomaly_term,
        scored.compliance_index,
        cast(
            case
                when not counties.is_municipal and scored.compliance_index is not null
                    then rank() over (
                        partition by
                            scored.quarter,
                            counties.city_code,
                            counties.is_municipal,
                            scored.compliance_index is null
                        order by {{ comparable('scored.compliance_index') }} desc
                    )
            end as integer
        ) as county_rank,
        scored.rules_version,
        scored.rules_fingerprint
    from scored
    inner join counties
        on scored.county_code = counties.county_code
)

select * from final
