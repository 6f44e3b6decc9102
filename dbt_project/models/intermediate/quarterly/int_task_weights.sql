-- One row per task (rules.md §1): weight(t) = n × (1 + 0.25·(i − 1)) × (1 + 0.25·(d − 1)) with the year's
-- steps, its completion factor, and who carries it. A task with neither lead nor assistant is unassigned.
with tasks as (
    select * from {{ ref('stg_tasks') }}
    where {{ in_selected_quarter() }}
),

assignments as (
    select distinct
        quarter,
        unit_code,
        task_code,
        person_code,
        assignment_role
    from {{ ref('stg_task_assignments') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

completion as (
    select * from {{ ref('int_rules_completion') }}
),

assignment_counts as (
    select
        quarter,
        unit_code,
        task_code,
        count(case when assignment_role = 'lead' then 1 end) as n_leads,
        count(case when assignment_role = 'assist' then 1 end) as n_assists
    from assignments
    group by quarter, unit_code, task_code
),

final as (
    select
        tasks.quarter,
        {{ quarter_year('tasks.quarter') }} as rules_year,
        tasks.unit_code,
        tasks.task_code,
        tasks.task_source,
        tasks.intensity,
        tasks.difficulty,
        tasks.quantity,
        tasks.task_status,
        tasks.quantity
        * (1 + rules.intensity_step * (tasks.intensity - 1))
        * (1 + rules.difficulty_step * (tasks.difficulty - 1)) as task_weight,
        completion.completion_factor,
        cast(coalesce(assignment_counts.n_leads, 0) as integer) as n_leads,
        cast(coalesce(assignment_counts.n_assists, 0) as integer) as n_assists,
        coalesce(assignment_counts.n_leads, 0) + coalesce(assignment_counts.n_assists, 0) > 0 as is_assigned
    from tasks
    inner join rules
        on {{ quarter_year('tasks.quarter') }} = rules.rules_year
    left join completion
        on
            rules.rules_year = completion.rules_year
            and tasks.task_status = completion.task_status
    left join assignment_counts
        on
            tasks.quarter = assignment_counts.quarter
            and tasks.unit_code = assignment_counts.unit_code
            and tasks.task_code = assignment_counts.task_code
)

select * from final
