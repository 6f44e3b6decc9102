-- One row per task and assigned person (rules.md §1): the lead takes lead_share (0.6) and the
-- assistants split assist_share (0.4) equally; a lead alone takes 1.0; assistants without a lead split
-- 1.0. planned = weight × share, earned = planned × completion factor. A person listed twice in one
-- role counts once; a person both lead and assistant of a task gets both shares.
with assignments as (
    select distinct
        quarter,
        unit_code,
        task_code,
        person_code,
        assignment_role
    from {{ ref('stg_task_assignments') }}
    where {{ in_selected_quarter() }}
),

task_weights as (
    select * from {{ ref('int_task_weights') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

role_shares as (
    select
        assignments.quarter,
        assignments.unit_code,
        assignments.task_code,
        assignments.person_code,
        task_weights.task_weight,
        task_weights.completion_factor,
        case
            when assignments.assignment_role = 'lead' and task_weights.n_assists > 0 then rules.lead_share
            when assignments.assignment_role = 'lead' then 1.0
            when task_weights.n_leads > 0 then rules.assist_share / task_weights.n_assists
            else 1.0 / task_weights.n_assists
        end as role_share
    from assignments
    inner join task_weights
        on
            assignments.quarter = task_weights.quarter
            and assignments.unit_code = task_weights.unit_code
            and assignments.task_code = task_weights.task_code
    inner join rules
        on task_weights.rules_year = rules.rules_year
),

final as (
    select
        quarter,
        unit_code,
        task_code,
        person_code,
        cast(sum(role_share) as double) as task_share,
        cast(sum(task_weight * role_share) as double) as planned_points,
        cast(sum(task_weight * role_share * completion_factor) as double) as earned_points
    from role_shares
    group by quarter, unit_code, task_code, person_code
)

select * from final
