-- One row per participant (rules.md §1): task volume T = Σ planned, earned E = Σ earned, completion rate
-- C = E/T (0 when T = 0), relative workload V = T / median(T) over the unit's participants with T > 0
-- and V_s the same over the person's section (0 when there is no such participant).
with persons as (
    select * from {{ ref('int_quarter_persons') }}
    where {{ in_selected_quarter() }} and is_participant
),

shares as (
    select * from {{ ref('int_task_shares') }}
    where {{ in_selected_quarter() }}
),

person_totals as (
    select
        quarter,
        unit_code,
        person_code,
        count(*) as n_tasks,
        sum(planned_points) as planned_points,
        sum(earned_points) as earned_points
    from shares
    group by quarter, unit_code, person_code
),

volumes as (
    select
        persons.quarter,
        persons.rules_year,
        persons.unit_code,
        persons.person_code,
        persons.section,
        persons.post_category,
        persons.base_method,
        persons.section_coefficient,
        coalesce(person_totals.n_tasks, 0) as n_tasks,
        coalesce(person_totals.planned_points, 0) as planned_points,
        coalesce(person_totals.earned_points, 0) as earned_points
    from persons
    left join person_totals
        on
            persons.quarter = person_totals.quarter
            and persons.unit_code = person_totals.unit_code
            and persons.person_code = person_totals.person_code
),

unit_medians as (
    select
        quarter,
        unit_code,
        {{ median('planned_points') }} as median_planned_points
    from volumes
    where planned_points > 0
    group by quarter, unit_code
),

section_medians as (
    select
        quarter,
        unit_code,
        section,
        {{ median('planned_points') }} as median_planned_points
    from volumes
    where planned_points > 0
    group by quarter, unit_code, section
),

final as (
    select
        volumes.quarter,
        volumes.rules_year,
        volumes.unit_code,
        volumes.person_code,
        volumes.section,
        volumes.post_category,
        volumes.base_method,
        volumes.section_coefficient,
        cast(volumes.n_tasks as integer) as n_tasks,
        cast(volumes.planned_points as double) as planned_points,
        cast(volumes.earned_points as double) as earned_points,
        volumes.planned_points > 0 as has_indicator,
        case
            when volumes.planned_points > 0 then volumes.earned_points / volumes.planned_points else 0.0
        end as completion_rate,
        cast(unit_medians.median_planned_points as double) as unit_median_planned_points,
        cast(section_medians.median_planned_points as double) as section_median_planned_points,
        coalesce(volumes.planned_points / unit_medians.median_planned_points, 0.0) as relative_workload,
        coalesce(volumes.planned_points / section_medians.median_planned_points, 0.0)
            as section_relative_workload
    from volumes
    left join unit_medians
        on
            volumes.quarter = unit_medians.quarter
            and volumes.unit_code = unit_medians.unit_code
    left join section_medians
        on
            volumes.quarter = section_medians.quarter
            and volumes.unit_code = section_medians.unit_code
            and volumes.section = section_medians.section
)

select * from final
