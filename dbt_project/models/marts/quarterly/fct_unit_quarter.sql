-- One row per registry unit and quarter: submission status and timeliness, and the unit-level counts
-- behind every per-county compliance metric of rules.md §6 (tasks assigned, participants with an
-- indicator and with every required rater tier, the 好 quota and the proposed grades, high findings).
-- A unit that submitted nothing has zero counts and status missing.
with units as (
    select * from {{ ref('stg_units') }}
),

unit_status as (
    select * from {{ ref('stg_unit_status') }}
    where {{ in_selected_quarter() }}
),

unit_info as (
    select * from {{ ref('stg_unit_info') }}
    where {{ in_selected_quarter() }}
),

persons as (
    select * from {{ ref('fct_person_quarter') }}
    where {{ in_selected_quarter() }}
),

tasks as (
    select * from {{ ref('fct_task_quarter') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

findings as (
    select * from {{ findings_relation() }} as f
    where {{ in_selected_quarter() }}
),

quarters as (
    select quarter from unit_status
    union
    select quarter from unit_info
),

person_counts as (
    select
        quarter,
        unit_code,
        count(*) as n_persons,
        count(case when is_participant then 1 end) as n_participants,
        count(case when is_participant and has_indicator then 1 end) as n_participants_with_indicator,
        count(case when is_participant and meets_required_tiers then 1 end) as n_participants_meeting_tiers,
        count(case when is_scored then 1 end) as n_scored,
        count(case when is_participant and not is_scored then 1 end) as n_unrated,
        count(case when computed_grade = '好' then 1 end) as n_computed_good,
        count(case when is_participant and proposed_grade is not null then 1 end) as n_proposals,
        count(case when is_participant and proposed_grade = '好' then 1 end) as n_proposed_good,
        count(case when is_grade_agreed then 1 end) as n_grade_agreements,
        max(unit_median_planned_points) as unit_median_planned_points
    from persons
    group by quarter, unit_code
),

task_counts as (
    select
        quarter,
        unit_code,
        count(*) as n_tasks,
        count(case when is_assigned then 1 end) as n_tasks_assigned
    from tasks
    group by quarter, unit_code
),

finding_counts as (
    select
        findings.quarter,
        findings.unit_code,
        count(*) as n_high_findings
    from findings
    inner join rules
        on
            {{ quarter_year('findings.quarter') }} = rules.rules_year
            and findings.severity = rules.anomaly_severity
    group by findings.quarter, findings.unit_code
),

unit_quarters as (
    select
        quarters.quarter,
        {{ quarter_year('quarters.quarter') }} as rules_year,
        units.unit_code,
        units.county_code,
        units.unit_level,
        units.base_method
    from quarters
    cross join units
),

final as (
    select
        unit_quarters.quarter,
        unit_quarters.rules_year,
        unit_quarters.unit_code,
        unit_quarters.county_code,
        unit_quarters.unit_level,
        unit_quarters.base_method,
        coalesce(unit_status.submission_status, 'missing') as submission_status,
        unit_status.current_submission_id,
        unit_status.first_accepted_at,
        unit_status.deadline_at,
        coalesce(unit_status.files_seen, 0) as files_seen,
        unit_status.first_accepted_at is not null as has_accepted_submission,
        coalesce(unit_status.first_accepted_at <= unit_status.deadline_at, false) as is_on_time,
        unit_info.declared_regular_share,
        cast(coalesce(person_counts.n_persons, 0) as integer) as n_persons,
        cast(coalesce(person_counts.n_participants, 0) as integer) as n_participants,
        cast(coalesce(person_counts.n_participants_with_indicator, 0) as integer)
            as n_participants_with_indicator,
        cast(coalesce(person_counts.n_participants_meeting_tiers, 0) as integer)
            as n_participants_meeting_tiers,
        cast(coalesce(person_counts.n_scored, 0) as integer) as n_scored,
        cast(coalesce(person_counts.n_unrated, 0) as integer) as n_unrated,
        person_counts.unit_median_planned_points,
        cast(coalesce(task_counts.n_tasks, 0) as integer) as n_tasks,
        cast(coalesce(task_counts.n_tasks_assigned, 0) as integer) as n_tasks_assigned,
        cast(coalesce(person_counts.n_computed_good, 0) as integer) as n_computed_good,
        cast(
            case
                when unit_info.unit_code is not null
                    then greatest(
                        rules.top_quota_min,
                        {{ quota_floor('rules.top_quota * coalesce(person_counts.n_scored, 0)') }}
                    )
            end as integer
        ) as top_quota_cap,
        cast(coalesce(person_counts.n_proposals, 0) as integer) as n_proposals,
        cast(coalesce(person_counts.n_proposed_good, 0) as integer) as n_proposed_good,
        coalesce(person_counts.n_proposals, 0) > 0 as proposes_grades,
        case
            when coalesce(person_counts.n_proposals, 0) > 0
                then
                    person_counts.n_proposed_good
                    <= greatest(rules.top_quota_min, {{ quota_floor('rules.top_quota * person_counts.n_scored') }})
        end as is_quota_compliant,
        cast(coalesce(person_counts.n_grade_agreements, 0) as integer) as n_grade_agreements,
        cast(coalesce(finding_counts.n_high_findings, 0) as integer) as n_high_findings,
        rules.rules_version,
        rules.rules_fingerprint
    from unit_quarters
    inner join rules
        on unit_quarters.rules_year = rules.rules_year
    left join unit_status
        on
            unit_quarters.quarter = unit_status.quarter
            and unit_quarters.unit_code = unit_status.unit_code
    left join unit_info
        on
            unit_quarters.quarter = unit_info.quarter
            and unit_quarters.unit_code = unit_info.unit_code
    left join person_counts
        on
            unit_quarters.quarter = person_counts.quarter
            and unit_quarters.unit_code = person_counts.unit_code
    left join task_counts
        on
            unit_quarters.quarter = task_counts.quarter
            and unit_quarters.unit_code = task_counts.unit_code
    left join finding_counts
        on
            unit_quarters.quarter = finding_counts.quarter
            and unit_quarters.unit_code = finding_counts.unit_code
)

select * from final
