with source as (
    select * from {{ source('raw', 'task_assignments') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(task_code as varchar) as task_code,
        cast(person_code as varchar) as person_code,
        cast(role as varchar) as assignment_role
    from source
)

select * from renamed
