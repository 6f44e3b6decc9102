with source as (
    select * from {{ source('raw', 'sections') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(section as varchar) as section,
        cast(section_coefficient as double) as section_coefficient,
        cast(leader_code as varchar) as leader_code
    from source
)

select * from renamed
