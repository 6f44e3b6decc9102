with source as (
    select * from {{ source('raw', 'unit_status') }}
),

renamed as (
    select
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(status as varchar) as submission_status,
        cast(current_submission_id as varchar) as current_submission_id,
        cast(first_accepted_at as timestamp with time zone) as first_accepted_at,
        cast(deadline as timestamp with time zone) as deadline_at,
        cast(files_seen as bigint) as files_seen
    from source
)

select * from renamed
