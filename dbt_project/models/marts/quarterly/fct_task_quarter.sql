-- One row per task of a unit's current submission and quarter (rules.md §1, 一个表格盘点任务量): weight,
-- completion factor, planned and earned points, and whether anyone carries it.
with task_weights as (
    select * from {{ ref('int_task_weights') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

final as (
    select
        task_weights.quarter,
        task_weights.rules_year,
        task_weights.unit_code,
        task_weights.task_code,
        task_weights.task_source,
        task_weights.intensity,
        task_weights.difficulty,
        task_weights.quantity,
        task_weights.task_status,
        task_weights.task_weight,
        task_weights.completion_factor,
        task_weights.task_weight * task_weights.completion_factor as earned_weight,
        task_weights.n_leads,
        task_weights.n_assists,
        task_weights.is_assigned,
        rules.rules_version,
        rules.rules_fingerprint
    from task_weights
    inner join rules
        on task_weights.rules_year = rules.rules_year
)

select * from final
