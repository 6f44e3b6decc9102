-- One row per rules year and task status (完成情况): the completion factor, earned = planned × factor.
with parameters as (
    select * from {{ ref('stg_rules_parameters') }}
),

final as (
    select
        rules_year,
        parameter_member as task_status,
        value_number as completion_factor
    from parameters
    where parameter_scope = 'task_volume.completion'
)

select * from final
