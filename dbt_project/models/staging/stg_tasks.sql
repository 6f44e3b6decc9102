with source as (
    select * from {{ source('raw', 'tasks') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(task_code as varchar) as task_code,
        cast(task_name as varchar) as task_name,
        cast(task_source as varchar) as task_source,
        cast(target as varchar) as task_target,
        cast(deadline as date) as task_deadline,
        cast(lead_code as varchar) as lead_code,
        cast(intensity as integer) as intensity,
        cast(difficulty as integer) as difficulty,
        cast(quantity as double) as quantity,
        cast(status as varchar) as task_status
    from source
)

select * from renamed
